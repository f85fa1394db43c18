#include "exec/user.h"

#include <gtest/gtest.h>

namespace kiln::exec {
namespace {

constexpr char kPasswd[] = R"(root:x:0:0:root:/root:/bin/sh
# a comment
broken line
app:x:1000:1000:App:/home/app:/bin/sh
nohome:x:1001:1001::::
)";
constexpr char kGroup[] = R"(root:x:0:
wheel:x:10:root,app
staff:x:50: app , other
app:x:1000:
dup:x:10:app
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

}  // namespace
}  // namespace kiln::exec
