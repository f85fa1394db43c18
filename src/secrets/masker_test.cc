#include "secrets/masker.h"

#include <gtest/gtest.h>

#include <random>

namespace kiln::secrets {
namespace {

std::string StreamIn(const Masker& m, std::string_view input, const std::vector<size_t>& cuts) {
  auto s = m.NewStream();
  std::string out;
  size_t pos = 0;
  for (size_t c : cuts) {
    out += s->Write(input.substr(pos, c - pos));
    pos = c;
  }
  out += s->Write(input.substr(pos));
  out += s->Flush();
  return out;
}

TEST(MaskerTest, MasksValuesAndLines) {
  SecretStore store;
  store.Put("npm", SecretValue("npm_abcdef"));
  store.Put("key", SecretValue("-----BEGIN KEY-----\nAAAABBBBCCCC\r\nabc\n-----END KEY-----\n"));
  store.Put("pin", SecretValue("1234"));
  CollectingDiagnostics diag;
  auto m = Masker::Create(store, diag);
  EXPECT_EQ(m->MaskString("token=npm_abcdef; again npm_abcdefnpm_abcdef."),
            "token=****; again ********.");
  EXPECT_EQ(m->MaskString("got AAAABBBBCCCC and abc and 1234"), "got **** and abc and 1234");
  EXPECT_EQ(m->MaskString("-----BEGIN KEY-----\nAAAABBBBCCCC\r\nabc\n-----END KEY-----\n"),
            "****");
  ASSERT_EQ(diag.warnings().size(), 1u);
  EXPECT_EQ(diag.warnings()[0].name, "SecretTooShortToMask");
  EXPECT_EQ(diag.warnings()[0].message,
            "secret \"pin\" is shorter than 6 bytes; it will not be masked in output or searched "
            "for by the leak guard");
}

TEST(MaskerTest, MaskError) {
  auto m = Masker::FromValues({"s3cr3t-token"});
  Error e = Error(ErrorCode::kStepFailed, "curl: bad token s3cr3t-token")
                .At(SourceLoc{"Dockerfile", 3, 1, "RUN curl -H s3cr3t-token x"})
                .Wrap("running s3cr3t-token")
                .WithHint("check s3cr3t-token");
  Error masked = m->MaskError(e);
  EXPECT_EQ(masked.Render(),
            "Dockerfile:3:1: curl: bad token ****\n"
            " 3 | RUN curl -H **** x\n"
            "   | ^\n"
            "while running ****\n"
            "hint: check ****\n");
  EXPECT_EQ(masked.code(), ErrorCode::kStepFailed);
}

TEST(MaskerTest, MaskErrorKeepsErrnoAndMessage) {
  // Regression: an error carrying an errno came back empty (self-move).
  auto m = Masker::FromValues({"s3cr3t-token"});
  Error masked = m->MaskError(Error::Io("/run/s3cr3t-token", ENOENT, "open"));
  EXPECT_EQ(masked.Render(), "open /run/****: No such file or directory\n");
  EXPECT_EQ(masked.sys_errno(), ENOENT);
  EXPECT_EQ(masked.code(), ErrorCode::kNotFound);
}

TEST(MaskerTest, LongestMatchWins) {
  auto m = Masker::FromValues({"abcdef", "abcdefgh", "xxabcdefyy"});
  EXPECT_EQ(m->MaskString("abcdefgh abcdefg xxabcdefyy xxabcdefy"), "**** ****g **** xx****y");
  EXPECT_EQ(StreamIn(*m, "abcdefgh abcdefg xxabcdefyy xxabcdefy", {3, 7, 8, 20}),
            "**** ****g **** xx****y");
}

TEST(MaskerTest, NoPatternsPassesThrough) {
  auto m = Masker::FromValues({"short"});
  EXPECT_EQ(m->pattern_count(), 0u);
  auto s = m->NewStream();
  EXPECT_EQ(s->Write("short and sweet"), "short and sweet");
  EXPECT_EQ(s->Flush(), "");
}

TEST(MaskerTest, HoldsBackOnlyPossiblePrefixes) {
  auto m = Masker::FromValues({"secret-value"});
  auto s = m->NewStream();
  EXPECT_EQ(s->Write("hello secr"), "hello ");
  EXPECT_EQ(s->Write("et-val"), "");
  EXPECT_EQ(s->Write("ue!"), "****!");
  EXPECT_EQ(s->Write("secret-valu"), "");
  EXPECT_EQ(s->Flush(), "secret-valu");
}

TEST(MaskerTest, StreamKeepsMaskerAlive) {
  std::unique_ptr<MaskingStream> s;
  {
    auto m = Masker::FromValues({"topsecret"});
    s = m->NewStream();
  }
  EXPECT_EQ(s->Write("a topsecret b"), "a **** b");
}

// Property: any chunking gives the same output as MaskString, and no
// secret survives in it.
TEST(MaskerTest, RandomChunkingsMatchOneShot) {
  std::mt19937 rng(12345);
  const std::vector<std::string> secrets = {"s3cr3t-token", "aaaaab", "abababab", "xyzxyzx",
                                            "multi\nline-secret\nvalue"};
  std::vector<std::string_view> views(secrets.begin(), secrets.end());
  auto m = Masker::FromValues(views);
  const std::string alphabet = "abxyz3st-\n";
  for (int iter = 0; iter < 300; ++iter) {
    std::string input;
    int n = rng() % 200;
    for (int i = 0; i < n; ++i) {
      if (rng() % 10 == 0) input += secrets[rng() % secrets.size()];
      else input += alphabet[rng() % alphabet.size()];
    }
    std::string want = m->MaskString(input);
    for (const auto& sec : {std::string("s3cr3t-token"), std::string("line-secret"),
                            std::string("aaaaab"), std::string("xyzxyzx")})
      EXPECT_EQ(want.find(sec), std::string::npos) << input;
    for (int k = 0; k < 5; ++k) {
      std::vector<size_t> cuts;
      size_t pos = 0;
      while (pos < input.size()) {
        pos += 1 + rng() % 13;
        if (pos < input.size()) cuts.push_back(pos);
      }
      ASSERT_EQ(StreamIn(*m, input, cuts), want) << input;
    }
  }
}

TEST(MaskPatternsOfTest, SplitsLines) {
  EXPECT_EQ(MaskPatternsOf("one"), (std::vector<std::string_view>{"one"}));
  EXPECT_EQ(MaskPatternsOf("a\r\nb\n"), (std::vector<std::string_view>{"a\r\nb\n", "a", "b", ""}));
}

}  // namespace
}  // namespace kiln::secrets
