#include "store/store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "store/sqlite_internal.h"
#include "store/store_internal.h"
#include "store/testing/test_store.h"

namespace kiln::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

class StoreMetadataTest : public testing::StoreTest {
 protected:
  // Stores a manifest, config and layer blob and records the image.
  ImageRecord AddImage(std::string_view name, int64_t created) {
    Digest config = PutBlob(fmt::format("config of {}", name));
    Digest layer = PutBlob(fmt::format("layer of {}", name));
    Digest manifest = PutBlob(fmt::format("manifest of {}", name));
    ImageRecord img{manifest, config, "application/vnd.oci.image.manifest.v1+json", created, 100, {}};
    auto r = store_->PutImage(img, {{RefKind::kBlob, config}, {RefKind::kBlob, layer}});
    EXPECT_TRUE(r) << r.error().Render();
    return img;
  }

  int64_t UserVersion() {
    auto db = internal::Db::Open(JoinPath(root_, "kiln.db"), 1000);
    EXPECT_TRUE(db);
    auto q = (*db)->Prepare("PRAGMA user_version");
    EXPECT_TRUE(q && q->Step());
    return q->Int(0);
  }
};

TEST_F(StoreMetadataTest, OpenCreatesLayoutAndSchema) {
  for (const char* dir : {"blobs/sha256", "snapshots", "tmp", "work", "cache-mounts",
                          "locks/sessions", "locks/keys"})
    EXPECT_TRUE(PathExists(JoinPath(root_, dir))) << dir;
  EXPECT_TRUE(PathExists(JoinPath(root_, "kiln.db")));
  EXPECT_TRUE(PathExists(JoinPath(root_, "lock")));
  EXPECT_TRUE(PathExists(JoinPath(root_, "tmp/" + store_->TEST_session())));
  EXPECT_TRUE(PathExists(JoinPath(root_, "locks/sessions/" + store_->TEST_session() + ".lock")));
  EXPECT_EQ(UserVersion(), internal::kSchemaVersion);
  auto db = internal::Db::Open(JoinPath(root_, "kiln.db"), 1000);
  ASSERT_TRUE(db);
  auto q = (*db)->Prepare("PRAGMA journal_mode");
  ASSERT_TRUE(q && q->Step());
  EXPECT_EQ(q->Text(0), "wal");
}

TEST_F(StoreMetadataTest, CloseRemovesSessionAreas) {
  std::string session = store_->TEST_session();
  auto work = store_->CreateWorkDir();
  ASSERT_TRUE(work);
  EXPECT_TRUE(PathExists(*work));
  store_.reset();
  EXPECT_FALSE(PathExists(*work));
  EXPECT_FALSE(PathExists(JoinPath(root_, "tmp/" + session)));
  EXPECT_FALSE(PathExists(JoinPath(root_, "work/" + session)));
  EXPECT_FALSE(PathExists(JoinPath(root_, "locks/sessions/" + session + ".lock")));
}

TEST_F(StoreMetadataTest, ReopenKeepsDataAndSchema) {
  ImageRecord img = AddImage("a", 5);
  ASSERT_TRUE(store_->SetTag("docker.io/library/a:latest", img.manifest));
  store_.reset();
  store_ = OpenStore();
  auto got = store_->ResolveTag("docker.io/library/a:latest");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, img.manifest);
  EXPECT_EQ(UserVersion(), internal::kSchemaVersion);
}

