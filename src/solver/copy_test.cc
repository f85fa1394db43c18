#include "solver/copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::solver {
namespace {

class CopyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = std::make_unique<TempDir>(*TempDir::Create("kiln-ctx"));
    img_ = std::make_unique<TempDir>(*TempDir::Create("kiln-img"));
    host_ = std::make_unique<TempDir>(*TempDir::Create("kiln-host"));
    ctx_fd_ = *OpenFile(ctx_->path(), O_RDONLY | O_DIRECTORY);
    img_fd_ = *OpenFile(img_->path(), O_RDONLY | O_DIRECTORY);
  }
  void Put(const std::string& root, const std::string& rel, const std::string& data) {
    ASSERT_TRUE(MakeDirs(Dirname(root + "/" + rel)));
    ASSERT_TRUE(WriteFile(root + "/" + rel, data));
  }
  std::unique_ptr<TempDir> ctx_, img_, host_;
  Fd ctx_fd_, img_fd_;
};

TEST(MatchPatternTest, FollowsGoPathMatch) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  } cases[] = {
      {"*.txt", "a.txt", true},    {"*.txt", "dir/a.txt", false}, {"a?c", "abc", true},
      {"a?c", "a/c", false},       {"[a-c]x", "bx", true},       {"[^a-c]x", "bx", false},
      {"\\*", "*", true},          {"a*b*c", "axxbyyc", true},   {"a*b*c", "axxbyy", false},
      {"*", "", true},             {"ab[c]", "abc", true},       {"*x", "xxx", true},
  };
  for (const auto& c : cases) {
    auto r = MatchPattern(c.pattern, c.name);
    ASSERT_TRUE(r) << c.pattern;
    EXPECT_EQ(*r, c.match) << c.pattern << " vs " << c.name;
  }
  EXPECT_FALSE(MatchPattern("[a-", "a"));
}

TEST_F(CopyTest, ExpandSourcesWildcardsAndExcludes) {
  Put(ctx_->path(), "a.txt", "a");
  Put(ctx_->path(), "b.txt", "b");
  Put(ctx_->path(), "c.md", "c");
  Put(ctx_->path(), "sub/d.txt", "d");
  auto r = ExpandSources(ctx_fd_.get(), "*.txt", [](const std::string& p) { return p == "b.txt"; });
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (std::vector<std::string>{"a.txt"}));
  r = ExpandSources(ctx_fd_.get(), "/sub/*.txt", nullptr);
  EXPECT_EQ(*r, (std::vector<std::string>{"sub/d.txt"}));
  r = ExpandSources(ctx_fd_.get(), "../../sub", nullptr);
  EXPECT_EQ(*r, (std::vector<std::string>{"sub"}));
  auto missing = ExpandSources(ctx_fd_.get(), "nope.txt", nullptr);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "\"/nope.txt\": not found");
  missing = ExpandSources(ctx_fd_.get(), "*.go", nullptr);
  EXPECT_EQ(missing.error().message(), "no source files were specified matching \"*.go\"");
}

TEST_F(CopyTest, HashIgnoresMtimeButNotContent) {
  Put(ctx_->path(), "app/main.c", "int main(){}");
  Put(ctx_->path(), "app/lib/x.h", "#pragma once");
  auto h1 = HashPath(ctx_fd_.get(), "app", nullptr);
  ASSERT_TRUE(h1) << h1.error().Render();
  struct timespec times[2] = {{1, 0}, {1, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (ctx_->path() + "/app/main.c").c_str(), times, 0), 0);
  EXPECT_EQ(*HashPath(ctx_fd_.get(), "app", nullptr), *h1);
  Put(ctx_->path(), "app/main.c", "int main(){ }");
  EXPECT_NE(*HashPath(ctx_fd_.get(), "app", nullptr), *h1);
  auto excluded = HashPath(ctx_fd_.get(), "app", [](const std::string& p) { return p == "app/main.c"; });
  EXPECT_NE(*excluded, *HashPath(ctx_fd_.get(), "app", nullptr));
}

TEST_F(CopyTest, DirectoryContentsCopiedWithChown) {
  Put(ctx_->path(), "src/a", "A");
  Put(ctx_->path(), "src/d/b", "B");
  ASSERT_EQ(::symlink("a", (ctx_->path() + "/src/l").c_str()), 0);
  CopyOptions opt;
  opt.uid = 1000;
  ASSERT_TRUE(CopyPath(ctx_fd_.get(), "src", img_fd_.get(), "/app", DestKind::kAuto, opt));
  EXPECT_EQ(*ReadFile(img_->path() + "/app/d/b"), "B");
  struct stat st;
  ASSERT_EQ(::lstat((img_->path() + "/app/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 1000u);
  ASSERT_EQ(::lstat((img_->path() + "/app/l").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(::lstat((img_->path() + "/app").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
}

TEST_F(CopyTest, FileIntoDirectoryAndRename) {
  Put(ctx_->path(), "f.txt", "F");
  ASSERT_TRUE(CopyPath(ctx_fd_.get(), "f.txt", img_fd_.get(), "/opt/", DestKind::kAuto, {}));
  EXPECT_EQ(*ReadFile(img_->path() + "/opt/f.txt"), "F");
  ASSERT_TRUE(CopyPath(ctx_fd_.get(), "f.txt", img_fd_.get(), "/etc/renamed", DestKind::kAuto, {}));
  EXPECT_EQ(*ReadFile(img_->path() + "/etc/renamed"), "F");
  // An existing directory as destination receives the file.
  ASSERT_TRUE(CopyPath(ctx_fd_.get(), "f.txt", img_fd_.get(), "/opt", DestKind::kAuto, {}));
  EXPECT_TRUE(PathExists(img_->path() + "/opt/f.txt"));
}

TEST_F(CopyTest, SymlinksInContextAndImageStayInsideTheirRoots) {
  Put(host_->path(), "secret", "host data");
  // The context links to a host file by absolute path: resolved inside the
  // context it does not exist.
  ASSERT_EQ(::symlink((host_->path() + "/secret").c_str(), (ctx_->path() + "/escape").c_str()), 0);
  auto r = CopyPath(ctx_fd_.get(), "escape", img_fd_.get(), "/x", DestKind::kAuto, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  // The image plants /target -> <host dir>: the copy lands inside the image.
  Put(ctx_->path(), "f", "payload");
  ASSERT_EQ(::symlink(host_->path().c_str(), (img_->path() + "/target").c_str()), 0);
  ASSERT_TRUE(CopyPath(ctx_fd_.get(), "f", img_fd_.get(), "/target/f", DestKind::kAuto, {}));
  EXPECT_FALSE(PathExists(host_->path() + "/f"));
  EXPECT_EQ(*ReadFile(img_->path() + host_->path() + "/f"), "payload");
}

TEST_F(CopyTest, MkdirAllInRootFollowsLinksInsideRoot) {
  ASSERT_EQ(::symlink("/etc", (img_->path() + "/link").c_str()), 0);
  ASSERT_TRUE(MkdirAllInRoot(img_fd_.get(), "/link/app/data", 1, 2));
  struct stat st;
  ASSERT_EQ(::stat((img_->path() + "/etc/app/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

}  // namespace
}  // namespace kiln::solver
