#include "sys/mounts.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/process.h"

namespace kiln::sys {
namespace {

TEST(MountInfoTest, ParsesAndUnescapes) {
  auto m = ParseMountInfo(
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "41 31 0:38 / /tmp/a\\040b rw shared:1 master:2 - tmpfs my\\134src rw\n");
  ASSERT_TRUE(m) << m.error().Render();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0], (MountInfo{22, 27, "/", "/proc", "proc", "proc", "rw,relatime", ""}));
  EXPECT_EQ((*m)[1], (MountInfo{41, 31, "/", "/tmp/a b", "tmpfs", "my\\src", "rw",
                                "shared:1 master:2"}));
}

TEST(MountInfoTest, MalformedLineIsSyntaxError) {
  auto m = ParseMountInfo("22 27 0:21 / /proc rw\n");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().code(), ErrorCode::kSyntax);
  EXPECT_EQ(m.error().message(), "mountinfo:1: malformed line \"22 27 0:21 / /proc rw\"");
}

class MountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("kiln-mount-test");
    ASSERT_TRUE(t);
    dir_.emplace(std::move(*t));
  }
  void TearDown() override { (void)UnmountAllUnder(dir_->path()); }
  std::string P(std::string_view s) { return JoinPath(dir_->path(), s); }
  std::optional<TempDir> dir_;
};

TEST_F(MountTest, TmpfsAndUnmountAllUnder) {
  ASSERT_TRUE(MakeDirs(P("a/b")));
  ASSERT_TRUE(MountTmpfs(P("a"), "size=1m,mode=0700"));
  ASSERT_TRUE(MakeDirs(P("a/b")));
  ASSERT_TRUE(MountTmpfs(P("a/b"), "size=1m"));
  auto under = MountsUnder(dir_->path());
  ASSERT_TRUE(under);
  EXPECT_EQ(*under, (std::vector<std::string>{P("a/b"), P("a")}));
  ASSERT_TRUE(UnmountAllUnder(dir_->path()));
  under = MountsUnder(dir_->path());
  ASSERT_TRUE(under);
  EXPECT_TRUE(under->empty());
}

TEST_F(MountTest, OverlayMergesTopMostFirst) {
  for (auto d : {"l1", "l2", "up", "work", "root"}) ASSERT_TRUE(MakeDirs(P(d)));
  ASSERT_TRUE(WriteFile(P("l1/f"), "top"));
  ASSERT_TRUE(WriteFile(P("l2/f"), "bottom"));
  ASSERT_TRUE(WriteFile(P("l2/g"), "g"));
  auto r = MountOverlay({P("l1"), P("l2")}, P("up"), P("work"), P("root"));
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*ReadFile(P("root/f")), "top");
  EXPECT_EQ(*ReadFile(P("root/g")), "g");
  ASSERT_TRUE(WriteFile(P("root/new"), "n"));
  EXPECT_EQ(*ReadFile(P("up/new")), "n");
  ASSERT_TRUE(Unmount(P("root")));
}

TEST_F(MountTest, VolatileOverlayMarkerIsRemovable) {
  for (auto d : {"l1", "up", "work", "root"}) ASSERT_TRUE(MakeDirs(P(d)));
  ASSERT_TRUE(MountOverlay({P("l1")}, P("up"), P("work"), P("root"), OverlaySync::kVolatile));
  ASSERT_TRUE(WriteFile(P("root/f"), "x"));
  ASSERT_TRUE(Unmount(P("root")));
  EXPECT_TRUE(PathExists(P("work/work/incompat/volatile")));
  ASSERT_TRUE(RemoveVolatileMarker(P("work")));
  EXPECT_FALSE(PathExists(P("work/work/incompat")));
  // The work dir is usable again.
  auto again = MountOverlay({P("l1")}, P("up"), P("work"), P("root"), OverlaySync::kVolatile);
  ASSERT_TRUE(again) << again.error().Render();
  EXPECT_EQ(*ReadFile(P("root/f")), "x");
  ASSERT_TRUE(Unmount(P("root")));
}

