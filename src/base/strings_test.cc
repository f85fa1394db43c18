#include "base/strings.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(StringsTest, SplitCutJoinTrim) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  auto c = CutString("id=x=y", '=');
  EXPECT_TRUE(c.found);
  EXPECT_EQ(c.first, "id");
  EXPECT_EQ(c.second, "x=y");
  EXPECT_FALSE(CutString("id", '=').found);
  EXPECT_EQ(Join({"a", "b"}, ", "), "a, b");
  EXPECT_EQ(TrimSpace("  a b\t\n"), "a b");
  EXPECT_EQ(Quote("a\"b\n\x01"), "\"a\\\"b\\n\\x01\"");
}

TEST(StringsTest, SpellcheckSuggestsNearestOrNothing) {
  std::vector<std::string> words = {"RUN", "COPY", "WORKDIR", "ENTRYPOINT"};
  EXPECT_EQ(Spellcheck("RUNN", words), "RUN");
  EXPECT_EQ(Spellcheck("workdri", words), "WORKDIR");
  EXPECT_EQ(Spellcheck("XYZZY", words), "");
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("abcdef", "uvwxyz", 2), 3);
}

}  // namespace
}  // namespace kiln
