#include "registry/challenge.h"

#include <gtest/gtest.h>

namespace kiln::registry {
namespace {

TEST(ChallengeTest, ParsesBearerWithQuotedCommas) {
  auto r = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull,push")");
  ASSERT_TRUE(r) << r.error().Render();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].scheme, "bearer");
  EXPECT_EQ((*r)[0].Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ((*r)[0].Param("service"), "registry.docker.io");
  EXPECT_EQ((*r)[0].Param("scope"), "repository:library/busybox:pull,push");
  EXPECT_EQ((*r)[0].Param("missing"), "");
}

TEST(ChallengeTest, ParsesSeveralChallengesAndTokens) {
  auto r = ParseWwwAuthenticate(R"(Basic realm="Registry Realm" , BEARER Realm=x, error="a\"b")");
  ASSERT_TRUE(r) << r.error().Render();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].scheme, "basic");
  EXPECT_EQ((*r)[0].Param("realm"), "Registry Realm");
  EXPECT_EQ((*r)[1].scheme, "bearer");
  EXPECT_EQ((*r)[1].Param("realm"), "x");
  EXPECT_EQ((*r)[1].Param("error"), "a\"b");
}

TEST(ChallengeTest, SchemeWithoutParams) {
  auto r = ParseWwwAuthenticate("Negotiate");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].scheme, "negotiate");
  EXPECT_TRUE((*r)[0].params.empty());
}

TEST(ChallengeTest, Errors) {
  auto r = ParseWwwAuthenticate(R"(Bearer realm="https://x)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.error().message(),
            "malformed WWW-Authenticate header: unterminated quoted string at offset 13");
  r = ParseWwwAuthenticate("  ,  ");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "malformed WWW-Authenticate header: no challenge");
  r = ParseWwwAuthenticate("Bearer \"x\"");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "malformed WWW-Authenticate header: unexpected \"\\\"\" at offset 7");
}

TEST(RegistryErrorTest, ParsesErrorsArray) {
  auto e = ParseRegistryErrors(
      R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}},{"code":"DENIED"}]})");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].code, "MANIFEST_UNKNOWN");
  EXPECT_EQ(e[0].message, "manifest unknown");
  EXPECT_EQ(e[1].code, "DENIED");
  EXPECT_EQ(e[1].message, "");
  EXPECT_TRUE(ParseRegistryErrors("<html>").empty());
  EXPECT_TRUE(ParseRegistryErrors(R"({"errors":"x"})").empty());
}

TEST(RegistryErrorTest, StatusErrors) {
  Error e = HttpStatusError(404, R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})",
                            "docker.io");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.message(), "manifest unknown (404)");
  e = HttpStatusError(401, "", "127.0.0.1:5000");
  EXPECT_EQ(e.code(), ErrorCode::kAuth);
  EXPECT_EQ(e.Render(),
            "unauthorized (401)\nhint: check your credentials with `kiln login 127.0.0.1:5000`\n");
  e = HttpStatusError(403, R"({"errors":[{"code":"DENIED"}]})", "r");
  EXPECT_EQ(e.message(), "denied (403)");
  EXPECT_EQ(HttpStatusError(429, "", "r").code(), ErrorCode::kNetwork);
  EXPECT_EQ(HttpStatusError(503, "", "r").message(), "service unavailable (503)");
  EXPECT_EQ(HttpStatusError(400, "", "r").code(), ErrorCode::kInvalid);
}

}  // namespace
}  // namespace kiln::registry
