#include "store/lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/testing/test_store.h"

namespace kiln::store {
namespace {

class LockTest : public testing::StoreTest {
 protected:
  std::string Path() { return JoinPath(dir_->path(), "a.lock"); }
};

TEST_F(LockTest, ExclusiveConflictsWithinOneProcess) {
  auto a = FileLock::Acquire(Path(), LockMode::kExclusive);
  ASSERT_TRUE(a) << a.error().Render();
  auto b = FileLock::Acquire(Path(), LockMode::kExclusive, LockWait::kTry);
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(b.error().message(), Path() + " is locked by another kiln process");
  auto c = FileLock::Acquire(Path(), LockMode::kShared, LockWait::kTry);
  EXPECT_FALSE(c);
  *a = FileLock();
  auto d = FileLock::Acquire(Path(), LockMode::kExclusive, LockWait::kTry);
  EXPECT_TRUE(d);
}

TEST_F(LockTest, SharedLocksCoexistAndExcludeExclusive) {
  auto a = FileLock::Acquire(Path(), LockMode::kShared);
  auto b = FileLock::Acquire(Path(), LockMode::kShared, LockWait::kTry);
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_FALSE(FileLock::Acquire(Path(), LockMode::kExclusive, LockWait::kTry));
  *b = FileLock();
  EXPECT_FALSE(FileLock::Acquire(Path(), LockMode::kExclusive, LockWait::kTry));
  ASSERT_TRUE(a->Convert(LockMode::kExclusive));
  EXPECT_FALSE(FileLock::Acquire(Path(), LockMode::kShared, LockWait::kTry));
  ASSERT_TRUE(a->Convert(LockMode::kShared));
  EXPECT_TRUE(FileLock::Acquire(Path(), LockMode::kShared, LockWait::kTry));
}

TEST_F(LockTest, LockKeyBlocksOtherThreadUntilReleased) {
  auto held = store_->LockKey("snapshot/abc");
  ASSERT_TRUE(held) << held.error().Render();
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto l = store_->LockKey("snapshot/abc");
    EXPECT_TRUE(l);
    got = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(got.load());
  // A different key is independent.
  EXPECT_TRUE(store_->LockKey("snapshot/other"));
  *held = FileLock();
  t.join();
  EXPECT_TRUE(got.load());
}

TEST_F(LockTest, LockKeyExcludesOtherProcessAndDiesWithHolder) {
  store_.reset();  // SQLite connections must not cross fork()
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = Store::Open(root_);
    if (!s) ::_exit(2);
    auto l = (*s)->LockKey("build/x");
    if (!l) ::_exit(3);
    char c = 'x';
    (void)::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  std::string path = JoinPath(root_, "locks/keys/" + Digest::Of("build/x").hex());
  EXPECT_FALSE(FileLock::Acquire(path, LockMode::kExclusive, LockWait::kTry));
  ::kill(pid, SIGKILL);
  int status;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  store_ = OpenStore();
  auto l = store_->LockKey("build/x");
  EXPECT_TRUE(l);
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_F(LockTest, ConvertOfUnheldLockIsInvalid) {
  FileLock none;
  auto r = none.Convert(LockMode::kExclusive);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "convert of a lock that is not held");
}

}  // namespace
}  // namespace kiln::store
