#include "solver/copy.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <map>
#include <tuple>

#include "dockerfile/dockerignore.h"

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

// The key's bytes are docs/formats/cache-key.md's, in walk order, also when
// large files are hashed on another thread while the walk goes on.
TEST_F(CopyTest, HashOfLargeAndSmallFilesFollowsTheFormat) {
  std::string big(3 << 20, 'b'), huge(5 << 20, 'h');
  Put(ctx_->path(), "d/a-big", big);
  Put(ctx_->path(), "d/b-small", "s");
  Put(ctx_->path(), "d/c-huge", huge);
  for (const char* f : {"d/a-big", "d/b-small", "d/c-huge"}) ::chmod((ctx_->path() + "/" + f).c_str(), 0644);
  ::chmod((ctx_->path() + "/d").c_str(), 0755);
  std::string want;
  auto record = [&](const std::string& path, const std::string& mode, const std::string& content) {
    want += path + '\0' + mode + '\0' + content + '\n';
  };
  record("d", "40755", "");
  record("d/a-big", "100644", Digest::Of(big).hex());
  record("d/b-small", "100644", Digest::Of("s").hex());
  record("d/c-huge", "100644", Digest::Of(huge).hex());
  auto h = HashPath(ctx_fd_.get(), "d", nullptr);
  ASSERT_TRUE(h) << h.error().Render();
  EXPECT_EQ(h->str(), Digest::Of(want).str());
}

// Every path below `root`, sorted, directories with a trailing '/'.
std::vector<std::string> Tree(const std::string& root, const std::string& rel = "") {
  std::vector<std::string> out;
  auto dir = OpenFile(rel.empty() ? root : root + "/" + rel, O_RDONLY | O_DIRECTORY);
  EXPECT_TRUE(dir) << rel;
  if (!dir) return out;
  auto names = ListDirectory(dir->get());
  EXPECT_TRUE(names) << rel;
  if (!names) return out;
  for (const auto& n : *names) {
    std::string path = rel.empty() ? n : rel + "/" + n;
    struct stat st;
    EXPECT_EQ(::lstat((root + "/" + path).c_str(), &st), 0);
    out.push_back(S_ISDIR(st.st_mode) ? path + "/" : path);
    if (S_ISDIR(st.st_mode))
      for (auto& p : Tree(root, path)) out.push_back(std::move(p));
  }
  return out;
}

