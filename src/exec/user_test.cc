#include "exec/user.h"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/fs.h"

namespace kiln::exec {
namespace {

constexpr char kPasswd[] = R"(root:x:0:0:root:/root:/bin/sh
# a comment
broken line
app:x:1000:1000:App:/home/app:/bin/sh
nohome:x:1001:1001::::
short4:x:7:8
short3:x:9
)";
constexpr char kGroup[] = R"(root:x:0:
wheel:x:10:root,app
staff:x:50: app , other
app:x:1000:
dup:x:10:app
plain:x:60
)";

TEST(ResolveUserTest, Cases) {
  struct Case {
    const char* user;
    ExecUser want;
  } cases[] = {
      {"", {0, 0, {10}, "/root"}},
      {"root", {0, 0, {10}, "/root"}},
      {"app", {1000, 1000, {10, 50}, "/home/app"}},
      {"1000", {1000, 1000, {10, 50}, "/home/app"}},
      {"app:staff", {1000, 50, {}, "/home/app"}},
      {"app:7", {1000, 7, {}, "/home/app"}},
      {"4242", {4242, 0, {}, "/"}},
      {"4242:staff", {4242, 50, {}, "/"}},
      {"nohome", {1001, 1001, {}, "/"}},
      {"short4", {7, 8, {}, "/"}},
      {"app:", {1000, 1000, {10, 50}, "/home/app"}},
      {"app:0", {1000, 0, {}, "/home/app"}},
      {"1000:staff", {1000, 50, {}, "/home/app"}},
      {"app:plain", {1000, 60, {}, "/home/app"}},
  };
  for (const auto& c : cases) {
    auto got = ResolveUser(c.user, kPasswd, kGroup);
    ASSERT_TRUE(got) << c.user << ": " << got.error().Render();
    EXPECT_EQ(*got, c.want) << c.user;
  }
}

TEST(ResolveUserTest, UnknownNamesUseDockersWording) {
  auto u = ResolveUser("app2", kPasswd, kGroup);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(u.error().message(), "unable to find user app2: no matching entries in passwd file");
  auto g = ResolveUser("app:nogroup", kPasswd, kGroup);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().message(), "unable to find group nogroup: no matching entries in group file");
  auto missing = ResolveUser("app", "", "");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "unable to find user app: no matching entries in passwd file");
  auto big = ResolveUser("99999999999", kPasswd, kGroup);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message(), "invalid user id 99999999999");
}

TEST(ResolveUserTest, LinesWithoutAGidNeverMatch) {
  // "short3:x:9" has no gid field.
  auto u = ResolveUser("short3", kPasswd, kGroup);
  ASSERT_FALSE(u);
  EXPECT_EQ(u.error().message(), "unable to find user short3: no matching entries in passwd file");
}

TEST(ResolveUserTest, UnknownUidGroupPicksTheGidOfAnUnlistedUid) {
  // runc gives an unlisted uid group 0; docker's --chown gives gid = uid.
  EXPECT_EQ(ResolveUser("4242", kPasswd, kGroup, UnknownUidGroup::kRoot)->gid, 0u);
  EXPECT_EQ(*ResolveUser("4242", kPasswd, kGroup, UnknownUidGroup::kSameAsUid),
            (ExecUser{4242, 4242, {}, "/"}));
  // Listed uids and explicit groups are the same either way.
  EXPECT_EQ(*ResolveUser("1000", kPasswd, kGroup, UnknownUidGroup::kSameAsUid),
            (ExecUser{1000, 1000, {10, 50}, "/home/app"}));
  EXPECT_EQ(ResolveUser("4242:7", kPasswd, kGroup, UnknownUidGroup::kSameAsUid)->gid, 7u);
}

TEST(ResolveUserInRootTest, FilesAreReadInsideTheRoot) {
  auto dir = TempDir::Create("kiln-user-test");
  ASSERT_TRUE(dir);
  const std::string root = dir->path() + "/root";
  ASSERT_TRUE(MakeDirs(root + "/etc"));
  ASSERT_TRUE(MakeDirs(root + "/alt"));
  // An absolute symlink must be followed inside the image, not on the host
  // (whose /etc/passwd has root).
  ASSERT_TRUE(WriteFile(root + "/alt/passwd", "inside:x:77:78::/home/in:/bin/sh\n"));
  ASSERT_EQ(symlink("/alt/passwd", (root + "/etc/passwd").c_str()), 0);
  // On the host this escape would reach /etc/hostname; in the root there
  // is none.
  ASSERT_EQ(symlink("../../../../../../etc/hostname", (root + "/etc/group").c_str()), 0);
  auto fd = OpenFile(root, O_PATH | O_DIRECTORY);
  ASSERT_TRUE(fd);
  auto in = ResolveUserInRoot(fd->get(), "inside");
  ASSERT_TRUE(in) << in.error().Render();
  EXPECT_EQ(*in, (ExecUser{77, 78, {}, "/home/in"}));
  auto root_user = ResolveUserInRoot(fd->get(), "root");
  ASSERT_FALSE(root_user);
  EXPECT_EQ(root_user.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(root_user.error().message(), "unable to find user root: no matching entries in passwd file");
  // The escaping group link finds nothing inside the root: no groups.
  auto group = ResolveUserInRoot(fd->get(), "inside:root");
  ASSERT_FALSE(group);
  EXPECT_EQ(group.error().message(), "unable to find group root: no matching entries in group file");
}

}  // namespace
}  // namespace kiln::exec
