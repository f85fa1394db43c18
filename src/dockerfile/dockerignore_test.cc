#include "dockerfile/dockerignore.h"

#include <gtest/gtest.h>

#include "base/fs.h"

namespace kiln::dockerfile {
namespace {

Matcher M(std::string_view text) {
  auto m = Matcher::Parse(text);
  EXPECT_TRUE(m) << m.error().Render();
  return m ? *m : Matcher();
}

TEST(DockerignoreTest, PatternsAreCleaned) {
  Matcher m = M("# comment\n\n  /abs  \n./x/\n!./keep\n a/../b \n #not a comment\n");
  std::vector<std::string> got;
  for (const auto& p : m.patterns()) got.push_back((p.exclusion ? "!" : "") + p.pattern + "@" + std::to_string(p.line));
  EXPECT_EQ(got, (std::vector<std::string>{"abs@3", "x@4", "!keep@5", "b@6", "#not a comment@7"}));
}

TEST(DockerignoreTest, RootOnlyWildcards) {
  Matcher m = M("*.go\n");
  EXPECT_TRUE(m.Matches("main.go"));
  EXPECT_FALSE(m.Matches("a/main.go"));
  EXPECT_FALSE(m.Matches("main.go2"));
}

TEST(DockerignoreTest, DoubleStar) {
  Matcher m = M("**/*.go\n");
  EXPECT_TRUE(m.Matches("main.go"));
  EXPECT_TRUE(m.Matches("a/b/main.go"));
  EXPECT_FALSE(m.Matches("a/b/main.c"));
  Matcher all = M("**\n");
  EXPECT_TRUE(all.Matches("anything/at/all"));
  Matcher prefix = M("foo/**\n");
  EXPECT_TRUE(prefix.Matches("foo/x/y"));
  EXPECT_FALSE(prefix.Matches("foo"));
  Matcher mid = M("a/**/z\n");
  EXPECT_TRUE(mid.Matches("a/z"));
  EXPECT_TRUE(mid.Matches("a/b/c/z"));
  EXPECT_FALSE(mid.Matches("a/bz"));
  Matcher suffix = M("**foo\n");
  EXPECT_TRUE(suffix.Matches("barfoo"));
  EXPECT_TRUE(suffix.Matches("x/barfoo"));
  EXPECT_FALSE(suffix.Matches("foox"));
}

TEST(DockerignoreTest, ParentDirectoriesMatch) {
  Matcher m = M("docs\n");
  EXPECT_TRUE(m.Matches("docs"));
  EXPECT_TRUE(m.Matches("docs/a/b.md"));
  EXPECT_FALSE(m.Matches("docsx"));
  EXPECT_FALSE(m.Matches("x/docs"));
}

TEST(DockerignoreTest, ExceptionsAndOrder) {
  Matcher m = M("docs\n!docs/keep.md\n");
  EXPECT_TRUE(m.Matches("docs/a.md"));
  EXPECT_FALSE(m.Matches("docs/keep.md"));
  Matcher later = M("!a\na\n");
  EXPECT_TRUE(later.Matches("a"));
  Matcher md = M("*.md\n!README*.md\nREADME-secret.md\n");
  EXPECT_TRUE(md.Matches("CHANGES.md"));
  EXPECT_FALSE(md.Matches("README.md"));
  EXPECT_TRUE(md.Matches("README-secret.md"));
}

TEST(DockerignoreTest, CharactersAndEscapes) {
  Matcher m = M("a?c\n[x-z].txt\n[^a]b\nq\\*\n");
  EXPECT_TRUE(m.Matches("abc"));
  EXPECT_FALSE(m.Matches("a/c"));
  EXPECT_TRUE(m.Matches("y.txt"));
  EXPECT_FALSE(m.Matches("w.txt"));
  EXPECT_TRUE(m.Matches("cb"));
  EXPECT_FALSE(m.Matches("ab"));
  EXPECT_TRUE(m.Matches("q*"));
  EXPECT_FALSE(m.Matches("qq"));
}

TEST(DockerignoreTest, InputPathsAreCleaned) {
  Matcher m = M("a/b\n");
  EXPECT_TRUE(m.Matches("./a/b"));
  EXPECT_TRUE(m.Matches("a//b/"));
}

TEST(DockerignoreTest, Errors) {
  auto e = Matcher::Parse("ok\n!\n", ".dockerignore");
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().Render(), ".dockerignore:2: illegal exclusion pattern: \"!\"\n 2 | !\n");
  auto bad = Matcher::Parse("[a-\n", "ctx/.dockerignore");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().Summary(), "ctx/.dockerignore:1: syntax error in pattern: \"[a-\"");
  EXPECT_FALSE(Matcher::Parse("x\\\n"));
}

TEST(DockerignoreTest, CanSkipDir) {
  EXPECT_TRUE(M("node_modules\n").CanSkipDir("node_modules"));
  EXPECT_FALSE(M("node_modules\n").CanSkipDir("src"));
  EXPECT_FALSE(M("node_modules\n!node_modules/keep\n").CanSkipDir("node_modules"));
  EXPECT_FALSE(M("node_modules\n!**/keep\n").CanSkipDir("node_modules"));
  EXPECT_TRUE(M("node_modules\n!other\n").CanSkipDir("node_modules"));
  EXPECT_FALSE(M("*\n!src/*.go\n").CanSkipDir("src"));
  EXPECT_TRUE(M("*\n!src/*.go\n").CanSkipDir("vendor"));
}

TEST(DockerignoreTest, LoadPrefersDockerfileSpecificFile) {
  auto dir = TempDir::Create("kiln-dockerignore");
  ASSERT_TRUE(dir);
  std::string ctx = dir->path();
  auto first = [](const Result<Matcher>& m) {
    if (!m) return "error: " + m.error().Summary();
    return m->patterns().empty() ? std::string("<none>") : m->patterns()[0].pattern;
  };
  EXPECT_EQ(first(LoadIgnoreFile(ctx, JoinPath(ctx, "app.Dockerfile"))), "<none>");
  ASSERT_TRUE(WriteFile(JoinPath(ctx, ".dockerignore"), "from-context\n"));
  EXPECT_EQ(first(LoadIgnoreFile(ctx, JoinPath(ctx, "app.Dockerfile"))), "from-context");
  ASSERT_TRUE(WriteFile(JoinPath(ctx, "app.Dockerfile.dockerignore"), "from-app\n"));
  ASSERT_TRUE(WriteFile(JoinPath(ctx, "Dockerfile.dockerignore"), "from-dockerfile\n"));
  EXPECT_EQ(first(LoadIgnoreFile(ctx, JoinPath(ctx, "app.Dockerfile"))), "from-app");
  EXPECT_EQ(first(LoadIgnoreFile(ctx, JoinPath(ctx, "Dockerfile"))), "from-dockerfile");
  ASSERT_TRUE(WriteFile(JoinPath(ctx, "bad.Dockerfile.dockerignore"), "[\n"));
  EXPECT_EQ(first(LoadIgnoreFile(ctx, JoinPath(ctx, "bad.Dockerfile"))),
            "error: " + ctx + "/bad.Dockerfile.dockerignore:1: syntax error in pattern: \"[\"");
}

}  // namespace
}  // namespace kiln::dockerfile