// .dockerignore's `!` can reach into an excluded directory: the walk looks
// inside it, copies what is included again and creates the directories
// above it, and no other part of it (BuildKit's behaviour for `COPY . /`).
TEST_F(CopyTest, ReincludedPathInsideExcludedDirectoryIsCopied) {
  Put(ctx_->path(), "dir/sub/f", "F");
  Put(ctx_->path(), "dir/sub/deep/g", "G");
  Put(ctx_->path(), "dir/other/h", "H");
  Put(ctx_->path(), "dir/top.txt", "T");
  Put(ctx_->path(), "logs/a.log", "A");
  Put(ctx_->path(), "logs/old/b.keep", "B");
  Put(ctx_->path(), "keep.txt", "K");
  ASSERT_EQ(::chmod((ctx_->path() + "/dir").c_str(), 0750), 0);
  // "logs" may hold a "logs/*.keep", so it is looked into; it has none at
  // its top level and is not created.
  auto m = dockerfile::Matcher::Parse("dir\n!dir/sub\nlogs\n!logs/*.keep\n");
  ASSERT_TRUE(m) << m.error().Render();
  CopyOptions opt;
  opt.excluded = [&](const std::string& p) { return m->Matches(p); };
  opt.can_skip_dir = [&](const std::string& p) { return m->CanSkipDir(p); };
  auto r = CopyPath(ctx_fd_.get(), ".", img_fd_.get(), "/", DestKind::kDirectory, opt);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(Tree(img_->path()),
            (std::vector<std::string>{"dir/", "dir/sub/", "dir/sub/deep/", "dir/sub/deep/g", "dir/sub/f", "keep.txt"}));
  EXPECT_EQ(*ReadFile(img_->path() + "/dir/sub/deep/g"), "G");
  struct stat st;
  ASSERT_EQ(::stat((img_->path() + "/dir").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);

  // The key covers exactly what is copied: the context hashed through the
  // filter equals the copy hashed whole, and only included files change it.
  auto key = HashPath(ctx_fd_.get(), ".", opt.excluded, opt.can_skip_dir);
  ASSERT_TRUE(key) << key.error().Render();
  EXPECT_EQ(*key, *HashPath(img_fd_.get(), ".", nullptr));
  Put(ctx_->path(), "dir/other/h", "changed");
  Put(ctx_->path(), "logs/c.log", "new");
  EXPECT_EQ(*HashPath(ctx_fd_.get(), ".", opt.excluded, opt.can_skip_dir), *key);
  Put(ctx_->path(), "dir/sub/f", "changed");
  EXPECT_NE(*HashPath(ctx_fd_.get(), ".", opt.excluded, opt.can_skip_dir), *key);
  Put(ctx_->path(), "dir/sub/f", "F");
  Put(ctx_->path(), "logs/x.keep", "X");
  EXPECT_NE(*HashPath(ctx_fd_.get(), ".", opt.excluded, opt.can_skip_dir), *key);

  // Without can_skip_dir an excluded directory is skipped whole.
  auto img2 = TempDir::Create("kiln-img2");
  ASSERT_TRUE(img2);
  auto img2_fd = OpenFile(img2->path(), O_RDONLY | O_DIRECTORY);
  opt.can_skip_dir = nullptr;
  ASSERT_TRUE(CopyPath(ctx_fd_.get(), ".", img2_fd->get(), "/", DestKind::kDirectory, opt));
  EXPECT_EQ(Tree(img2->path()), (std::vector<std::string>{"keep.txt"}));
}

// A source that names an excluded directory is found when something below
// it is included again, and copies just that.
TEST_F(CopyTest, ReincludedPathKeepsItsExcludedDirectoryAsASource) {
  Put(ctx_->path(), "dir/sub/f", "F");
  Put(ctx_->path(), "dir/top.txt", "T");
  Put(ctx_->path(), "logs/a.log", "A");
  auto m = dockerfile::Matcher::Parse("dir\n!dir/sub\nlogs\n!logs/*.keep\n");
  ASSERT_TRUE(m) << m.error().Render();
  ExcludeFn excluded = [&](const std::string& p) { return m->Matches(p); };
  ExcludeFn can_skip_dir = [&](const std::string& p) { return m->CanSkipDir(p); };
  auto r = ExpandSources(ctx_fd_.get(), "dir", excluded, can_skip_dir);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (std::vector<std::string>{"dir"}));
  r = ExpandSources(ctx_fd_.get(), "*", excluded, can_skip_dir);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (std::vector<std::string>{"dir"}));
  r = ExpandSources(ctx_fd_.get(), "logs", excluded, can_skip_dir);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "\"/logs\": not found");
  r = ExpandSources(ctx_fd_.get(), "dir", excluded);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "\"/dir\": not found");

  CopyOptions opt;
  opt.excluded = excluded;
  opt.can_skip_dir = can_skip_dir;
  ASSERT_TRUE(CopyPath(ctx_fd_.get(), "dir", img_fd_.get(), "/x", DestKind::kAuto, opt));
  EXPECT_EQ(Tree(img_->path()), (std::vector<std::string>{"x/", "x/sub/", "x/sub/f"}));
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

