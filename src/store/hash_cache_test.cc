#include "store/hash_cache.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "store/store.h"

namespace kiln::store {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

FileStamp Stamp(uint64_t ino, int64_t size, int64_t mtime_ns, int64_t ctime_ns) {
  FileStamp s;
  s.dev = 2049;
  s.ino = ino;
  s.size = size;
  s.mtime_ns = mtime_ns;
  s.ctime_ns = ctime_ns;
  s.mode = 0100644;
  return s;
}

class HashCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>(*TempDir::Create("kiln-hashcache"));
    tree_ = Stamp(2, 4096, 0, 0);
  }
  std::string CacheDir() const { return dir_->path() + "/hashcache"; }

  std::unique_ptr<TempDir> dir_;
  FileStamp tree_;
  const Digest a_ = Digest::Of("a");
  const Digest b_ = Digest::Of("b");
  const int64_t now_ = 1'700'000'100 * kSecond;
};

TEST_F(HashCacheTest, HitNeedsTheSameStampAcrossInstances) {
  FileStamp f = Stamp(11, 1, 1'700'000'000 * kSecond, 1'700'000'000 * kSecond + 7);
  {
    HashCache cache(CacheDir());
    EXPECT_EQ(cache.Find(tree_, f), std::nullopt);
    cache.Add(tree_, f, a_, now_);
    EXPECT_EQ(cache.Find(tree_, f), a_);
  }  // the destructor flushes
  HashCache cache(CacheDir());
  EXPECT_EQ(cache.Find(tree_, f), a_);
  // Every field of the stamp matters: a new ctime (any write, chmod or
  // touch) or size, mtime, mode or inode is a miss.
  FileStamp changed = f;
  changed.ctime_ns += 1;
  EXPECT_EQ(cache.Find(tree_, changed), std::nullopt);
  changed = f;
  changed.size = 2;
  EXPECT_EQ(cache.Find(tree_, changed), std::nullopt);
  changed = f;
  changed.mtime_ns -= kSecond;
  EXPECT_EQ(cache.Find(tree_, changed), std::nullopt);
  changed = f;
  changed.mode = 0100755;
  EXPECT_EQ(cache.Find(tree_, changed), std::nullopt);
  changed = f;
  changed.dev = 2050;
  EXPECT_EQ(cache.Find(tree_, changed), std::nullopt);
  // Another tree has its own table.
  EXPECT_EQ(cache.Find(Stamp(3, 4096, 0, 0), f), std::nullopt);
}

TEST_F(HashCacheTest, ANewerDigestReplacesTheOld) {
  HashCache cache(CacheDir());
  FileStamp f = Stamp(11, 1, 0, 1'700'000'000 * kSecond);
  cache.Add(tree_, f, a_, now_);
  FileStamp g = f;
  g.ctime_ns += kSecond;
  cache.Add(tree_, g, b_, now_);
  EXPECT_EQ(cache.Find(tree_, f), std::nullopt);
  EXPECT_EQ(cache.Find(tree_, g), b_);
}

TEST_F(HashCacheTest, RecentlyChangedFilesAreNotRemembered) {
  HashCache cache(CacheDir());
  FileStamp racy = Stamp(11, 1, 0, now_ - kSecond);      // changed 1 s before the stat
  FileStamp settled = Stamp(12, 1, 0, now_ - 3 * kSecond);
  FileStamp future = Stamp(13, 1, 0, now_ + kSecond);    // clock skew
  cache.Add(tree_, racy, a_, now_);
  cache.Add(tree_, settled, a_, now_);
  cache.Add(tree_, future, a_, now_);
  EXPECT_EQ(cache.Find(tree_, racy), std::nullopt);
  EXPECT_EQ(cache.Find(tree_, settled), a_);
  EXPECT_EQ(cache.Find(tree_, future), std::nullopt);
}

TEST_F(HashCacheTest, CorruptOrTruncatedTablesReadAsEmpty) {
  FileStamp f = Stamp(11, 1, 0, 0);
  std::string path;
  {
    HashCache cache(CacheDir());
    cache.Add(tree_, f, a_, now_);
    ASSERT_TRUE(cache.Flush());
    path = cache.TEST_TablePath(tree_);
  }
  auto data = ReadFile(path);
  ASSERT_TRUE(data);
  // magic + one 112-byte record + 64-byte trailer
  EXPECT_EQ(data->size(), 8u + 112u + 64u);
  EXPECT_EQ(data->substr(0, 8), "KILNHC1\n");
  EXPECT_EQ(data->substr(8 + 48, 64), a_.hex());
  std::string flipped = *data;
  flipped[8 + 8] ^= 1;  // the inode number
  ASSERT_TRUE(WriteFile(path, flipped));
  EXPECT_EQ(HashCache(CacheDir()).Find(tree_, f), std::nullopt);
  ASSERT_TRUE(WriteFile(path, data->substr(0, data->size() - 1)));
  EXPECT_EQ(HashCache(CacheDir()).Find(tree_, f), std::nullopt);
  ASSERT_TRUE(WriteFile(path, *data));
  EXPECT_EQ(HashCache(CacheDir()).Find(tree_, f), a_);
}

TEST_F(HashCacheTest, ClearForgetsEverything) {
  HashCache cache(CacheDir());
  FileStamp f = Stamp(11, 1, 0, 0);
  cache.Add(tree_, f, a_, now_);
  ASSERT_TRUE(cache.Flush());
  ASSERT_TRUE(cache.Clear());
  EXPECT_FALSE(PathExists(CacheDir()));
  EXPECT_EQ(cache.Find(tree_, f), std::nullopt);
  EXPECT_EQ(HashCache(CacheDir()).Find(tree_, f), std::nullopt);
}

TEST_F(HashCacheTest, StorePruneOfAllBuildCacheClearsIt) {
  std::string root = dir_->path() + "/store";
  FileStamp f = Stamp(11, 1, 0, 0);
  {
    auto store = Store::Open(root);
    ASSERT_TRUE(store) << store.error().Render();
    (*store)->hash_cache().Add(tree_, f, a_, now_);
  }
  {
    auto store = Store::Open(root);
    ASSERT_TRUE(store);
    EXPECT_EQ((*store)->hash_cache().Find(tree_, f), a_);
    PruneOptions keep_cache;
    keep_cache.build_cache = false;
    ASSERT_TRUE((*store)->Prune(keep_cache));
    EXPECT_EQ((*store)->hash_cache().Find(tree_, f), a_);
    ASSERT_TRUE((*store)->Prune());
    EXPECT_EQ((*store)->hash_cache().Find(tree_, f), std::nullopt);
  }
  EXPECT_FALSE(PathExists(root + "/hashcache"));
}

}  // namespace
}  // namespace kiln::store
