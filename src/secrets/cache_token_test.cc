#include "secrets/cache_token.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/fs.h"

namespace kiln::secrets {
namespace {

SecretValue TestKey() {
  std::string k;
  for (int i = 0; i < 32; ++i) k += static_cast<char>(i);
  return SecretValue(k);
}

TEST(SecretCacheTokenTest, MatchesHmacSha256) {
  // Expected values from Python's hmac module with key bytes 0..31.
  EXPECT_EQ(*SecretCacheToken(TestKey(), "npm_abcdef"),
            "hmac-sha256:1a5e723bab949afd94d48b77e598e5943aeeb80fc20e89678a4f07b4721734bc");
  EXPECT_EQ(*SecretCacheToken(TestKey(), "npm_abcdeg"),
            "hmac-sha256:07c3afdd10ac118d47c55af22bf183c72da5dc8678b807c87480872145e84e9a");
}

TEST(SecretCacheTokenTest, DifferentKeysGiveDifferentTokens) {
  auto a = GenerateCacheKeyKey();
  auto b = GenerateCacheKeyKey();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_NE(a->view(), b->view());
  EXPECT_NE(*SecretCacheToken(*a, "v"), *SecretCacheToken(*b, "v"));
  EXPECT_EQ(*SecretCacheToken(*a, "v"), *SecretCacheToken(*a, "v"));
}

TEST(SecretCacheTokenTest, RejectsWrongKeySize) {
  auto r = SecretCacheToken(SecretValue("short"), "v");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "secret cache key is 5 bytes, want 32");
}

TEST(LoadOrCreateCacheKeyKeyTest, CreatesOnceThenReloads) {
  auto dir = TempDir::Create("secrets-key");
  ASSERT_TRUE(dir);
  std::string path = dir->path() + "/cache.key";
  auto first = LoadOrCreateCacheKeyKey(path);
  ASSERT_TRUE(first) << first.error().message();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto second = LoadOrCreateCacheKeyKey(path);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->view(), second->view());

  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto open = LoadOrCreateCacheKeyKey(path);
  EXPECT_EQ(open.error().message(),
            path + ": cache key file must not be accessible to group or others (mode 0644)");
  ASSERT_TRUE(WriteFile(path, "abc"));
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  auto bad = LoadOrCreateCacheKeyKey(path);
  EXPECT_EQ(bad.error().message(), path + ": cache key file is 3 bytes, want 32");
}

}  // namespace
}  // namespace kiln::secrets
