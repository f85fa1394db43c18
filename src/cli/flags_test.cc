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

}  // namespace
}  // namespace kiln::cli