TEST_F(StoreMetadataTest, NewerSchemaIsUnsupported) {
  store_.reset();
  {
    auto db = internal::Db::Open(JoinPath(root_, "kiln.db"), 1000);
    ASSERT_TRUE(db);
    ASSERT_TRUE((*db)->Exec("PRAGMA user_version = 7"));
  }
  auto s = Store::Open(root_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(s.error().Render(),
            fmt::format("{}/kiln.db: schema version 7 is newer than this kiln supports (3)\n"
                        "while opening store {}\n"
                        "hint: upgrade kiln, or use another --root\n",
                        root_, root_));
}

TEST_F(StoreMetadataTest, ImageRoundTripWithTags) {
  ImageRecord img = AddImage("app", 1234);
  ASSERT_TRUE(store_->SetTag("example.com/app:1", img.manifest));
  ASSERT_TRUE(store_->SetTag("example.com/app:latest", img.manifest));
  auto got = store_->GetImage(img.manifest);
  ASSERT_TRUE(got) << got.error().Render();
  ImageRecord want = img;
  want.tags = {"example.com/app:1", "example.com/app:latest"};
  EXPECT_EQ(*got, want);
  auto refs = store_->ImageRefs(img.manifest);
  ASSERT_TRUE(refs);
  EXPECT_EQ(refs->size(), 3u);  // config, layer, and the manifest itself
  EXPECT_NE(std::find(refs->begin(), refs->end(), Ref{RefKind::kBlob, img.manifest}), refs->end());
}

TEST_F(StoreMetadataTest, RepoDigestsAreKeptPerRepositoryAndGoWithTheImage) {
  ImageRecord img = AddImage("app", 1);
  Digest pushed = Digest::Of("the pushed manifest"), again = Digest::Of("pushed again");
  auto none = store_->GetRepoDigest(img.manifest, "127.0.0.1:5000/app");
  ASSERT_TRUE(none) << none.error().Render();
  EXPECT_EQ(*none, std::nullopt);
  ASSERT_TRUE(store_->SetRepoDigest(img.manifest, "127.0.0.1:5000/app", pushed));
  EXPECT_EQ(*store_->GetRepoDigest(img.manifest, "127.0.0.1:5000/app"), pushed);
  EXPECT_EQ(*store_->GetRepoDigest(img.manifest, "127.0.0.1:5000/other"), std::nullopt);
  ASSERT_TRUE(store_->SetRepoDigest(img.manifest, "127.0.0.1:5000/app", again));
  EXPECT_EQ(*store_->GetRepoDigest(img.manifest, "127.0.0.1:5000/app"), again);
  // Re-recording the image keeps it; removing the image drops it.
  ASSERT_TRUE(store_->PutImage(img, {}));
  EXPECT_EQ(*store_->GetRepoDigest(img.manifest, "127.0.0.1:5000/app"), again);
  ASSERT_TRUE(store_->RemoveImage(img.manifest));
  ASSERT_TRUE(store_->PutImage(img, {}));
  EXPECT_EQ(*store_->GetRepoDigest(img.manifest, "127.0.0.1:5000/app"), std::nullopt);
  Digest nothing = Digest::Of("no image");
  auto r = store_->SetRepoDigest(nothing, "a", pushed);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), fmt::format("image {} not found", nothing.str()));
}

TEST_F(StoreMetadataTest, PutImageNeedsItsBlobs) {
  Digest missing = Digest::Of("never stored");
  Digest manifest = PutBlob("m");
  auto r = store_->PutImage({manifest, missing, "x", 0, 0, {}}, {{RefKind::kBlob, missing}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), fmt::format("blob {} not found", missing.str()));
  auto images = store_->ListImages();
  ASSERT_TRUE(images);
  EXPECT_THAT(*images, IsEmpty());
}

TEST_F(StoreMetadataTest, ListImagesNewestFirst) {
  ImageRecord old_img = AddImage("old", 10);
  ImageRecord new_img = AddImage("new", 20);
  auto list = store_->ListImages();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].manifest, new_img.manifest);
  EXPECT_EQ((*list)[1].manifest, old_img.manifest);
  EXPECT_THAT((*list)[0].tags, IsEmpty());
}

TEST_F(StoreMetadataTest, TagErrors) {
  Digest nothing = Digest::Of("no image");
  auto set = store_->SetTag("a:b", nothing);
  ASSERT_FALSE(set);
  EXPECT_EQ(set.error().message(), fmt::format("image {} not found", nothing.str()));
  auto res = store_->ResolveTag("a:b");
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(res.error().message(), "tag \"a:b\" not found");
  auto rm = store_->RemoveTag("a:b");
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().message(), "tag \"a:b\" not found");
  EXPECT_EQ(store_->SetTag("", nothing).error().message(), "empty tag name");
}

