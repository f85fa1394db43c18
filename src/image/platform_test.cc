#include "image/platform.h"

#include <gtest/gtest.h>

namespace kiln::image {
namespace {

Platform P(std::string os, std::string arch, std::string variant = "") {
  Platform p;
  p.os = std::move(os);
  p.architecture = std::move(arch);
  p.variant = std::move(variant);
  return p;
}

TEST(PlatformTest, ParseAndFormat) {
  const std::pair<std::string, std::string> cases[] = {
      {"linux/amd64", "linux/amd64"},
      {"linux/x86_64", "linux/amd64"},
      {"linux/amd64/v1", "linux/amd64"},
      {"linux/amd64/v3", "linux/amd64/v3"},
      {"linux/arm64/v8", "linux/arm64"},
      {"linux/aarch64", "linux/arm64"},
      {"linux/arm64/v9.0", "linux/arm64/v9"},
      {"linux/arm", "linux/arm/v7"},
      {"linux/arm/6", "linux/arm/v6"},
      {"linux/armhf", "linux/arm/v7"},
      {"linux/armel", "linux/arm/v6"},
      {"linux/i386", "linux/386"},
      {"Linux/AMD64", "linux/amd64"},
      {"macos/arm64", "darwin/arm64"},
      {"arm64", "linux/arm64"},
      {"windows/amd64", "windows/amd64"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    auto p = ParsePlatform(in);
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(FormatPlatform(*p), want);
  }
}

TEST(PlatformTest, ParseErrors) {
  const std::pair<std::string, std::string> cases[] = {
      {"", R"(invalid platform "": empty os)"},
      {"linux//v7", R"(invalid platform "linux//v7": empty architecture)"},
      {"linux/arm/", R"(invalid platform "linux/arm/": empty variant)"},
      {"linux/arm/v7/x", R"(invalid platform "linux/arm/v7/x": want os/arch[/variant])"},
  };
  for (const auto& [in, want] : cases) {
    auto p = ParsePlatform(in);
    ASSERT_FALSE(p) << in;
    EXPECT_EQ(p.error().code(), ErrorCode::kInvalid);
    EXPECT_EQ(p.error().message(), want);
  }
}

TEST(PlatformTest, HostPlatformIsNormalizedUname) {
  Platform host = HostPlatform();
  EXPECT_EQ(host.os, "linux");
  EXPECT_EQ(host, NormalizePlatform(host));
#if defined(__x86_64__)
  EXPECT_EQ(FormatPlatform(host), "linux/amd64");
#elif defined(__aarch64__)
  EXPECT_EQ(FormatPlatform(host), "linux/arm64");
#endif
}

TEST(PlatformTest, MatchScores) {
  EXPECT_EQ(PlatformMatchScore(P("linux", "amd64"), P("linux", "x86_64", "v1")), 1000);
  EXPECT_EQ(PlatformMatchScore(P("linux", "arm64"), P("linux", "arm64", "v8")), 1000);
  EXPECT_EQ(PlatformMatchScore(P("linux", "amd64", "v3"), P("linux", "amd64", "v2")), 499);
  EXPECT_EQ(PlatformMatchScore(P("linux", "amd64", "v3"), P("linux", "amd64")), 498);
  EXPECT_EQ(PlatformMatchScore(P("linux", "amd64", "v2"), P("linux", "amd64", "v3")), 0);
  EXPECT_EQ(PlatformMatchScore(P("linux", "arm", "v7"), P("linux", "arm", "v6")), 499);
  EXPECT_EQ(PlatformMatchScore(P("linux", "arm", "v6"), P("linux", "arm", "v7")), 0);
  EXPECT_EQ(PlatformMatchScore(P("linux", "amd64"), P("linux", "amd64", "v3")), 10);
  EXPECT_EQ(PlatformMatchScore(P("linux", "amd64"), P("linux", "arm64")), 0);
  EXPECT_EQ(PlatformMatchScore(P("linux", "amd64"), P("windows", "amd64")), 0);
  EXPECT_FALSE(PlatformMatches(P("linux", "amd64"), P("unknown", "unknown")));
}

Descriptor M(char fill, std::optional<Platform> platform) {
  Descriptor d;
  d.media_type = std::string(kOciManifest);
  d.digest = Digest::FromSha256Hex(std::string(64, fill));
  d.size = 100;
  d.platform = std::move(platform);
  return d;
}

TEST(PlatformTest, SelectManifestPrefersExactMatch) {
  Index index;
  index.manifests = {M('a', P("linux", "arm", "v6")), M('b', P("linux", "arm", "v7")),
                     M('c', P("linux", "amd64")), M('d', P("linux", "arm64", "v8")),
                     M('e', P("unknown", "unknown"))};
  index.manifests[4].annotations["vnd.docker.reference.type"] = "attestation-manifest";
  auto amd = SelectManifest(index, P("linux", "amd64"));
  ASSERT_TRUE(amd);
  EXPECT_EQ(amd->digest.hex()[0], 'c');
  auto arm7 = SelectManifest(index, P("linux", "arm", "v7"));
  ASSERT_TRUE(arm7);
  EXPECT_EQ(arm7->digest.hex()[0], 'b');
  auto arm8 = SelectManifest(index, P("linux", "arm", "v8"));
  ASSERT_TRUE(arm8);
  EXPECT_EQ(arm8->digest.hex()[0], 'b');  // v7 is the closest older variant
  auto arm64 = SelectManifest(index, P("linux", "aarch64"));
  ASSERT_TRUE(arm64);
  EXPECT_EQ(arm64->digest.hex()[0], 'd');

  auto none = SelectManifest(index, P("linux", "s390x"));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(none.error().message(), "no matching manifest for linux/s390x in the manifest list entries");
  EXPECT_EQ(none.error().hint(), "available platforms: linux/arm/v6, linux/arm/v7, linux/amd64, linux/arm64");
}

TEST(PlatformTest, SelectManifestWithoutPlatformMatchesAnything) {
  Index index;
  index.manifests = {M('a', std::nullopt), M('b', P("linux", "amd64"))};
  auto amd = SelectManifest(index, P("linux", "amd64"));
  ASSERT_TRUE(amd);
  EXPECT_EQ(amd->digest.hex()[0], 'b');
  auto other = SelectManifest(index, P("linux", "riscv64"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->digest.hex()[0], 'a');
  auto empty = SelectManifest(Index{}, P("linux", "amd64"));
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().hint(), "the index lists no manifests");
}

}  // namespace
}  // namespace kiln::image
