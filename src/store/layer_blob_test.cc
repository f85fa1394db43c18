// Layer blobs produced from their snapshots on first use (LayerRecord::snapshot):
// Store::HasBlob, Store::OpenBlob, PutLayer's rules, GC and Check.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "archive/layer.h"
#include "archive/stream.h"
#include "archive/tar.h"
#include "archive/testing_util.h"
#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store/testing/test_store.h"

namespace kiln::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr std::string_view kTarMediaType = "application/vnd.oci.image.layer.v1.tar";

// The tar archive::WriteLayerFromUpperDir makes of `dir`, as a build's
// commit hashes it.
std::string LayerTar(const std::string& dir) {
  std::string tar;
  archive::StringSink sink(tar);
  archive::LayerWriteOptions plain;
  plain.compression.compression = archive::Compression::kNone;
  auto info = archive::WriteLayerFromUpperDir(dir, sink, plain);
  EXPECT_TRUE(info) << info.error().Render();
  return tar;
}

// path -> contents of the regular files in a plain tar.
using archive::testing::TarFiles;

class LayerBlobTest : public testing::StoreTest {
 protected:
  // A ready snapshot holding app/<name> = `content` (on top of `parent`),
  // recorded as the only source of its uncompressed layer blob, as
  // LocalWorker::CommitRootfs leaves a built step. Sets tar_ to its bytes.
  LayerRecord BuiltLayer(std::string_view name, std::string_view content,
                         std::optional<Digest> parent = std::nullopt) {
    std::string staging_dir = JoinPath(dir_->path(), "upper-" + std::string(name));
    EXPECT_TRUE(MakeDirs(JoinPath(staging_dir, "app")));
    EXPECT_TRUE(WriteFile(JoinPath(staging_dir, "app/" + std::string(name)), content));
    tar_ = LayerTar(staging_dir);
    Digest diff = Digest::Of(tar_);
    Digest chain = parent ? Digest::Of(parent->str() + " " + diff.str()) : diff;
    auto staging = store_->PrepareSnapshot(chain, parent);
    EXPECT_TRUE(staging) << staging.error().Render();
    EXPECT_EQ(::rmdir(staging->path.c_str()), 0);
    EXPECT_EQ(::rename(staging_dir.c_str(), staging->path.c_str()), 0);
    auto info = store_->CommitSnapshot(*staging);
    EXPECT_TRUE(info) << info.error().Render();
    LayerRecord layer{diff, diff, std::string(kTarMediaType), static_cast<int64_t>(tar_.size()), chain};
    auto put = store_->PutLayer(layer);
    EXPECT_TRUE(put) << put.error().Render();
    return layer;
  }

  std::string SnapshotPath(const Digest& chain) { return JoinPath(root_, "snapshots/" + chain.hex()); }
  std::vector<std::string> StagingFiles() {
    auto names = ListDirectoryIfExists(JoinPath(root_, "tmp/" + store_->TEST_session()));
    return names ? *names : std::vector<std::string>{};
  }

  std::string tar_;
};

TEST_F(LayerBlobTest, OpenBlobWritesTheSnapshotsTarOnce) {
  LayerRecord layer = BuiltLayer("a.txt", "hello\n");
  EXPECT_FALSE(store_->blobs().Has(layer.blob));
  EXPECT_TRUE(store_->HasBlob(layer.blob));

  auto reader = store_->OpenBlob(layer.blob);
  ASSERT_TRUE(reader) << reader.error().Render();
  EXPECT_EQ(reader->size(), static_cast<int64_t>(tar_.size()));
  auto bytes = reader->ReadAll();
  ASSERT_TRUE(bytes) << bytes.error().Render();
  EXPECT_EQ(*bytes, tar_);
  EXPECT_EQ(Digest::Of(*bytes), layer.diff_id);
  EXPECT_EQ(TarFiles(*bytes), (std::map<std::string, std::string>{{"app/a.txt", "hello\n"}}));
  // The file is there now, and a second open reads it as it is.
  EXPECT_TRUE(store_->blobs().Has(layer.blob));
  EXPECT_EQ(*store_->blobs().Read(layer.blob), tar_);
  EXPECT_EQ(*store_->OpenBlob(layer.blob)->ReadAll(), tar_);
  EXPECT_THAT(StagingFiles(), IsEmpty());
}

TEST_F(LayerBlobTest, ConcurrentOpensAllReadTheSameBlob) {
  LayerRecord layer = BuiltLayer("big.bin", std::string(3 << 20, 'x'));
  std::vector<std::string> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      auto r = store_->OpenBlob(layer.blob);
      if (!r) {
        got[i] = "error: " + r.error().Render();
        return;
      }
      auto bytes = r->ReadAll();
      got[i] = bytes ? Digest::Of(*bytes).str() : "error: " + bytes.error().Render();
    });
  for (auto& t : threads) t.join();
  for (const auto& g : got) EXPECT_EQ(g, layer.blob.str());
  EXPECT_THAT(StagingFiles(), IsEmpty());
}

