#include "solver/users.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "base/fs.h"

namespace kiln::solver {
namespace {

class ResolveUserTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>(*TempDir::Create("kiln-users"));
    ASSERT_TRUE(MakeDirs(dir_->path() + "/etc"));
    ASSERT_TRUE(WriteFile(dir_->path() + "/etc/passwd", R"(root:x:0:0:root:/root:/bin/sh
# a comment line
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1001:App:/home/app:/bin/sh
short:x:7
)"));
    ASSERT_TRUE(WriteFile(dir_->path() + "/etc/group", R"(root:x:0:
staff:x:50:app
app:x:1001:
)"));
    fd_ = *OpenFile(dir_->path(), O_RDONLY | O_DIRECTORY);
  }
  std::string Resolve(const std::string& spec) {
    auto r = ResolveUser(fd_.get(), spec);
    if (!r) return "error: " + r.error().message();
    return fmt::format("{}:{}", r->uid, r->gid);
  }
  std::unique_ptr<TempDir> dir_;
  Fd fd_;
};

TEST_F(ResolveUserTest, NameGivesUidAndPrimaryGroup) {
  EXPECT_EQ(Resolve("app"), "1000:1001");
  EXPECT_EQ(Resolve("root"), "0:0");
  EXPECT_EQ(Resolve("daemon"), "1:1");
}

TEST_F(ResolveUserTest, NumericUserInPasswdGetsItsPrimaryGroup) {
  EXPECT_EQ(Resolve("1000"), "1000:1001");
}

TEST_F(ResolveUserTest, NumericUserNotInPasswdGetsGidEqualUid) {
  EXPECT_EQ(Resolve("4242"), "4242:4242");
}

TEST_F(ResolveUserTest, UidColonGidTakesBothAsGiven) {
  EXPECT_EQ(Resolve("1000:50"), "1000:50");
  EXPECT_EQ(Resolve("5:6"), "5:6");
}

TEST_F(ResolveUserTest, NameColonGroupNameLooksUpBoth) {
  EXPECT_EQ(Resolve("app:staff"), "1000:50");
  EXPECT_EQ(Resolve("1000:staff"), "1000:50");
  EXPECT_EQ(Resolve("app:0"), "1000:0");
}

TEST_F(ResolveUserTest, EmptyGroupAfterColonUsesPrimaryGroup) {
  EXPECT_EQ(Resolve("app:"), "1000:1001");
}

TEST_F(ResolveUserTest, UnknownUserIsNotFound) {
  std::remove((dir_->path() + "/etc/passwd").c_str());
  auto r = ResolveUser(fd_.get(), "app");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), "unable to find user app: no matching entries in passwd file");
  EXPECT_EQ(Resolve("nobody"), "error: unable to find user nobody: no matching entries in passwd file");
}

TEST_F(ResolveUserTest, UnknownGroupIsNotFound) {
  auto r = ResolveUser(fd_.get(), "app:wheel");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), "unable to find group wheel: no matching entries in group file");
}

TEST_F(ResolveUserTest, TruncatedPasswdLineDoesNotMatch) {
  // "short:x:7" has no gid field.
  EXPECT_EQ(Resolve("short"), "error: unable to find user short: no matching entries in passwd file");
}

TEST_F(ResolveUserTest, PasswdSymlinkIsResolvedInsideTheRoot) {
  // An absolute symlink must be followed inside the image, not on the host.
  ASSERT_TRUE(MakeDirs(dir_->path() + "/alt"));
  ASSERT_TRUE(WriteFile(dir_->path() + "/alt/passwd", "inside:x:77:78::/:/bin/sh\n"));
  std::remove((dir_->path() + "/etc/passwd").c_str());
  ASSERT_EQ(::symlink("/alt/passwd", (dir_->path() + "/etc/passwd").c_str()), 0);
  EXPECT_EQ(Resolve("inside"), "77:78");
  EXPECT_EQ(Resolve("root"), "error: unable to find user root: no matching entries in passwd file");
}

}  // namespace
}  // namespace kiln::solver
