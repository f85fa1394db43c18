#include "compose/env.h"

#include <gtest/gtest.h>

namespace kiln::compose {
namespace {

Lookup MapLookup(const Environment& env) {
  return [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

std::string Expand(std::string_view text, const Environment& env = {}) {
  auto r = Interpolate(text, MapLookup(env));
  return r ? *r : "ERROR: " + r.error().message;
}

TEST(InterpolateTest, Forms) {
  Environment env = {{"SET", "value"}, {"EMPTY", ""}, {"B", "bee"}};
  EXPECT_EQ(Expand("a $SET b", env), "a value b");
  EXPECT_EQ(Expand("${SET}x", env), "valuex");
  EXPECT_EQ(Expand("$SET.x", env), "value.x");
  EXPECT_EQ(Expand("${UNSET:-def}|${EMPTY:-def}|${SET:-def}", env), "def|def|value");
  EXPECT_EQ(Expand("${UNSET-def}|${EMPTY-def}|${SET-def}", env), "def||value");
  EXPECT_EQ(Expand("${UNSET:+alt}|${EMPTY:+alt}|${SET:+alt}", env), "||alt");
  EXPECT_EQ(Expand("${UNSET+alt}|${EMPTY+alt}|${SET+alt}", env), "|alt|alt");
  EXPECT_EQ(Expand("${SET:?boom}", env), "value");
  EXPECT_EQ(Expand("${A:-${B:-c}}", env), "bee");
  EXPECT_EQ(Expand("${A:-${C:-c}}", env), "c");
  EXPECT_EQ(Expand("${A:-x ${B} y}", env), "x bee y");
  EXPECT_EQ(Expand("$$SET and $${SET}", env), "$SET and ${SET}");
  EXPECT_EQ(Expand("no dollars", env), "no dollars");
  EXPECT_EQ(Expand("${UNSET}", env), "");
}

TEST(InterpolateTest, RequiredVariables) {
  Environment env = {{"EMPTY", ""}};
  EXPECT_EQ(Expand("${UNSET:?set UNSET first}", env),
            "ERROR: required variable UNSET is missing a value: set UNSET first");
  EXPECT_EQ(Expand("${EMPTY:?must not be empty}", env),
            "ERROR: required variable EMPTY is missing a value: must not be empty");
  EXPECT_EQ(Expand("${EMPTY?x}", env), "");
  EXPECT_EQ(Expand("${UNSET?}", env), "ERROR: required variable UNSET is missing a value");
  // The unused branch is not evaluated.
  EXPECT_EQ(Expand("${EMPTY-${UNSET:?never}}", env), "");
}

TEST(InterpolateTest, InvalidTemplates) {
  EXPECT_EQ(Expand("cost: 5$"), "ERROR: invalid interpolation format in \"cost: 5$\" (write a literal $ as $$)");
  EXPECT_EQ(Expand("${"), "ERROR: invalid interpolation format in \"${\" (write a literal $ as $$)");
  EXPECT_EQ(Expand("${A"), "ERROR: invalid interpolation format in \"${A\" (write a literal $ as $$)");
  EXPECT_EQ(Expand("${A:-x"), "ERROR: invalid interpolation format in \"${A:-x\" (write a literal $ as $$)");
  EXPECT_EQ(Expand("${1A}"), "ERROR: invalid interpolation format in \"${1A}\" (write a literal $ as $$)");
  EXPECT_EQ(Expand("${A:x}"), "ERROR: invalid interpolation format in \"${A:x}\" (write a literal $ as $$)");
  EXPECT_EQ(Expand("$1"), "ERROR: invalid interpolation format in \"$1\" (write a literal $ as $$)");
}

TEST(InterpolateTest, ReportsUnsetVariables) {
  std::vector<std::string> unset;
  auto r = Interpolate("${A} ${B:-b} $C ${D-d}", MapLookup({}),
                       [&](const std::string& n) { unset.push_back(n); });
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, " b  d");
  EXPECT_EQ(unset, (std::vector<std::string>{"A", "C"}));
}

std::string ParseToString(std::string_view text, const Environment& env = {}) {
  auto r = ParseDotEnv(".env", text, MapLookup(env));
  if (!r) return "ERROR: " + r.error().Summary();
  std::string out;
  for (const auto& [k, v] : *r) out += k + "=[" + v + "]\n";
  return out;
}

TEST(DotEnvTest, Syntax) {
  const char* text = R"(# a comment

PLAIN=value
export EXPORTED=yes
SPACES =  padded value  
INLINE=value # comment
HASH=a#b
SINGLE='literal $PLAIN \n # not a comment'
DOUBLE="tab\there \"q\" back\\slash nl\nend $PLAIN"
MULTI="line1
line2"
EMPTY=
EMPTY_QUOTED=""
REF=${PLAIN}-${UNDEFINED:-dflt}
DOLLAR="a\$b $$c"
PASSED
NOT_PASSED
PLAIN=again
)";
  EXPECT_EQ(ParseToString(text, {{"PASSED", "from-env"}}),
            "PLAIN=[again]\n"
            "EXPORTED=[yes]\n"
            "SPACES=[padded value]\n"
            "INLINE=[value]\n"
            "HASH=[a#b]\n"
            "SINGLE=[literal $PLAIN \\n # not a comment]\n"
            "DOUBLE=[tab\there \"q\" back\\slash nl\nend value]\n"
            "MULTI=[line1\nline2]\n"
            "EMPTY=[]\n"
            "EMPTY_QUOTED=[]\n"
            "REF=[value-dflt]\n"
            "DOLLAR=[a$b $c]\n"
            "PASSED=[from-env]\n");
}

TEST(DotEnvTest, ProcessEnvironmentWinsInInterpolation) {
  EXPECT_EQ(ParseToString("A=file\nB=${A}\n", {{"A", "process"}}), "A=[file]\nB=[process]\n");
}

TEST(DotEnvTest, Errors) {
  EXPECT_EQ(ParseToString("A=1\n=2\n"), "ERROR: .env:2: invalid variable name starting at \"=\"");
  EXPECT_EQ(ParseToString("A B=1\n"), "ERROR: .env:1: unexpected character \"B\" after variable name \"A\"");
  EXPECT_EQ(ParseToString("\nA=\"open\n"), "ERROR: .env:2: unterminated quoted value for \"A\"");
  EXPECT_EQ(ParseToString("A='x' y\n"), "ERROR: .env:1: unexpected text after the quoted value of \"A\"");
  EXPECT_EQ(ParseToString("A=${B:?needed}\n"), "ERROR: .env:1: A: required variable B is missing a value: needed");
}

}  // namespace
}  // namespace kiln::compose