TEST_F(StoreMetadataTest, RetagMovesNameAndRemoveTagLeavesDanglingImage) {
  ImageRecord a = AddImage("a", 1);
  ImageRecord b = AddImage("b", 2);
  ASSERT_TRUE(store_->SetTag("x:latest", a.manifest));
  ASSERT_TRUE(store_->SetTag("x:latest", b.manifest));
  auto tags = store_->ListTags();
  ASSERT_TRUE(tags);
  EXPECT_THAT(*tags, ElementsAre(std::pair<std::string, Digest>("x:latest", b.manifest)));
  ASSERT_TRUE(store_->RemoveTag("x:latest"));
  EXPECT_TRUE(store_->GetImage(b.manifest));
  tags = store_->ListTags();
  ASSERT_TRUE(tags);
  EXPECT_THAT(*tags, IsEmpty());
}

TEST_F(StoreMetadataTest, ResolveImageByTagDigestAndPrefix) {
  ImageRecord img = AddImage("app", 1);
  ASSERT_TRUE(store_->SetTag("docker.io/library/app:latest", img.manifest));
  for (std::string q : {std::string("docker.io/library/app:latest"), img.manifest.str(),
                        img.config.str(), img.config.hex().substr(0, 12),
                        "sha256:" + img.config.hex().substr(0, 5), img.manifest.hex().substr(0, 8)}) {
    auto got = store_->ResolveImage(q);
    ASSERT_TRUE(got) << q << ": " << got.error().Render();
    EXPECT_EQ(got->manifest, img.manifest) << q;
  }
  auto missing = store_->ResolveImage("app");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "no such image: \"app\"");
  EXPECT_FALSE(store_->ResolveImage("ABC"));
  EXPECT_FALSE(store_->ResolveImage(""));
}

TEST_F(StoreMetadataTest, ResolveImageAmbiguousPrefix) {
  // Find two images whose config digests share a first hex digit.
  std::map<char, int> seen;
  std::vector<ImageRecord> imgs;
  char shared = 0;
  for (int i = 0; i < 40 && !shared; ++i) {
    imgs.push_back(AddImage(fmt::format("i{}", i), i));
    if (++seen[imgs.back().config.hex()[0]] == 2) shared = imgs.back().config.hex()[0];
  }
  ASSERT_NE(shared, 0);
  // A one-digit prefix may also match manifest digests; count them all.
  int matches = 0;
  for (const auto& img : imgs)
    if (img.config.hex()[0] == shared || img.manifest.hex()[0] == shared) ++matches;
  auto r = store_->ResolveImage(std::string(1, shared));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.error().message(),
            fmt::format("ambiguous image ID \"{}\": matches {} images", shared, matches));
}

TEST_F(StoreMetadataTest, RemoveImageDropsTagsAndRefs) {
  ImageRecord img = AddImage("gone", 1);
  ASSERT_TRUE(store_->SetTag("gone:1", img.manifest));
  ASSERT_TRUE(store_->RemoveImage(img.manifest));
  EXPECT_EQ(store_->GetImage(img.manifest).error().message(),
            fmt::format("image {} not found", img.manifest.str()));
  EXPECT_FALSE(store_->ResolveTag("gone:1"));
  auto refs = store_->ImageRefs(img.manifest);
  ASSERT_TRUE(refs);
  EXPECT_THAT(*refs, IsEmpty());
  auto again = store_->RemoveImage(img.manifest);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
  // Blobs stay until Prune.
  EXPECT_TRUE(store_->blobs().Has(img.config));
}