TEST_F(MountTest, ErrorsNameTarget) {
  auto r = Unmount(P("nothing"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "umount " + P("nothing") + ": No such file or directory");
  auto o = MountOverlay({P("missing")}, P("up"), P("work"), P("root"));
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().message(), "overlay lowerdir " + P("missing") + ": No such file or directory");
  auto none = MountOverlay({}, "", "", P("root"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "overlay on " + P("root") + " needs at least one lower layer");
}

// `dir`'s line in /proc/self/mountinfo (the last, topmost one), or an
// empty MountInfo when it is not a mount point.
MountInfo MountAt(const std::string& dir) {
  MountInfo found;
  auto mounts = ListMounts();
  EXPECT_TRUE(mounts);
  if (!mounts) return found;
  for (const auto& m : *mounts)
    if (m.mount_point == dir) found = m;
  return found;
}

TEST_F(MountTest, TmpfsFlags) {
  ASSERT_TRUE(MakeDirs(P("exec")));
  ASSERT_TRUE(MakeDirs(P("noexec")));
  ASSERT_TRUE(MountTmpfs(P("exec"), "size=1m"));
  ASSERT_TRUE(MountTmpfs(P("noexec"), "size=1m", TmpfsExec::kDeny));
  EXPECT_EQ(MountAt(P("exec")).options, "rw,nosuid,nodev,relatime");
  EXPECT_EQ(MountAt(P("noexec")).options, "rw,nosuid,nodev,noexec,relatime");
  EXPECT_EQ(MountAt(P("noexec")).fstype, "tmpfs");
  EXPECT_EQ(MountAt(P("noexec")).propagation, "");
}

TEST_F(MountTest, TmpfsIsPrivateUnderASharedParent) {
  // systemd makes / shared; a run dir mounted below it must not be, or
  // every step mount below it would propagate into containers.
  ASSERT_TRUE(MakeDirs(P("parent")));
  ASSERT_TRUE(MountTmpfs(P("parent"), "size=1m"));
  ASSERT_TRUE(Mount("", P("parent"), "", MS_SHARED));
  ASSERT_TRUE(StartsWith(MountAt(P("parent")).propagation, "shared:"));
  ASSERT_TRUE(MakeDirs(P("parent/child")));
  ASSERT_TRUE(MountTmpfs(P("parent/child"), "size=1m"));
  EXPECT_EQ(MountAt(P("parent/child")).mount_point, P("parent/child"));
  EXPECT_EQ(MountAt(P("parent/child")).propagation, "");
}

TEST_F(MountTest, OpenOverlayIsADetachedMount) {
  for (auto d : {"l1", "l2", "root"}) ASSERT_TRUE(MakeDirs(P(d)));
  ASSERT_TRUE(WriteFile(P("l1/f"), "top"));
  ASSERT_TRUE(WriteFile(P("l2/f"), "bottom"));
  ASSERT_TRUE(WriteFile(P("l2/g"), "g"));
  auto mnt = OpenOverlay({P("l1"), P("l2")}, "", "");
  if (!mnt && mnt.error().code() == ErrorCode::kUnsupported) GTEST_SKIP() << "kernel before 6.8";
  ASSERT_TRUE(mnt) << mnt.error().Render();
  auto read = [&](const char* name) {
    Fd fd(openat(mnt->get(), name, O_RDONLY | O_CLOEXEC));
    char buf[16] = {};
    return fd.valid() && ::read(fd.get(), buf, sizeof buf - 1) >= 0 ? std::string(buf) : "<error>";
  };
  EXPECT_EQ(read("f"), "top");
  EXPECT_EQ(read("g"), "g");
  // Attached nowhere: no mount namespace (nor a container's copy of one)
  // has it, and nothing has to be unmounted.
  auto mounts = ListMounts();
  ASSERT_TRUE(mounts);
  for (const auto& m : *mounts) EXPECT_FALSE(m.fstype == "overlay" && StartsWith(m.mount_point, dir_->path()));
  auto none = OpenOverlay({}, "", "");
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "an overlay needs at least one lower layer");
}

TEST_F(MountTest, UnmountIsNotBusyWhileOtherThreadsSpawn) {
  // Regression: parallel stages failed about once in 100 builds with
  // "umount .../rootfs: Device or resource busy": a child that another
  // thread was spawning still held its copy of an fd kiln had closed.
  ASSERT_TRUE(MakeDirs(P("m")));
  std::atomic<bool> stop{false};
  auto spawn = [&] {
    auto runner = NewRealProcessRunner();
    while (!stop) (void)runner->Run({{"/bin/true"}});
  };
  std::thread s1(spawn), s2(spawn);
  std::string failure;
  for (int i = 0; i < 200 && failure.empty(); ++i) {
    if (auto m = MountTmpfs(P("m"), "size=1m"); !m) {
      failure = m.error().Render();
      break;
    }
    {
      auto fd = OpenFile(P("m"), O_RDONLY | O_DIRECTORY);
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    if (auto u = Unmount(P("m")); !u) failure = u.error().Render();
  }
  stop = true;
  s1.join();
  s2.join();
  EXPECT_EQ(failure, "");
}

TEST_F(MountTest, RetryThenDetachOutlastsABusyMount) {
  ASSERT_TRUE(MakeDirs(P("busy")));
  ASSERT_TRUE(MountTmpfs(P("busy"), "size=1m"));
  // Busy for 30 ms: unmounted for real once the fd is closed.
  auto fd = OpenFile(P("busy"), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(fd);
  auto busy = Unmount(P("busy"));
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().sys_errno(), EBUSY);
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    fd->Reset();
  });
  ASSERT_TRUE(Unmount(P("busy"), UnmountMode::kRetryThenDetach));
  closer.join();
  EXPECT_EQ(MountAt(P("busy")).mount_point, "");
  // Busy for good: detached lazily, still no error.
  ASSERT_TRUE(MountTmpfs(P("busy"), "size=1m"));
  auto held = OpenFile(P("busy"), O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(held);
  ASSERT_TRUE(Unmount(P("busy"), UnmountMode::kRetryThenDetach));
  EXPECT_EQ(MountAt(P("busy")).mount_point, "");
}

}  // namespace
}  // namespace kiln::sys
