#include "compose/node.h"

#include <gtest/gtest.h>

namespace kiln::compose {
namespace {

// A compact rendering of a node for assertions: {k: v, ...}, [a, b], "s", ~.
std::string Show(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kNull:
      return n.tag.empty() ? "~" : n.tag + " ~";
    case Node::Kind::kScalar:
      return (n.tag.empty() ? "" : n.tag + " ") + (n.plain ? n.scalar : "'" + n.scalar + "'");
    case Node::Kind::kSeq: {
      std::string out = n.tag.empty() ? "[" : n.tag + " [";
      for (size_t i = 0; i < n.seq.size(); ++i) out += (i ? ", " : "") + Show(n.seq[i]);
      return out + "]";
    }
    case Node::Kind::kMap: {
      std::string out = "{";
      for (size_t i = 0; i < n.map.size(); ++i)
        out += (i ? ", " : "") + n.map[i].key + ": " + Show(n.map[i].value);
      return out + "}";
    }
  }
  return "?";
}

std::string Parse(std::string_view text) {
  auto n = ParseYaml("t.yaml", text);
  return n ? Show(*n) : "ERROR: " + n.error().Summary();
}

TEST(ParseYamlTest, ScalarsKeepQuotingAndTags) {
  EXPECT_EQ(Parse("a: 1\nb: '1'\nc: \"x\"\nd:\ne: !reset null\nf: !override [1]\ng: ~\n"),
            "{a: 1, b: '1', c: 'x', d: ~, e: !reset ~, f: !override [1], g: ~}");
  EXPECT_EQ(Parse(""), "{}");
  EXPECT_EQ(Parse("# only a comment\n"), "{}");
}

TEST(ParseYamlTest, AnchorsAliasesAndMergeKeys) {
  EXPECT_EQ(Parse("a: &x {p: 1, q: 2}\nb: *x\n"), "{a: {p: 1, q: 2}, b: {p: 1, q: 2}}");
  // Explicit keys win wherever they appear; earlier merged maps win over later ones.
  EXPECT_EQ(Parse("x: &x {p: 1, q: 1}\ny: &y {q: 2, r: 2}\nz:\n  p: 0\n  <<: [*x, *y]\n  s: 3\n"),
            "{x: {p: 1, q: 1}, y: {q: 2, r: 2}, z: {p: 0, s: 3, q: 1, r: 2}}");
  EXPECT_EQ(Parse("x: &x {p: 1}\nz:\n  <<: *x\n"), "{x: {p: 1}, z: {p: 1}}");
  // A quoted "<<" is an ordinary key.
  EXPECT_EQ(Parse("z:\n  '<<': 1\n"), "{z: {<<: 1}}");
}

TEST(ParseYamlTest, Locations) {
  auto n = ParseYaml("f.yaml", "services:\n  web:\n    image: nginx\n");
  ASSERT_TRUE(n.has_value());
  const MapEntry* web = n->Find("services")->FindEntry("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->key_loc.line, 2);
  EXPECT_EQ(web->key_loc.col, 3);
  SourceLoc image = web->value.Find("image")->loc;
  EXPECT_EQ(image.file, "f.yaml");
  EXPECT_EQ(image.line, 3);
  EXPECT_EQ(image.col, 12);
  EXPECT_EQ(image.line_text, "    image: nginx");
}

TEST(ParseYamlTest, Errors) {
  EXPECT_EQ(Parse("a: [1, 2\n"), "ERROR: t.yaml:2:1: did not find expected ',' or ']' (while parsing a flow sequence)");
  EXPECT_EQ(Parse("a: 1\na: 2\n"), "ERROR: t.yaml:2:1: duplicate key \"a\"");
  EXPECT_EQ(Parse("[a]: 1\n"), "ERROR: t.yaml:1:1: mapping keys must be strings");
  EXPECT_EQ(Parse("a:\n  <<: [1]\n"), "ERROR: t.yaml:2:8: merge key \"<<\" needs a mapping or a list of mappings");
  EXPECT_EQ(Parse("a: *nope\n"), "ERROR: t.yaml:1:4: undefined alias \"nope\"");
}

TEST(ParseYamlTest, OnlyOneDocument) {
  EXPECT_EQ(Parse("a: 1\n---\nb: 2\n"), "ERROR: t.yaml:2:1: a compose file must hold a single YAML document");
  EXPECT_EQ(Parse("---\na: 1\n...\n"), "{a: 1}");
}

TEST(ParseYamlTest, TagsAndExplicitStrings) {
  EXPECT_EQ(Parse("a: !!str 1\nb: !reset\nc: !override {x: 1}\nd: \"null\"\n"),
            "{a: '1', b: !reset ~, c: {x: 1}, d: 'null'}");
}

TEST(ParseYamlTest, AliasExpansionIsBounded) {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i)
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + std::string("*a") +
            std::to_string(i - 1) + std::string(", *a") + std::to_string(i - 1) +
            std::string(", *a") + std::to_string(i - 1) + std::string(", *a") + std::to_string(i - 1) +
            std::string(", *a") + std::to_string(i - 1) + std::string(", *a") + std::to_string(i - 1) +
            std::string(", *a") + std::to_string(i - 1) + std::string(", *a") + std::to_string(i - 1) +
            std::string(", *a") + std::to_string(i - 1) + std::string(", *a") + std::to_string(i - 1) + "]\n";
  auto n = ParseYaml("laughs.yaml", text);
  ASSERT_FALSE(n.has_value());
  EXPECT_EQ(n.error().message(), "YAML document expands to too many nodes");
}

TEST(NodeTest, SetFindErase) {
  Node m = Node::Map();
  m.Set("a", Node::Scalar("1"));
  m.Set("b", Node::Scalar("2"));
  m.Set("a", Node::Scalar("3"));
  EXPECT_EQ(Show(m), "{a: '3', b: '2'}");
  EXPECT_TRUE(m.Erase("a"));
  EXPECT_FALSE(m.Erase("a"));
  EXPECT_EQ(m.Find("a"), nullptr);
  EXPECT_EQ(Show(m), "{b: '2'}");
}

}  // namespace
}  // namespace kiln::compose