TEST_F(StoreMetadataTest, LayerRecords) {
  Digest gz = PutBlob("gzip bytes");
  Digest zst = PutBlob("zstd bytes");
  Digest diff = Digest::Of("tar bytes");
  LayerRecord a{gz, diff, "application/vnd.oci.image.layer.v1.tar+gzip", 10};
  LayerRecord b{zst, diff, "application/vnd.oci.image.layer.v1.tar+zstd", 10};
  ASSERT_TRUE(store_->PutLayer(a));
  ASSERT_TRUE(store_->PutLayer(b));
  auto got = store_->GetLayer(gz);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, a);
  auto by_diff = store_->FindLayersByDiffId(diff);
  ASSERT_TRUE(by_diff);
  std::vector<LayerRecord> want = {a, b};
  std::sort(want.begin(), want.end(), [](auto& x, auto& y) { return x.blob < y.blob; });
  EXPECT_EQ(*by_diff, want);
  EXPECT_EQ(store_->GetLayer(diff).error().message(), fmt::format("layer {} not found", diff.str()));
  EXPECT_EQ(store_->PutLayer({diff, diff, "x", 1}).error().message(),
            fmt::format("blob {} not found", diff.str()));
}

TEST_F(StoreMetadataTest, CacheEntriesTrackLastUse) {
  ASSERT_TRUE(store_->PutCacheEntry("key1", R"({"snapshot":"x"})", {}));
  // Within a minute of the last use, a hit writes nothing.
  *clock_.now += 59;
  auto e = store_->GetCacheEntry("key1");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (CacheEntry{"key1", R"({"snapshot":"x"})", 1700000000, 1700000000}));
  *clock_.now += 1;
  e = store_->GetCacheEntry("key1");
  ASSERT_TRUE(e);
  EXPECT_EQ(*e, (CacheEntry{"key1", R"({"snapshot":"x"})", 1700000000, 1700000060}));
  *clock_.now += 30;
  EXPECT_EQ(store_->GetCacheEntry("key1")->last_used, 1700000060);
  auto missing = store_->GetCacheEntry("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "cache entry \"nope\" not found");
  ASSERT_TRUE(store_->RemoveCacheEntry("key1"));
  EXPECT_FALSE(store_->GetCacheEntry("key1"));
  EXPECT_EQ(store_->RemoveCacheEntry("key1").error().message(), "cache entry \"key1\" not found");
}

TEST_F(StoreMetadataTest, CacheMountDirs) {
  auto dir = store_->CacheMountDir("go-build_1.x");
  ASSERT_TRUE(dir);
  EXPECT_EQ(*dir, root_ + "/cache-mounts/go-build_1.x");
  EXPECT_TRUE(PathExists(*dir));
  for (std::string bad : {"", ".", "..", "a/b", "a b"}) {
    auto r = store_->CacheMountDir(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().message(), fmt::format("invalid cache mount id \"{}\"", bad));
  }
}

TEST_F(StoreMetadataTest, OpenOnAFileFails) {
  std::string file = JoinPath(dir_->path(), "plain-file");
  ASSERT_TRUE(WriteFile(file, "x"));
  auto s = Store::Open(file);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code(), ErrorCode::kIo);
  EXPECT_EQ(s.error().Render(), fmt::format("mkdir {}: Not a directory\nwhile opening store {}\n",
                                            file, file));
}

TEST_F(StoreMetadataTest, TwoSessionsShareMetadata) {
  auto other = OpenStore();
  ASSERT_TRUE(other);
  EXPECT_NE(other->TEST_session(), store_->TEST_session());
  ImageRecord img = AddImage("shared", 1);
  ASSERT_TRUE(other->SetTag("shared:1", img.manifest));
  auto got = store_->ResolveTag("shared:1");
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, img.manifest);
}

TEST_F(StoreMetadataTest, ConcurrentThreadsWriteMetadata) {
  std::vector<ImageRecord> imgs;
  for (int i = 0; i < 8; ++i) imgs.push_back(AddImage(fmt::format("t{}", i), i));
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const ImageRecord& img = imgs[(t + i) % imgs.size()];
        if (!store_->SetTag(fmt::format("t{}:{}", t, i), img.manifest)) ++failures;
        if (!store_->PutCacheEntry(fmt::format("k{}-{}", t, i), "{}", {{RefKind::kBlob, img.config}}))
          ++failures;
        if (!store_->ListImages()) ++failures;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto tags = store_->ListTags();
  ASSERT_TRUE(tags);
  EXPECT_EQ(tags->size(), 100u);
}

}  // namespace
}  // namespace kiln::store