TEST_F(LayerBlobTest, TamperedSnapshotIsDigestMismatchAndStoresNothing) {
  LayerRecord layer = BuiltLayer("a.txt", "hello\n");
  ASSERT_TRUE(WriteFile(JoinPath(SnapshotPath(*layer.snapshot), "app/a.txt"), "HELLO\n"));
  Digest tampered = Digest::Of(LayerTar(SnapshotPath(*layer.snapshot)));

  auto reader = store_->OpenBlob(layer.blob);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(
      reader.error().Render(),
      fmt::format("blob digest mismatch: expected {}, got {}\nwhile writing layer {} from snapshot {}\n",
                  layer.blob.str(), tampered.str(), layer.blob.str(), layer.snapshot->str()));
  EXPECT_FALSE(store_->blobs().Has(layer.blob));
  EXPECT_THAT(StagingFiles(), IsEmpty());
}

TEST_F(LayerBlobTest, MissingBlobWithoutSnapshotIsNotFound) {
  Digest nothing = Digest::Of("no such layer");
  EXPECT_FALSE(store_->HasBlob(nothing));
  auto reader = store_->OpenBlob(nothing);
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(reader.error().message(), fmt::format("blob {} not found", nothing.str()));
  // A record whose snapshot is gone does not make the blob readable either.
  LayerRecord layer = BuiltLayer("a.txt", "hello\n");
  ASSERT_TRUE(RemoveAll(SnapshotPath(*layer.snapshot)));
  store_.reset();
  store_ = OpenStore();  // drops the ready record of the missing directory
  EXPECT_FALSE(store_->HasBlob(layer.blob));
  EXPECT_EQ(store_->OpenBlob(layer.blob).error().message(),
            fmt::format("blob {} not found", layer.blob.str()));
}

TEST_F(LayerBlobTest, PutLayerRules) {
  Digest diff = Digest::Of("tar bytes");
  Digest chain = Digest::Of("not a snapshot");
  // A snapshot-backed record needs its snapshot ready.
  auto r = store_->PutLayer({diff, diff, std::string(kTarMediaType), 9, chain});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), fmt::format("snapshot {} not found", chain.str()));

  // Re-recording the layer without a snapshot (an image registering its
  // layers) keeps the snapshot; the blob counts as stored for it.
  LayerRecord layer = BuiltLayer("a.txt", "hello\n");
  LayerRecord plain = layer;
  plain.snapshot.reset();
  ASSERT_TRUE(store_->PutLayer(plain));
  EXPECT_EQ(*store_->GetLayer(layer.blob), layer);
  EXPECT_THAT(*store_->FindLayersByDiffId(layer.diff_id), ElementsAre(layer));
  Digest manifest = PutBlob("manifest");
  EXPECT_TRUE(store_->PutImage({manifest, manifest, "m", 1, 0, {}}, {{RefKind::kBlob, layer.blob}}));
  EXPECT_TRUE(store_->PutCacheEntry("k", "{}", {{RefKind::kBlob, layer.blob}}));
}

TEST_F(LayerBlobTest, MigratesVersionOneStore) {
  Digest blob = PutBlob("layer");
  ASSERT_TRUE(store_->PutLayer({blob, blob, "gzip", 5}));
  store_.reset();
  {
    // Back to the v1 schema, which had no layers.snapshot (nor the later
    // repo_digests table).
    auto db = internal::Db::Open(JoinPath(root_, "kiln.db"), 1000);
    ASSERT_TRUE(db);
    ASSERT_TRUE(
        (*db)->Exec("DROP TABLE repo_digests; DROP INDEX layers_snapshot; ALTER TABLE layers DROP COLUMN snapshot; "
                    "PRAGMA user_version = 1"));
  }
  store_ = OpenStore();
  ASSERT_TRUE(store_);
  auto got = store_->GetLayer(blob);
  ASSERT_TRUE(got) << got.error().Render();
  EXPECT_EQ(*got, (LayerRecord{blob, blob, "gzip", 5}));
  LayerRecord built = BuiltLayer("a.txt", "hello\n");
  EXPECT_EQ(*store_->GetLayer(built.blob), built);
  auto db = internal::Db::Open(JoinPath(root_, "kiln.db"), 1000);
  ASSERT_TRUE(db);
  auto q = (*db)->Prepare("PRAGMA user_version");
  ASSERT_TRUE(q && q->Step());
  EXPECT_EQ(q->Int(0), internal::kSchemaVersion);
  auto index = (*db)->Prepare("SELECT sql FROM sqlite_master WHERE name = 'layers_snapshot'");
  ASSERT_TRUE(index && index->Step());
  EXPECT_EQ(index->Text(0), "CREATE INDEX layers_snapshot ON layers(snapshot)");
}

