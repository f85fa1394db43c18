// kill -9 at random points: a child process writes blobs, images, tags,
// snapshots and cache entries in a loop (and prunes now and then); the
// parent SIGKILLs it, reopens the store, and checks that it is consistent
// with no manual repair.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "store/store.h"
#include "store/store_internal.h"
#include "store/testing/test_store.h"

namespace kiln::store {
namespace {

using ::testing::IsEmpty;

constexpr int kFilesPerSnapshot = 20;

std::string SnapshotFile(const std::string& id, int k) { return fmt::format("{}/{}\n", id, k); }

// The child's endless workload. Returns only on error.
[[noreturn]] void Workload(const std::string& root, int round) {
  for (int i = 0;; ++i) {
    auto opened = Store::Open(root);
    if (!opened) ::_exit(10);
    Store& s = **opened;
    for (int j = 0; j < 5; ++j, ++i) {
      std::string config = fmt::format("config {} {}\n", round, i);
      config.append(static_cast<size_t>(32768 + i * 100), static_cast<char>('a' + i % 26));
      auto cd = s.blobs().Put(config);
      auto md = s.blobs().Put(fmt::format("manifest {} {}", round, i));
      if (!cd || !md) ::_exit(11);
      // A snapshot whose every file must be present once it is ready.
      std::string id = fmt::format("snap {} {}", round, i);
      auto st = s.PrepareSnapshot(Digest::Of(id), std::nullopt);
      if (!st) ::_exit(12);
      if (!WriteFile(JoinPath(st->path, "id"), id)) ::_exit(13);
      for (int k = 0; k < kFilesPerSnapshot; ++k)
        if (!WriteFile(JoinPath(st->path, fmt::format("f{}", k)), SnapshotFile(id, k))) ::_exit(13);
      auto work = s.CreateWorkDir();
      if (!work || !WriteFile(JoinPath(*work, "upper"), "x")) ::_exit(14);
      if (!s.CommitSnapshot(*st)) ::_exit(15);
      if (!s.PutImage({*md, *cd, "m", i, 0, {}},
                      {{RefKind::kBlob, *cd}, {RefKind::kSnapshot, Digest::Of(id)}}))
        ::_exit(16);
      if (!s.SetTag(fmt::format("img:{}-{}", round, i % 7), *md)) ::_exit(17);
      if (!s.PutCacheEntry(fmt::format("key {} {}", round, i), "{}",
                           {{RefKind::kSnapshot, Digest::Of(id)}}))
        ::_exit(18);
      if (!s.AddLease("session-lease", LeaseLifetime::kSession, {{RefKind::kBlob, *cd}})) ::_exit(19);
    }
    if (i % 15 == 0 && !s.Prune()) ::_exit(20);
  }
}

class CrashTest : public testing::StoreTest {};

TEST_F(CrashTest, KillNineAtRandomPointsLeavesUsableStore) {
  store_.reset();
  std::mt19937 rng(20261127);
  std::uniform_int_distribution<int> delay_ms(5, 300);
  for (int round = 0; round < 10; ++round) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) Workload(root_, round);
    int delay = delay_ms(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round << ": child exited with "
                                     << WEXITSTATUS(status);

    // Reopen: recovery runs, and then everything must be consistent.
    store_ = OpenStore();
    ASSERT_TRUE(store_) << "round " << round;
    std::string me = store_->TEST_session();
    auto check = store_->Check(CheckMode::kReport);
    ASSERT_TRUE(check) << check.error().Render();
    EXPECT_THAT(check->problems, IsEmpty()) << "round " << round << " delay " << delay;
    for (const char* area : {"tmp", "work"}) {
      auto names = ListDirectoryIfExists(JoinPath(root_, area));
      ASSERT_TRUE(names);
      EXPECT_EQ(*names, std::vector<std::string>{me}) << area << " round " << round;
    }
    auto locks = ListDirectoryIfExists(JoinPath(root_, "locks/sessions"));
    ASSERT_TRUE(locks);
    EXPECT_EQ(*locks, std::vector<std::string>{me + ".lock"});
    // Every ready snapshot is complete.
    auto snaps = store_->ListSnapshots();
    ASSERT_TRUE(snaps);
    for (const auto& snap : *snaps) {
      auto id = ReadFile(JoinPath(snap.path, "id"));
      ASSERT_TRUE(id) << id.error().Render();
      EXPECT_EQ(Digest::Of(*id), snap.chain_id);
      for (int k = 0; k < kFilesPerSnapshot; ++k) {
        auto f = ReadFile(JoinPath(snap.path, fmt::format("f{}", k)));
        ASSERT_TRUE(f) << f.error().Render();
        EXPECT_EQ(*f, SnapshotFile(*id, k));
      }
    }
    // Every tag leads to an image whose blobs are whole.
    auto tags = store_->ListTags();
    ASSERT_TRUE(tags);
    for (const auto& [name, manifest] : *tags) {
      auto img = store_->GetImage(manifest);
      ASSERT_TRUE(img) << name;
      EXPECT_TRUE(store_->blobs().Verify(img->config)) << name;
      EXPECT_TRUE(store_->blobs().Verify(img->manifest)) << name;
    }
    // No preparing records survive their session.
    auto du = store_->GetDiskUsage();
    ASSERT_TRUE(du);
    EXPECT_EQ(du->snapshots.count, static_cast<int64_t>(snaps->size()));
    store_.reset();
  }
  // And GC still works on whatever the rounds left.
  store_ = OpenStore();
  PruneOptions all;
  all.images = PruneImages::kAll;
  auto r = store_->Prune(all);
  ASSERT_TRUE(r) << r.error().Render();
  auto blobs = ListDirectoryIfExists(JoinPath(root_, "blobs/sha256"));
  ASSERT_TRUE(blobs);
  EXPECT_THAT(*blobs, IsEmpty());
  auto snaps = ListDirectoryIfExists(JoinPath(root_, "snapshots"));
  ASSERT_TRUE(snaps);
  EXPECT_THAT(*snaps, IsEmpty());
}

}  // namespace
}  // namespace kiln::store
