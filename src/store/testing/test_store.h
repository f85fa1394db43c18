#pragma once

// Helpers for the store's tests: a temp root and a Store on it with a fake
// clock.

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "base/fs.h"
#include "store/store.h"

namespace kiln::store::testing {

// A settable clock shared by the Stores a test opens.
struct FakeClock {
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1700000000);
  std::function<int64_t()> fn() const {
    auto n = now;
    return [n] { return n->load(); };
  }
};

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("kiln-store-test");
    ASSERT_TRUE(dir) << dir.error().Render();
    dir_ = std::make_unique<TempDir>(std::move(*dir));
    root_ = JoinPath(dir_->path(), "root");
    store_ = OpenStore();
  }

  std::unique_ptr<Store> OpenStore(FileOps* ops = nullptr) {
    StoreOptions opts;
    opts.clock = clock_.fn();
    opts.file_ops = ops;
    auto s = Store::Open(root_, std::move(opts));
    EXPECT_TRUE(s) << s.error().Render();
    return s ? std::move(*s) : nullptr;
  }

  Digest PutBlob(std::string_view data) {
    auto d = store_->blobs().Put(data);
    EXPECT_TRUE(d) << d.error().Render();
    return d ? *d : Digest();
  }

  std::unique_ptr<TempDir> dir_;
  std::string root_;
  FakeClock clock_;
  std::unique_ptr<Store> store_;
};

}  // namespace kiln::store::testing