TEST_F(LayerBlobTest, GcKeepsTheSnapshotOfAnUnwrittenBlobUntilItIsWritten) {
  // An image refs only blobs: its base layer is a plain file, its top layer
  // lives only as snapshot `top` (on top of snapshot `base`).
  LayerRecord base = BuiltLayer("base.txt", "base\n");
  ASSERT_TRUE(store_->OpenBlob(base.blob));
  LayerRecord top = BuiltLayer("top.txt", "top\n", base.snapshot);
  Digest manifest = PutBlob("manifest");
  ASSERT_TRUE(store_->PutImage({manifest, manifest, "m", 1, 0, {}},
                               {{RefKind::kBlob, base.blob}, {RefKind::kBlob, top.blob}}));
  ASSERT_TRUE(store_->SetTag("app:latest", manifest));

  auto report = store_->Prune();
  ASSERT_TRUE(report) << report.error().Render();
  // The top snapshot (with its parent chain) is where the top blob is; the
  // base blob's file exists, so nothing else needs its snapshot.
  EXPECT_THAT(report->snapshots, IsEmpty());
  EXPECT_THAT(report->blobs, IsEmpty());
  EXPECT_TRUE(PathExists(SnapshotPath(*top.snapshot)));
  EXPECT_TRUE(store_->HasBlob(top.blob));
  EXPECT_THAT(store_->Check(CheckMode::kReport)->problems, IsEmpty());

  // Once written, the blob file is enough: the snapshots go.
  ASSERT_TRUE(store_->OpenBlob(top.blob));
  report = store_->Prune();
  ASSERT_TRUE(report) << report.error().Render();
  std::vector<Digest> want = {*base.snapshot, *top.snapshot};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(report->snapshots, want);
  EXPECT_THAT(report->blobs, IsEmpty());
  EXPECT_EQ(*store_->blobs().Read(top.blob), tar_);
  EXPECT_EQ(store_->GetLayer(top.blob)->snapshot, std::nullopt);
  EXPECT_THAT(store_->Check(CheckMode::kReport)->problems, IsEmpty());
}

TEST_F(LayerBlobTest, GcDropsTheSnapshotAndRecordWhenNothingRefsTheBlob) {
  LayerRecord layer = BuiltLayer("a.txt", "hello\n");
  Digest manifest = PutBlob("manifest");
  ASSERT_TRUE(store_->PutImage({manifest, manifest, "m", 1, 0, {}}, {{RefKind::kBlob, layer.blob}}));
  auto report = store_->Prune();  // the image is dangling
  ASSERT_TRUE(report) << report.error().Render();
  EXPECT_THAT(report->images, ElementsAre(manifest));
  EXPECT_THAT(report->snapshots, ElementsAre(*layer.snapshot));
  EXPECT_FALSE(PathExists(SnapshotPath(*layer.snapshot)));
  EXPECT_FALSE(store_->HasBlob(layer.blob));
  EXPECT_EQ(store_->GetLayer(layer.blob).error().code(), ErrorCode::kNotFound);
}

TEST_F(LayerBlobTest, CheckReportsALayerWhoseSnapshotIsGone) {
  LayerRecord layer = BuiltLayer("a.txt", "hello\n");
  Digest manifest = PutBlob("manifest");
  ASSERT_TRUE(store_->PutImage({manifest, manifest, "m", 1, 0, {}}, {{RefKind::kBlob, layer.blob}}));
  EXPECT_THAT(store_->Check(CheckMode::kReport)->problems, IsEmpty());
  ASSERT_TRUE(RemoveAll(SnapshotPath(*layer.snapshot)));
  auto report = store_->Check(CheckMode::kRepair);
  ASSERT_TRUE(report) << report.error().Render();
  EXPECT_THAT(report->problems,
              ElementsAre(fmt::format("snapshot {}: directory is missing", layer.snapshot->str()),
                          fmt::format("image {}: blob {} is missing", manifest.str(), layer.blob.str()),
                          fmt::format("layer {}: blob is missing and its snapshot {} is gone",
                                      layer.blob.str(), layer.snapshot->str())));
  EXPECT_THAT(store_->Check(CheckMode::kReport)->problems, IsEmpty());
  EXPECT_FALSE(store_->GetImage(manifest));
  EXPECT_FALSE(store_->GetLayer(layer.blob));
}

}  // namespace
}  // namespace kiln::store