TEST_F(CopyTest, CopyIntoExistingTreeReplacesFilesAndKeepsOthers) {
  Put(ctx_->path(), "src/a.txt", "new a");
  Put(ctx_->path(), "src/sub/b.txt", "new b");
  Put(ctx_->path(), "src/fresh/c.txt", "c");
  Put(img_->path(), "dst/a.txt", "old a");
  Put(img_->path(), "dst/sub/b.txt", "old b");
  Put(img_->path(), "dst/sub/keep.txt", "kept");
  ASSERT_EQ(::symlink("/nowhere", (img_->path() + "/dst/link").c_str()), 0);
  Put(ctx_->path(), "src/link", "a file now");
  auto r = CopyPath(ctx_fd_.get(), "src", img_fd_.get(), "/dst", DestKind::kAuto, {});
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*ReadFile(img_->path() + "/dst/a.txt"), "new a");
  EXPECT_EQ(*ReadFile(img_->path() + "/dst/sub/b.txt"), "new b");
  EXPECT_EQ(*ReadFile(img_->path() + "/dst/sub/keep.txt"), "kept");
  EXPECT_EQ(*ReadFile(img_->path() + "/dst/fresh/c.txt"), "c");
  EXPECT_EQ(*ReadFile(img_->path() + "/dst/link"), "a file now");
  // A file cannot replace a directory.
  Put(ctx_->path(), "src2/sub", "file");
  r = CopyPath(ctx_fd_.get(), "src2", img_fd_.get(), "/dst", DestKind::kAuto, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cannot replace directory /dst/sub with a non-directory");
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

TEST_F(CopyTest, MkdirAllInRootNamesTheFileInTheWay) {
  Put(img_->path(), "etc/passwd", "root:x:0:0::/root:/bin/sh\n");
  auto r = MkdirAllInRoot(img_fd_.get(), "/etc/passwd/x/y", 0, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.error().message(), "cannot create directory /etc/passwd/x/y: /etc/passwd is not a directory");
}

TEST_F(CopyTest, MkdirAllInRootFollowsLinksInsideRoot) {
  ASSERT_EQ(::symlink("/etc", (img_->path() + "/link").c_str()), 0);
  ASSERT_TRUE(MkdirAllInRoot(img_fd_.get(), "/link/app/data", 1, 2));
  struct stat st;
  ASSERT_EQ(::stat((img_->path() + "/etc/app/data").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

// An in-memory FileDigestCache keyed by the full stat identity, as the
// store's is, counting what HashPath asks of it.
class MapDigestCache : public FileDigestCache {
 public:
  using Key = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t, int64_t, int64_t, mode_t>;
  static Key KeyOf(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
            st.st_ctim.tv_sec, st.st_ctim.tv_nsec, st.st_mode};
  }
  int64_t Now() override { return 0; }
  std::optional<Digest> Find(const struct stat&, const struct stat& file) override {
    auto it = digests.find(KeyOf(file));
    if (it == digests.end()) {
      ++misses;
      return std::nullopt;
    }
    ++hits;
    return it->second;
  }
  void Add(const struct stat&, const struct stat& file, const Digest& d, int64_t) override {
    digests[KeyOf(file)] = d;
  }
  std::map<Key, Digest> digests;
  int hits = 0, misses = 0;
};

class HashPathCacheTest : public CopyTest {
 protected:
  void SetUp() override {
    CopyTest::SetUp();
  }
  struct stat Stat(const std::string& rel) {
    struct stat st;
    EXPECT_EQ(::stat((ctx_->path() + "/" + rel).c_str(), &st), 0);
    return st;
  }
  MapDigestCache cache_;
};

TEST_F(HashPathCacheTest, UnchangedFilesAreNotReadAgain) {
  Put(ctx_->path(), "app/a.txt", "alpha");
  Put(ctx_->path(), "app/b.txt", "beta");
  auto h1 = HashPath(ctx_fd_.get(), "app", nullptr, nullptr, &cache_);
  ASSERT_TRUE(h1) << h1.error().Render();
  EXPECT_EQ(cache_.misses, 2);
  EXPECT_EQ(cache_.hits, 0);
  EXPECT_EQ(cache_.digests[MapDigestCache::KeyOf(Stat("app/a.txt"))], Digest::Of("alpha"));
  EXPECT_EQ(*HashPath(ctx_fd_.get(), "app", nullptr, nullptr, &cache_), *h1);
  EXPECT_EQ(cache_.hits, 2);
  // A remembered digest is used as is, without reading the file: the
  // cache's word is what the key is built from.
  cache_.digests[MapDigestCache::KeyOf(Stat("app/a.txt"))] = Digest::Of("other");
  EXPECT_NE(*HashPath(ctx_fd_.get(), "app", nullptr, nullptr, &cache_), *h1);
  // Without a cache, the same tree hashes the same.
  EXPECT_EQ(*HashPath(ctx_fd_.get(), "app", nullptr), *h1);
}

TEST_F(HashPathCacheTest, TouchIsACacheMissButTheSameKey) {
  Put(ctx_->path(), "f.txt", "content");
  auto h1 = HashPath(ctx_fd_.get(), "f.txt", nullptr, nullptr, &cache_);
  ASSERT_TRUE(h1);
  struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (ctx_->path() + "/f.txt").c_str(), times, 0), 0);
  int misses = cache_.misses;
  EXPECT_EQ(*HashPath(ctx_fd_.get(), "f.txt", nullptr, nullptr, &cache_), *h1);
  EXPECT_EQ(cache_.misses, misses + 1);
  EXPECT_EQ(*HashPath(ctx_fd_.get(), "f.txt", nullptr, nullptr, &cache_), *h1);
  EXPECT_EQ(cache_.misses, misses + 1);
}

TEST_F(HashPathCacheTest, ContentChangeWithTheSameMtimeAndSizeIsAMiss) {
  Put(ctx_->path(), "f.txt", "one byte: a");
  struct stat before = Stat("f.txt");
  auto h1 = HashPath(ctx_fd_.get(), "f.txt", nullptr, nullptr, &cache_);
  ASSERT_TRUE(h1);
  // Same size, mtime put back: only ctime tells the change.
  struct stat after;
  for (int i = 0; i < 200; ++i) {
    Put(ctx_->path(), "f.txt", "one byte: b");
    struct timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::utimensat(AT_FDCWD, (ctx_->path() + "/f.txt").c_str(), times, 0), 0);
    after = Stat("f.txt");
    if (after.st_ctim.tv_sec != before.st_ctim.tv_sec || after.st_ctim.tv_nsec != before.st_ctim.tv_nsec) break;
    ::usleep(1000);  // a coarse ctime clock: wait for its next tick
  }
  ASSERT_EQ(after.st_ino, before.st_ino);
  ASSERT_EQ(after.st_size, before.st_size);
  ASSERT_EQ(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
  ASSERT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
  auto h2 = HashPath(ctx_fd_.get(), "f.txt", nullptr, nullptr, &cache_);
  ASSERT_TRUE(h2);
  EXPECT_NE(*h2, *h1);
  EXPECT_EQ(*HashPath(ctx_fd_.get(), "f.txt", nullptr), *h2);
}

TEST_F(HashPathCacheTest, FilesOnOtherFilesystemsAreAlwaysRead) {
  // ramfs is not on the list of filesystems whose ctime is trusted; a
  // mount inside the context is not the context's filesystem either.
  Put(ctx_->path(), "top.txt", "top");
  ASSERT_TRUE(MakeDirs(ctx_->path() + "/mnt"));
  ASSERT_EQ(::mount("kiln-test", (ctx_->path() + "/mnt").c_str(), "ramfs", 0, nullptr), 0) << errno;
  Put(ctx_->path(), "mnt/inner.txt", "inner");
  auto h = HashPath(ctx_fd_.get(), ".", nullptr, nullptr, &cache_);
  EXPECT_EQ(cache_.misses, 1);  // top.txt only
  EXPECT_EQ(cache_.digests.size(), 1u);
  auto mnt = OpenFile(ctx_->path() + "/mnt", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(mnt);
  auto inner = HashPath(mnt->get(), "inner.txt", nullptr, nullptr, &cache_);
  mnt->Reset();
  ASSERT_EQ(::umount2((ctx_->path() + "/mnt").c_str(), MNT_DETACH), 0);
  ASSERT_TRUE(h) << h.error().Render();
  ASSERT_TRUE(inner) << inner.error().Render();
  EXPECT_EQ(cache_.misses, 1);
  EXPECT_EQ(cache_.hits, 0);
}

// What COPY into a fresh upper dir does for the next build of itself: the
// copied files carry their content digest, and a later copy hard-links the
// files whose digest and metadata are unchanged and copies the others.
TEST_F(HashPathCacheTest, StampedCopyLinksOnlyUnchangedFilesNextTime) {
  Put(ctx_->path(), "app/a.txt", "alpha");
  Put(ctx_->path(), "app/sub/b.txt", "beta");
  Put(ctx_->path(), "app/c.txt", "gamma");
  std::string big(3 << 20, 'x');  // copied on the background thread
  Put(ctx_->path(), "app/big.bin", big);
  ASSERT_TRUE(HashPath(ctx_fd_.get(), "app", nullptr, nullptr, &cache_));
  auto root = [&](const std::string& name) {
    EXPECT_TRUE(MakeDirs(img_->path() + "/" + name));
    return *OpenFile(img_->path() + "/" + name, O_RDONLY | O_DIRECTORY);
  };
  Fd v1 = root("v1"), v2 = root("v2");
  CopyOptions opt;
  opt.stamp_digests = true;
  opt.digest_cache = &cache_;
  auto r = CopyPath(ctx_fd_.get(), "app", v1.get(), "/dst", DestKind::kDirectory, opt);
  ASSERT_TRUE(r) << r.error().Render();
  char value[128] = {};
  ssize_t n = ::getxattr((img_->path() + "/v1/dst/sub/b.txt").c_str(), "trusted.kiln.sha256", value, sizeof value);
  // The raw 32 bytes of the digest.
  std::string hex;
  for (int i = 0; i < n; ++i) hex += fmt::format("{:02x}", static_cast<unsigned char>(value[i]));
  EXPECT_EQ(hex, Digest::Of("beta").hex());

  // b.txt changes; c.txt keeps its content but the old copy's digest is
  // forged, as a hostile snapshot might: neither may be linked.
  Put(ctx_->path(), "app/sub/b.txt", "BETA");
  std::string forged(32, 'x');
  ASSERT_EQ(::setxattr((img_->path() + "/v1/dst/c.txt").c_str(), "trusted.kiln.sha256", forged.data(), forged.size(), 0), 0);
  ASSERT_TRUE(HashPath(ctx_fd_.get(), "app", nullptr, nullptr, &cache_));
  opt.link_from = v1.get();
  r = CopyPath(ctx_fd_.get(), "app", v2.get(), "/dst", DestKind::kDirectory, opt);
  ASSERT_TRUE(r) << r.error().Render();
  auto ino = [&](const std::string& rel) {
    struct stat st;
    EXPECT_EQ(::stat((img_->path() + "/" + rel).c_str(), &st), 0) << rel;
    return st.st_ino;
  };
  EXPECT_EQ(ino("v2/dst/a.txt"), ino("v1/dst/a.txt"));
  EXPECT_EQ(ino("v2/dst/big.bin"), ino("v1/dst/big.bin"));
  EXPECT_EQ(*ReadFile(img_->path() + "/v1/dst/big.bin"), big);
  EXPECT_NE(ino("v2/dst/sub/b.txt"), ino("v1/dst/sub/b.txt"));
  EXPECT_NE(ino("v2/dst/c.txt"), ino("v1/dst/c.txt"));
  EXPECT_EQ(*ReadFile(img_->path() + "/v2/dst/sub/b.txt"), "BETA");
  EXPECT_EQ(*ReadFile(img_->path() + "/v2/dst/c.txt"), "gamma");
  EXPECT_EQ(*ReadFile(img_->path() + "/v1/dst/sub/b.txt"), "beta");

  // Other metadata (here --chmod) is not the linked file's: copy.
  Fd v3 = root("v3");
  opt.chmod = 0600;
  r = CopyPath(ctx_fd_.get(), "app", v3.get(), "/dst", DestKind::kDirectory, opt);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_NE(ino("v3/dst/a.txt"), ino("v1/dst/a.txt"));
}

// Every entry below `root`: path, type, mode, owner, mtime, size, content
// or link target, and which earlier path it shares an inode with.
std::vector<std::string> FullListing(const std::string& root) {
  std::vector<std::string> out;
  std::map<ino_t, std::string> inodes;
  for (const auto& rel : Tree(root)) {
    std::string path = root + "/" + (rel.ends_with('/') ? rel.substr(0, rel.size() - 1) : rel);
    struct stat st;
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    std::string line = fmt::format("{} {:o} {}:{} {}.{} {}", rel, st.st_mode, st.st_uid, st.st_gid, st.st_mtim.tv_sec,
                                   st.st_mtim.tv_nsec, S_ISDIR(st.st_mode) ? 0 : st.st_size);
    if (S_ISREG(st.st_mode)) {
      line += " " + Digest::Of(*ReadFile(path)).Short();
      auto [it, fresh] = inodes.try_emplace(st.st_ino, rel);
      if (!fresh) line += " =" + it->second;
    } else if (S_ISLNK(st.st_mode)) {
      char target[256];
      ssize_t n = ::readlink(path.c_str(), target, sizeof target);
      line += " -> " + std::string(target, n > 0 ? n : 0);
    }
    out.push_back(line);
  }
  return out;
}

// The parallel walk (COPY into a fresh upper dir) gives exactly the tree a
// serial copy gives: directory times set after their entries, hard links
// kept, big files copied on the background thread.
TEST_F(CopyTest, ParallelCopyEqualsSerialCopy) {
  for (int d = 0; d < 6; ++d) {
    for (int f = 0; f < 20; ++f) Put(ctx_->path(), fmt::format("src/d{}/s{}/f{}.txt", d, f % 3, f), fmt::format("{}-{}", d, f));
    ::chmod((ctx_->path() + fmt::format("/src/d{}", d)).c_str(), d % 2 ? 0750 : 0755);
  }
  Put(ctx_->path(), "src/big.bin", std::string(3 << 20, 'z'));
  ASSERT_EQ(::link((ctx_->path() + "/src/d0/s0/f0.txt").c_str(), (ctx_->path() + "/src/d5/hard.txt").c_str()), 0);
  ASSERT_EQ(::symlink("../d0/s0/f0.txt", (ctx_->path() + "/src/d1/link").c_str()), 0);
  // Old times everywhere, directories last, so the copy must restore them.
  std::vector<std::string> all = Tree(ctx_->path());
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    struct timespec times[2] = {{1600000000, 5}, {1600000000 + static_cast<long>(it->size()), 123}};
    ::utimensat(AT_FDCWD, (ctx_->path() + "/" + *it).c_str(), times, AT_SYMLINK_NOFOLLOW);
  }
  auto root = [&](const std::string& name) {
    EXPECT_TRUE(MakeDirs(img_->path() + "/" + name));
    return *OpenFile(img_->path() + "/" + name, O_RDONLY | O_DIRECTORY);
  };
  Fd serial = root("serial"), parallel = root("parallel");
  CopyOptions opt;
  opt.uid = 7;
  auto r = CopyPath(ctx_fd_.get(), "src", serial.get(), "/app", DestKind::kDirectory, opt);
  ASSERT_TRUE(r) << r.error().Render();
  opt.parallel = true;
  r = CopyPath(ctx_fd_.get(), "src", parallel.get(), "/app", DestKind::kDirectory, opt);
  ASSERT_TRUE(r) << r.error().Render();
  std::vector<std::string> want = FullListing(img_->path() + "/serial/app");
  EXPECT_EQ(want.size(), 6 + 6 * 3 + 120 + 3u);
  EXPECT_EQ(FullListing(img_->path() + "/parallel/app"), want);
}

// A failure in one directory of a parallel copy is reported, not lost.
TEST_F(CopyTest, ParallelCopyReportsAnError) {
  for (int d = 0; d < 4; ++d) Put(ctx_->path(), fmt::format("src/d{}/f.txt", d), "x");
  ASSERT_TRUE(MakeDirs(img_->path() + "/app/d2"));
  Put(img_->path(), "app/d2/f.txt", "in the way");
  ASSERT_EQ(::chmod((img_->path() + "/app/d2/f.txt").c_str(), 0), 0);
  ASSERT_TRUE(MakeDirs(img_->path() + "/app/d3/f.txt/inner"));  // a directory where a file goes
  CopyOptions opt;
  opt.parallel = true;
  auto r = CopyPath(ctx_fd_.get(), "src", img_fd_.get(), "/app", DestKind::kDirectory, opt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cannot replace directory /app/d3/f.txt with a non-directory");
}

}  // namespace
}  // namespace kiln::solver
