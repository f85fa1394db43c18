#include "base/fs.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln {
namespace {

TEST(FsTest, CleanPathMatchesGoSemantics) {
  EXPECT_EQ(CleanPath(""), ".");
  EXPECT_EQ(CleanPath("a/../b/./c"), "b/c");
  EXPECT_EQ(CleanPath("/../x"), "/x");
  EXPECT_EQ(CleanPath("../x"), "../x");
  EXPECT_EQ(CleanPath("//a//b/"), "/a/b");
  EXPECT_EQ(CleanPath("a/.."), ".");
}

TEST(FsTest, JoinDirnameBasename) {
  EXPECT_EQ(JoinPath("/a/", "/b"), "/a/b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
  EXPECT_EQ(Dirname("/a/b"), "/a");
  EXPECT_EQ(Dirname("/a"), "/");
  EXPECT_EQ(Dirname("a"), ".");
  EXPECT_EQ(Basename("/a/b/"), "b");
}

TEST(FsTest, PathIsUnderComparesWholeComponents) {
  EXPECT_TRUE(PathIsUnder("/a/b", "/a"));
  EXPECT_TRUE(PathIsUnder("/a", "/a"));
  EXPECT_TRUE(PathIsUnder("/a", "/"));
  EXPECT_TRUE(PathIsUnder("/", "/"));
  EXPECT_FALSE(PathIsUnder("/ab", "/a"));
  EXPECT_FALSE(PathIsUnder("/a", "/a/b"));
  EXPECT_FALSE(PathIsUnder("/b", "/a"));
}

TEST(FsTest, AtomicWriteReplacesAndLeavesNoTemp) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir);
  std::string p = dir->path() + "/f";
  ASSERT_TRUE(WriteFileAtomic(p, "one"));
  ASSERT_TRUE(WriteFileAtomic(p, "two"));
  EXPECT_EQ(*ReadFile(p), "two");
  ASSERT_TRUE(RemoveAll(p));
  EXPECT_FALSE(PathExists(p));
  EXPECT_EQ(::rmdir(dir->path().c_str()), 0) << "temp file left behind";
  ASSERT_TRUE(MakeDirs(dir->path()));
}

TEST(FsTest, RemoveAllDoesNotFollowSymlinks) {
  auto dir = TempDir::Create();
  auto outside = TempDir::Create();
  ASSERT_TRUE(WriteFile(outside->path() + "/keep", "x"));
  ASSERT_TRUE(MakeDirs(dir->path() + "/a/b"));
  ASSERT_EQ(::symlink(outside->path().c_str(), (dir->path() + "/a/b/link").c_str()), 0);
  ASSERT_TRUE(RemoveAll(dir->path() + "/a"));
  EXPECT_FALSE(PathExists(dir->path() + "/a"));
  EXPECT_TRUE(PathExists(outside->path() + "/keep"));
}

TEST(FsTest, ReadMissingFileIsNotFound) {
  auto r = ReadFile("/nonexistent/kiln");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), "open /nonexistent/kiln: No such file or directory");
}

TEST(FsTest, ListDirectoryIfExistsTakesAMissingDirectoryAsEmpty) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir);
  for (auto n : {"b", "a"}) ASSERT_TRUE(WriteFile(dir->path() + "/" + n, ""));
  EXPECT_EQ(*ListDirectoryIfExists(dir->path()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*ListDirectoryIfExists(dir->path() + "/missing"), std::vector<std::string>{});
  EXPECT_EQ(*ListDirectoryIfExists(dir->path() + "/a/under-a-file"), std::vector<std::string>{});
  EXPECT_EQ(*ListDirectoryIfExists(dir->path() + "/a"), std::vector<std::string>{});  // a file
}

TEST(FsTest, ListDirectoryIsSortedWithoutDots) {
  auto dir = TempDir::Create();
  ASSERT_TRUE(dir);
  for (auto n : {"b", "a", "B", ".hidden", "a.txt"}) ASSERT_TRUE(WriteFile(dir->path() + "/" + n, ""));
  ASSERT_TRUE(MakeDirs(dir->path() + "/sub/inner"));
  ASSERT_EQ(::symlink("/nonexistent", (dir->path() + "/link").c_str()), 0);
  auto fd = OpenFile(dir->path(), O_PATH | O_DIRECTORY);
  ASSERT_TRUE(fd);
  auto names = ListDirectory(fd->get());
  ASSERT_TRUE(names) << names.error().Render();
  EXPECT_EQ(*names, (std::vector<std::string>{".hidden", "B", "a", "a.txt", "b", "link", "sub"}));
  // The fd is neither consumed nor moved: listing again gives the same.
  EXPECT_EQ(*ListDirectory(fd->get()), *names);
  auto empty = OpenFile(dir->path() + "/sub/inner", O_RDONLY | O_DIRECTORY);
  EXPECT_EQ(*ListDirectory(empty->get()), std::vector<std::string>{});
  auto file = OpenFile(dir->path() + "/a", O_RDONLY);
  auto bad = ListDirectory(file->get(), dir->path() + "/a");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "open " + dir->path() + "/a: Not a directory");
}

}  // namespace
}  // namespace kiln
