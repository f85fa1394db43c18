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

TEST(StringsTest, WipeStringZeroesTheBufferItKeeps) {
  std::string s(100, 'x');
  const char* buffer = s.data();
  WipeString(s);
  EXPECT_TRUE(s.empty());
  ASSERT_EQ(s.data(), buffer);  // clear() keeps the buffer, so it can be read
  EXPECT_EQ(std::string(buffer, 100), std::string(100, '\0'));
  std::vector<std::string> env = {"A=1", "TOKEN=secret"};
  WipeStrings(env);
  EXPECT_TRUE(env.empty());
}

TEST(StringsTest, SpellcheckSuggestsNearestOrNothing) {
  std::vector<std::string> words = {"RUN", "COPY", "WORKDIR", "ENTRYPOINT"};
  EXPECT_EQ(Spellcheck("RUNN", words), "RUN");
  EXPECT_EQ(Spellcheck("workdri", words), "WORKDIR");
  EXPECT_EQ(Spellcheck("XYZZY", words), "");
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3);
  EXPECT_EQ(EditDistance("abcdef", "uvwxyz", 2), 3);
}

// Renders SplitCsv's result as "[a|b]" or "error: <code>: <message>".
std::string Csv(std::string_view record) {
  auto r = SplitCsv(record);
  if (!r) return fmt::format("error: {}: {}", ErrorCodeName(r.error().code()), r.error().message());
  return "[" + Join(*r, "|") + "]";
}

TEST(StringsTest, SplitCsvReadsOneRecordLikeGo) {
  EXPECT_EQ(Csv("type=secret,id=npm"), "[type=secret|id=npm]");
  EXPECT_EQ(Csv(""), "[]");
  EXPECT_EQ(Csv(","), "[|]");
  EXPECT_EQ(Csv("a,,b,"), "[a||b|]");
  EXPECT_EQ(Csv(" a , b"), "[ a | b]");  // spaces are kept
  EXPECT_EQ(Csv("\"target=/a,b\",ro"), "[target=/a,b|ro]");
  EXPECT_EQ(Csv("\"say \"\"hi\"\"\""), "[say \"hi\"]");
  EXPECT_EQ(Csv("\"\",x"), "[|x]");
}

TEST(StringsTest, SplitCsvQuoteErrorsUseGosWording) {
  EXPECT_EQ(Csv("\"id=a"), "error: invalid: extraneous or missing \" in quoted-field");
  EXPECT_EQ(Csv("\"id\"=a"), "error: invalid: extraneous or missing \" in quoted-field");
  EXPECT_EQ(Csv("target=/a\"b"), "error: invalid: bare \" in non-quoted-field");
  EXPECT_EQ(Csv("ok,x\""), "error: invalid: bare \" in non-quoted-field");
}

TEST(RedactUrlPasswordsTest, HidesEveryUrlsPasswordAndNothingElse) {
  EXPECT_EQ(RedactUrlPasswords("https://user:s3cret@example.com/x?y=1"), "https://user:xxxxx@example.com/x?y=1");
  EXPECT_EQ(RedactUrlPasswords("https://token@example.com/r.git"), "https://token@example.com/r.git");
  EXPECT_EQ(RedactUrlPasswords("https://example.com/a@b:c"), "https://example.com/a@b:c");
  EXPECT_EQ(RedactUrlPasswords("git@github.com:a/b.git"), "git@github.com:a/b.git");
  EXPECT_EQ(RedactUrlPasswords("ADD https://a:p1@h1/f https://b:p2@h2 /dst"),
            "ADD https://a:xxxxx@h1/f https://b:xxxxx@h2 /dst");
  EXPECT_EQ(RedactUrlPasswords("RUN curl \"https://u:p@h\""), "RUN curl \"https://u:xxxxx@h\"");
  EXPECT_EQ(RedactUrlPasswords(""), "");
  EXPECT_EQ(RedactUrlPasswords("://"), "://");
}

}  // namespace
}  // namespace kiln
