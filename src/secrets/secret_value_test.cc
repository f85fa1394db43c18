#include "secrets/secret_value.h"

#include <gtest/gtest.h>

namespace kiln::secrets {
namespace {

TEST(SecretValueTest, HoldsBytesIncludingNul) {
  SecretValue v(std::string_view("a\0b", 3));
  EXPECT_EQ(v.size(), 3u);
  EXPECT_EQ(v.view(), std::string_view("a\0b", 3));
}

TEST(SecretValueTest, MoveLeavesSourceEmpty) {
  SecretValue a("hunter22");
  SecretValue b(std::move(a));
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.view(), "");
  EXPECT_EQ(b.view(), "hunter22");
  SecretValue c;
  c = std::move(b);
  EXPECT_EQ(c.view(), "hunter22");
  EXPECT_TRUE(b.empty());
}

TEST(SecretValueTest, CloneIsIndependent) {
  SecretValue a("abcdef");
  SecretValue b = a.Clone();
  b.data()[0] = 'X';
  EXPECT_EQ(a.view(), "abcdef");
  EXPECT_EQ(b.view(), "Xbcdef");
}

TEST(SecretValueTest, TruncateWipesTail) {
  SecretValue v("abcdef");
  char* p = v.data();
  v.Truncate(2);
  EXPECT_EQ(v.view(), "ab");
  EXPECT_EQ(std::string(p + 2, 4), std::string(4, '\0'));
}

TEST(SecretValueTest, LockedAsRoot) {
  // Root has no RLIMIT_MEMLOCK restriction that would stop a small lock.
  SecretValue v("abcdef");
  EXPECT_TRUE(v.locked());
}

TEST(SecretValueTest, SecureZeroClears) {
  char buf[8] = {'s', 'e', 'c', 'r', 'e', 't', '!', '!'};
  SecureZero(buf, sizeof buf);
  EXPECT_EQ(std::string(buf, 8), std::string(8, '\0'));
}

}  // namespace
}  // namespace kiln::secrets
