#include "secrets/audit.h"

#include <gtest/gtest.h>

#include "base/digest.h"
#include "secrets/testing/tar_builder.h"

namespace kiln::secrets {
namespace {

using testing::ReaderOf;
using testing::TarEntry;

TEST(LooksSecretNameTest, BuildKitTokens) {
  for (const char* n : {"API_KEY", "apikey", "GITHUB_TOKEN", "DB_PASSWORD", "aws_secret_access_key",
                        "NPM_AUTH", "MY_CREDENTIALS", "pword", "Passwd", "X_CREDENTIAL_Y"})
    EXPECT_TRUE(LooksSecretName(n)) << n;
  for (const char* n : {"KEYBOARD", "MONKEY", "TOKENIZER", "PATH", "AUTHOR", "PUBLIC_KEY",
                        "api_key_public", "", "PASS"})
    EXPECT_FALSE(LooksSecretName(n)) << n;
}

TEST(HistoryBuildArgsTest, Parses) {
  using Args = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(HistoryBuildArgs("|2 A=b TOKEN=c=d /bin/sh -c make"),
            (Args{{"A", "b"}, {"TOKEN", "c=d"}}));
  EXPECT_EQ(HistoryBuildArgs("|1 EMPTY= /bin/sh -c true"), (Args{{"EMPTY", ""}}));
  EXPECT_EQ(HistoryBuildArgs("/bin/sh -c make"), Args{});
  EXPECT_EQ(HistoryBuildArgs("|x A=b"), Args{});
  EXPECT_EQ(HistoryBuildArgs("|2 A=b notanarg"), Args{});
}

constexpr std::string_view kToken = "ghp_0123456789abcdef";

// A build arg's value recorded in the history is found by its JSON path; a
// value found in several places is reported at each.
TEST(AuditImageTest, NamesTheConfigPathOfAValue) {
  std::string token(kToken);
  AuditInput input;
  input.config_json = R"({"config": {"Env": ["A=)" + token + R"("]},
    "history": [{"created_by": "ARG VERSION"},
                {"created_by": "|1 VERSION=)" + token + R"( /bin/sh -c true", "comment": "buildkit"}]})";
  auto scanner = LeakScanner::FromValues({{"v", kToken}});
  auto found = AuditImage(input, *scanner);
  ASSERT_TRUE(found) << found.error().Render();
  std::vector<std::string> got;
  for (const auto& f : *found) got.push_back(DescribeAuditFinding(f));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "config config.Env[0]: secret \"v\" found (raw)",
                     "config history[1].created_by: secret \"v\" found (raw)",
                 }));
}

TEST(AuditImageTest, FindsValuesNamesAndRecordedArgs) {
  std::string token(kToken);
  std::string config = R"({
    "architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/usr/bin", "GITHUB_TOKEN=xyz", "PUBLIC_KEY=abc"],
               "Labels": {"leak": ")" + Base64Encode(token) + R"("}},
    "history": [
      {"created_by": "ARG DB_PASSWORD=hunter2"},
      {"created_by": "|2 DB_PASSWORD=hunter2 MODE=prod /bin/sh -c make"},
      {"created_by": "/bin/sh -c #(nop)  ENV API_KEY=abc"},
      {"created_by": "ENV GITHUB_TOKEN=xyz"},
      {"created_by": "RUN /bin/sh -c echo ok # buildkit"}
    ]})";
  std::string layer1 = TarEntry("app/", "", '5') + TarEntry("app/.npmrc", "_auth=" + token + "\n") +
                       std::string(1024, '\0');
  std::string layer2 = TarEntry("etc/hosts", "127.0.0.1 localhost\n") + std::string(1024, '\0');
  AuditInput input;
  input.config_json = config;
  input.layers.push_back({"sha256:1111", [&]() -> Result<ReadFn> { return ReaderOf(layer1, 100); }});
  input.layers.push_back({"sha256:2222", [&]() -> Result<ReadFn> { return ReaderOf(layer2, 100); }});
  input.annotations["org.example.note"] = "token " + HexEncode(token);
  auto scanner = LeakScanner::FromValues({{"gh", kToken}});
  auto found = AuditImage(input, *scanner);
  ASSERT_TRUE(found) << found.error().Render();
  std::vector<std::string> got;
  for (const auto& f : *found) got.push_back(DescribeAuditFinding(f));
  EXPECT_EQ(got, (std::vector<std::string>{
                     "config config.Labels.leak: secret \"gh\" found (base64)",
                     "config Env: ENV GITHUB_TOKEN looks like a secret and is stored in the image",
                     "history[0]: build arg DB_PASSWORD looks like a secret and is recorded in "
                     "the image",
                     "history[2]: ENV API_KEY looks like a secret and is stored in the image",
                     "annotation org.example.note: secret \"gh\" found (hex)",
                     "layer sha256:1111: secret \"gh\" found (raw) in content of app/.npmrc",
                 }));
  EXPECT_EQ((*found)[5].layer, "sha256:1111");
  EXPECT_EQ((*found)[5].location, "app/.npmrc");
}

TEST(AuditImageTest, Errors) {
  auto scanner = LeakScanner::FromValues({});
  AuditInput input;
  input.config_json = "[not json";
  EXPECT_EQ(AuditImage(input, *scanner).error().message(), "image config is not a JSON object");
  input.config_json = "{}";
  std::string broken = "garbage";
  input.layers.push_back({"sha256:abcd", [&]() -> Result<ReadFn> { return ReaderOf(broken, 512); }});
  EXPECT_EQ(AuditImage(input, *scanner).error().Render(),
            "tar: truncated header\nwhile auditing layer sha256:abcd\n");
  input.layers[0].open = []() -> Result<ReadFn> { return Fail(Error::NotFound("blob missing")); };
  EXPECT_EQ(AuditImage(input, *scanner).error().Render(),
            "blob missing\nwhile auditing layer sha256:abcd\n");
}

TEST(CheckBuildArgsTest, WarnsWithoutShowingValues) {
  SecretStore store;
  store.Put("npm", SecretValue("npm_abcdef"));
  CollectingDiagnostics diag;
  CheckBuildArgs({{"VERSION", "1.2"}, {"NPM_TOKEN", "other"}, {"CACHE_BUST", "npm_abcdef"}}, store,
                 diag);
  auto w = diag.warnings();
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].name, "BuildArgLooksSecret");
  EXPECT_EQ(w[0].message,
            "--build-arg NPM_TOKEN looks like a secret; build args are recorded in the image "
            "history. Use --secret id=NPM_TOKEN,env=NPM_TOKEN and RUN "
            "--mount=type=secret,id=NPM_TOKEN,env=NPM_TOKEN instead");
  EXPECT_EQ(w[1].name, "BuildArgIsSecret");
  EXPECT_EQ(w[1].message,
            "--build-arg CACHE_BUST has the same value as secret \"npm\"; build args are recorded "
            "in the image history");
}

}  // namespace
}  // namespace kiln::secrets
