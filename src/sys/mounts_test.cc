#include "sys/mounts.h"

#include <gtest/gtest.h>

#include "base/fs.h"

namespace kiln::sys {
namespace {

TEST(MountInfoTest, ParsesAndUnescapes) {
  auto m = ParseMountInfo(
      "22 27 0:21 / /proc rw,relatime - proc proc rw\n"
      "41 31 0:38 / /tmp/a\\040b rw shared:1 master:2 - tmpfs my\\134src rw\n");
  ASSERT_TRUE(m) << m.error().Render();
  ASSERT_EQ(m->size(), 2u);
  EXPECT_EQ((*m)[0], (MountInfo{22, 27, "/", "/proc", "proc", "proc"}));
  EXPECT_EQ((*m)[1], (MountInfo{41, 31, "/", "/tmp/a b", "tmpfs", "my\\src"}));
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

}  // namespace
}  // namespace kiln::sys
