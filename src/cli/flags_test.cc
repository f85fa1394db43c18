#include "cli/flags.h"

#include <gtest/gtest.h>

namespace kiln::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"file", 'f', FlagKind::kValue, "Dockerfile"},
    {"tag", 't', FlagKind::kRepeated, "tags"},
    {"quiet", 'q', FlagKind::kBool, "quiet"},
    {"no-cache", 0, FlagKind::kBool, "no cache"},
};

TEST(FlagsTest, ParsesDockerStyleForms) {
  auto r = ParseFlags(kSpecs, {"-f", "-", "-tA", "--tag=b", "--tag", "c", "-q", "ctx", "--no-cache=false"}, "kiln build");
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(r->Value("file"), "-");
  EXPECT_EQ(r->All("tag"), (std::vector<std::string>{"A", "b", "c"}));
  EXPECT_TRUE(r->Bool("quiet"));
  EXPECT_FALSE(r->Bool("no-cache"));
  EXPECT_EQ(r->args(), std::vector<std::string>{"ctx"});
}

TEST(FlagsTest, UnknownFlagSuggestsNearest) {
  auto r = ParseFlags(kSpecs, {"--tagg", "x"}, "kiln build");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Render(), "unknown flag: --tagg (did you mean --tag?)\nhint: see 'kiln build --help'\n");
  auto m = ParseFlags(kSpecs, {"-f"}, "kiln build");
  EXPECT_EQ(m.error().message(), "flag needs an argument: -f");
}

TEST(FlagsTest, StopAtFirstArgLeavesSubcommandFlags) {
  auto r = ParseFlags(kSpecs, {"-q", "build", "-f", "x"}, "kiln compose", Interspersed::kStopAtFirstArg);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->args(), (std::vector<std::string>{"build", "-f", "x"}));
}

TEST(SecretFlagTest, CacheFieldIsTakenOut) {
  auto v = SplitSecretCacheField("id=npm,src=token.txt,cache=value");
  ASSERT_TRUE(v) << v.error().Render();
  EXPECT_EQ(v->spec, "id=npm,src=token.txt");
  EXPECT_TRUE(v->value_keyed);
  auto id = SplitSecretCacheField("cache=id,id=npm");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->spec, "id=npm");
  EXPECT_FALSE(id->value_keyed);
  // Fields stay as CSV for ParseSecretFlag, quotes included.
  auto quoted = SplitSecretCacheField("id=a,\"src=x,y\"\"z\",cache=value");
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->spec, "id=a,\"src=x,y\"\"z\"");
  EXPECT_EQ(SplitSecretCacheField("id=a")->spec, "id=a");
  EXPECT_FALSE(SplitSecretCacheField("id=a")->value_keyed);
}

TEST(SecretFlagTest, UnknownCacheModeIsAUsageError) {
  auto r = SplitSecretCacheField("id=a,cache=always");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUsage);
  EXPECT_EQ(r.error().message(),
            "--secret \"id=a,cache=always\": invalid cache=always: want cache=id or cache=value");
}

}  // namespace
}  // namespace kiln::cli
