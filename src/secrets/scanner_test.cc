#include "secrets/scanner.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <random>

#include "base/digest.h"
#include "base/fs.h"
#include "secrets/testing/tar_builder.h"

namespace kiln::secrets {
namespace {

using testing::PaxRecord;
using testing::ReaderOf;
using testing::TarEntry;

constexpr std::string_view kSecret = "hunter2-is-my-password";

std::vector<std::string> Describe(const std::vector<LeakFinding>& fs) {
  std::vector<std::string> out;
  for (const auto& f : fs) out.push_back(DescribeFinding(f));
  return out;
}

TEST(EncodedFormsTest, StableBase64Cores) {
  auto forms = EncodedForms("abcdef");
  std::vector<std::string> got;
  for (const auto& [e, s] : forms) got.push_back(std::string(EncodingName(e)) + ":" + s);
  // base64("abcdef")="YWJjZGVm"; with 1 byte before: "?2FiY2RlZg" -> core
  // "FiY2RlZ"; with 2 before: "??YWJjZGVm" shifted -> core "hYmNkZW".
  EXPECT_EQ(got, (std::vector<std::string>{"raw:abcdef", "base64:YWJjZGVm", "base64:FiY2RlZ",
                                           "base64:hYmNkZW", "hex:616263646566"}));
}

// Property: wherever the secret sits in a larger blob, its base64 encoding
// contains one of the cores.
TEST(EncodedFormsTest, CoresSurviveAnyContext) {
  std::mt19937 rng(7);
  auto scanner = LeakScanner::FromValues({{"s", kSecret}});
  for (int i = 0; i < 200; ++i) {
    std::string blob;
    int before = rng() % 10, after = rng() % 10;
    for (int k = 0; k < before; ++k) blob += static_cast<char>(rng());
    blob += kSecret;
    for (int k = 0; k < after; ++k) blob += static_cast<char>(rng());
    auto f = scanner->ScanBytes(Base64Encode(blob), "p", FoundIn::kContent);
    ASSERT_FALSE(f.empty()) << i;
    EXPECT_TRUE(f[0].encoding == Encoding::kBase64 || f[0].encoding == Encoding::kBase64Url);
  }
}

// A secret file usually ends in a newline; `$(cat /run/secrets/x)` drops it
// before the step writes the value, and each line of a multi-line value is
// searched as well (lines under 6 bytes are not).
TEST(LeakScannerTest, FindsEachLineOfTheValue) {
  auto scanner = LeakScanner::FromValues({{"tok", "hunter2-token\n"}, {"pem", "line-one-abc\r\nok\nline-three-xyz\n"}});
  EXPECT_EQ(Describe(scanner->ScanBytes("TOKEN=hunter2-token;", "env", FoundIn::kContent)),
            (std::vector<std::string>{"secret \"tok\" found (raw) in content of env"}));
  EXPECT_EQ(Describe(scanner->ScanBytes("x" + Base64Encode("hunter2-token"), "b", FoundIn::kContent)),
            (std::vector<std::string>{"secret \"tok\" found (base64) in content of b"}));
  EXPECT_EQ(Describe(scanner->ScanBytes("[line-three-xyz]", "f", FoundIn::kContent)),
            (std::vector<std::string>{"secret \"pem\" found (raw) in content of f"}));
  EXPECT_EQ(Describe(scanner->ScanBytes("line-one-abc\r\n", "g", FoundIn::kContent)),
            (std::vector<std::string>{"secret \"pem\" found (raw) in content of g"}));
  EXPECT_TRUE(scanner->ScanBytes("ok\nhunter2-toke", "h", FoundIn::kContent).empty());
}

TEST(LeakScannerTest, FindsEveryEncoding) {
  // Chosen so one base64 alignment contains '/', making base64url differ.
  std::string s = std::string(kSecret) + "?~";
  auto scanner = LeakScanner::FromValues({{"pw", s}, {"short", "abc"}});
  std::string hex = HexEncode(s), upper = hex;
  for (char& c : upper) c = toupper(c);
  std::string url = Base64Encode("\xfb" + s);
  for (char& c : url) c = c == '+' ? '-' : c == '/' ? '_' : c;
  std::string data = "x" + s + "y " + Base64Encode("zz" + s + "q") + " " + hex + " " + upper +
                     " " + url;
  EXPECT_EQ(Describe(scanner->ScanBytes(data, "f", FoundIn::kContent)),
            (std::vector<std::string>{
                "secret \"pw\" found (raw) in content of f",
                "secret \"pw\" found (base64) in content of f",
                "secret \"pw\" found (base64url) in content of f",
                "secret \"pw\" found (hex) in content of f",
                "secret \"pw\" found (HEX) in content of f",
            }));
  EXPECT_TRUE(scanner->ScanBytes("nothing here abc", "f", FoundIn::kContent).empty());
}

TEST(LeakScannerTest, ShortSecretsWarnAndAreSkipped) {
  SecretStore store;
  store.Put("pin", SecretValue("12345"));
  store.Put("pw", SecretValue(kSecret));
  CollectingDiagnostics diag;
  auto scanner = LeakScanner::Create(store, diag);
  ASSERT_EQ(diag.warnings().size(), 1u);
  EXPECT_EQ(diag.warnings()[0].name, "SecretTooShortToMask");
  EXPECT_EQ(diag.warnings()[0].message,
            "secret \"pin\" is shorter than 6 bytes; the leak guard does not search for it");
  EXPECT_TRUE(scanner->ScanBytes("12345", "f", FoundIn::kContent).empty());
}

TEST(LeakScannerTest, StreamFindsAcrossEveryChunkBoundary) {
  auto scanner = LeakScanner::FromValues({{"pw", kSecret}});
  std::string data = "prefix " + std::string(kSecret) + " suffix";
  for (size_t a = 1; a < data.size(); ++a) {
    for (size_t b = a; b < data.size(); b += 3) {
      auto s = scanner->NewStream("f", FoundIn::kContent);
      s->Feed(data.substr(0, a));
      s->Feed(data.substr(a, b - a));
      s->Feed(data.substr(b));
      auto f = s->Finish();
      ASSERT_EQ(f.size(), 1u) << a << " " << b;
      EXPECT_EQ(f[0].encoding, Encoding::kRaw);
    }
  }
}

TEST(LeakScannerTest, ScanDirectoryWalksWithoutFollowingSymlinks) {
  auto t = TempDir::Create("secrets-scan");
  ASSERT_TRUE(t);
  std::string root = t->path();
  std::string s(kSecret);
  ASSERT_TRUE(MakeDirs(root + "/app/sub"));
  ASSERT_TRUE(WriteFile(root + "/app/.npmrc", "//registry/:_authToken=" + s + "\n"));
  ASSERT_TRUE(WriteFile(root + "/app/sub/encoded", Base64Encode(s)));
  ASSERT_TRUE(WriteFile(root + "/app/clean", "nothing"));
  ASSERT_TRUE(WriteFile(root + "/app/" + s, "named after it"));
  ASSERT_EQ(symlink(("/tmp/" + s).c_str(), (root + "/link").c_str()), 0);
  // A symlink to a file holding the secret outside the tree is not followed.
  auto outside = TempDir::Create("secrets-outside");
  ASSERT_TRUE(WriteFile(outside->path() + "/leak", s));
  ASSERT_EQ(symlink((outside->path() + "/leak").c_str(), (root + "/out").c_str()), 0);
  ASSERT_EQ(setxattr((root + "/app/clean").c_str(), "user.token", s.data(), s.size(), 0), 0);
  auto scanner = LeakScanner::FromValues({{"pw", kSecret}});
  auto found = scanner->ScanDirectory(root);
  ASSERT_TRUE(found) << found.error().Render();
  EXPECT_EQ(Describe(*found), (std::vector<std::string>{
                                  "secret \"pw\" found (raw) in content of app/.npmrc",
                                  "secret \"pw\" found (raw) in xattr user.token of app/clean",
                                  "secret \"pw\" found (raw) in name of app/hunter2-is-my-password",
                                  "secret \"pw\" found (base64) in content of app/sub/encoded",
                                  "secret \"pw\" found (raw) in link target of link",
                              }));
}

TEST(RequireNoLeaksTest, ListsFindings) {
  EXPECT_TRUE(RequireNoLeaks({}));
  auto r = RequireNoLeaks({{"npm", "app/.npmrc", Encoding::kRaw, FoundIn::kContent, ""},
                           {"gh", "etc/x", Encoding::kBase64, FoundIn::kXattr, "user.k"}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kStepFailed);
  EXPECT_EQ(r.error().message(),
            "the step wrote secrets into its layer: secret \"npm\" found (raw) in content of "
            "app/.npmrc; secret \"gh\" found (base64) in xattr user.k of etc/x");
}

TEST(LeakScannerTest, ScanDirectoryMissingRoot) {
  auto scanner = LeakScanner::FromValues({{"pw", kSecret}});
  auto r = scanner->ScanDirectory("/nonexistent-kiln");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "open /nonexistent-kiln: No such file or directory");
}

TEST(LeakScannerTest, ScanTar) {
  std::string s(kSecret);
  std::string big(70000, 'x');
  big.replace(65530, s.size(), s);  // straddles the 64 KiB read buffer
  std::string tar = TarEntry("etc/", "", '5') + TarEntry("etc/big", big) +
                    TarEntry("etc/clean", "hello") +
                    TarEntry("PaxHeaders/x", PaxRecord("path", "opt/long-" + s) +
                                              PaxRecord("SCHILY.xattr.user.k", HexEncode(s)),
                             'x') +
                    TarEntry("ignored", "data") + TarEntry("lnk", "", '2', "/" + s) +
                    std::string(1024, '\0');
  auto scanner = LeakScanner::FromValues({{"pw", kSecret}});
  for (size_t chunk : {size_t{1} << 20, size_t{7}, size_t{512}}) {
    auto found = scanner->ScanTar(ReaderOf(tar, chunk));
    ASSERT_TRUE(found) << found.error().Render();
    EXPECT_EQ(Describe(*found),
              (std::vector<std::string>{
                  "secret \"pw\" found (raw) in content of etc/big",
                  "secret \"pw\" found (raw) in link target of lnk",
                  "secret \"pw\" found (raw) in name of opt/long-hunter2-is-my-password",
                  "secret \"pw\" found (raw) in pax header of opt/long-hunter2-is-my-password",
                  "secret \"pw\" found (hex) in pax header of opt/long-hunter2-is-my-password",
              }))
        << chunk;
  }
}

TEST(LeakScannerTest, ScanTarErrors) {
  auto scanner = LeakScanner::FromValues({{"pw", kSecret}});
  std::string tar = TarEntry("a", "hello");
  std::string truncated = tar.substr(0, 600);
  auto r = scanner->ScanTar(ReaderOf(truncated, 4096));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Render(), "tar: truncated entry padding\nwhile reading tar entry 1\n");
  std::string corrupt = tar;
  corrupt[0] = 'b';
  r = scanner->ScanTar(ReaderOf(corrupt, 4096));
  EXPECT_EQ(r.error().Render(), "tar header: checksum mismatch\nwhile reading tar entry 1\n");
  std::string short_header = tar.substr(0, 100);
  r = scanner->ScanTar(ReaderOf(short_header, 4096));
  EXPECT_EQ(r.error().message(), "tar: truncated header");
}

}  // namespace
}  // namespace kiln::secrets
