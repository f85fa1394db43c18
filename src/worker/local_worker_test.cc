// LocalWorker::CommitRootfs against a real store and a real overlay mount
// (the tests run as root, as kiln does).

#include "worker/local_worker.h"

#include <gtest/gtest.h>

#include <map>

#include "archive/stream.h"
#include "archive/tar.h"
#include "archive/testing_util.h"
#include "base/fs.h"
#include "image/oci.h"

namespace kiln::worker {
namespace {

// CommitRootfs runs nothing; a step that tried would fail loudly.
class NoExecutor : public exec::Executor {
 public:
  Result<exec::RunResult> Run(const exec::RunSpec&) override {
    return Fail(Error::Unsupported("this test runs no container"));
  }
};

// path -> contents of the regular files in a tar.
using archive::testing::TarFiles;

class LocalWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("kiln-worker-test");
    ASSERT_TRUE(d);
    dir_ = std::make_unique<TempDir>(std::move(*d));
    auto st = store::Store::Open(dir_->path() + "/root");
    ASSERT_TRUE(st) << st.error().Render();
    store_ = std::move(*st);
    images_ = std::make_unique<ImageStore>(*store_);
  }

  std::unique_ptr<LocalWorker> MakeWorker(std::string compression) {
    LocalWorkerOptions opt;
    opt.scratch_root = dir_->path() + "/run";
    opt.compression = std::move(compression);
    auto w = LocalWorker::Create(*images_, executor_, nullptr, opt);
    EXPECT_TRUE(w) << w.error().Render();
    return w ? std::move(*w) : nullptr;
  }

  // Commits a step that wrote /app/hello.txt on an empty root.
  solver::Commit CommitHello(LocalWorker& worker) {
    auto rootfs = worker.Mount({});
    EXPECT_TRUE(rootfs) << rootfs.error().Render();
    EXPECT_TRUE(MakeDirs((*rootfs)->path() + "/app"));
    EXPECT_TRUE(WriteFile((*rootfs)->path() + "/app/hello.txt", "hello\n"));
    auto commit = worker.CommitRootfs(std::move(*rootfs), Digest(), solver::CommitOptions{});
    EXPECT_TRUE(commit) << commit.error().Render();
    EXPECT_TRUE(commit && commit->layer);
    return commit ? *commit : solver::Commit{};
  }

  std::unique_ptr<TempDir> dir_;
  NoExecutor executor_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ImageStore> images_;
};

TEST_F(LocalWorkerTest, PlainCommitLeavesNoBlobFileUntilTheBlobIsOpened) {
  auto worker = MakeWorker("none");
  ASSERT_TRUE(worker);
  solver::Commit commit = CommitHello(*worker);
  ASSERT_TRUE(commit.layer);
  const solver::LayerRef& layer = *commit.layer;
  EXPECT_EQ(layer.blob, layer.diff_id);
  EXPECT_EQ(layer.chain_id, layer.diff_id);  // the bottom layer
  EXPECT_EQ(layer.media_type, image::kOciLayer);
  EXPECT_EQ(layer.snapshot, store_->root() + "/snapshots/" + layer.chain_id.hex());
  EXPECT_EQ(ReadFile(layer.snapshot + "/app/hello.txt").value_or(""), "hello\n");
  // Its size comes from the layer walk (no second walk of the tree).
  auto snap = store_->GetSnapshot(layer.chain_id);
  ASSERT_TRUE(snap) << snap.error().Render();
  EXPECT_EQ(snap->size, 6);

  EXPECT_FALSE(PathExists(store_->blobs().Path(layer.blob)));
  EXPECT_TRUE(store_->HasBlob(layer.blob));
  auto record = store_->GetLayer(layer.blob);
  ASSERT_TRUE(record) << record.error().Render();
  EXPECT_EQ(*record, (store::LayerRecord{layer.blob, layer.diff_id, std::string(image::kOciLayer),
                                         layer.blob_size, layer.chain_id}));

  auto reader = store_->OpenBlob(layer.blob);
  ASSERT_TRUE(reader) << reader.error().Render();
  auto tar = reader->ReadAll();
  ASSERT_TRUE(tar) << tar.error().Render();
  EXPECT_EQ(Digest::Of(*tar), layer.diff_id);
  EXPECT_EQ(static_cast<int64_t>(tar->size()), layer.blob_size);
  EXPECT_EQ(TarFiles(*tar), (std::map<std::string, std::string>{{"app/hello.txt", "hello\n"}}));
  EXPECT_TRUE(PathExists(store_->blobs().Path(layer.blob)));
}

TEST_F(LocalWorkerTest, CachedPlainStepIsAHitWithoutABlobFile) {
  auto worker = MakeWorker("none");
  ASSERT_TRUE(worker);
  solver::Commit commit = CommitHello(*worker);
  ASSERT_TRUE(worker->CachePut("k1", commit));
  auto hit = worker->CacheGet("k1");
  ASSERT_TRUE(hit) << hit.error().Render();
  ASSERT_TRUE(hit->has_value() && (*hit)->layer);
  EXPECT_EQ((*hit)->layer->blob, commit.layer->blob);
  EXPECT_EQ((*hit)->layer->snapshot, commit.layer->snapshot);
  EXPECT_FALSE(PathExists(store_->blobs().Path(commit.layer->blob)));
}

TEST_F(LocalWorkerTest, SecondCommitOfTheSameLayerReusesTheSnapshot) {
  auto worker = MakeWorker("none");
  ASSERT_TRUE(worker);
  solver::Commit first = CommitHello(*worker);
  solver::Commit second = CommitHello(*worker);
  ASSERT_TRUE(first.layer && second.layer);
  EXPECT_EQ(second.layer->snapshot, first.layer->snapshot);
  EXPECT_FALSE(PathExists(store_->blobs().Path(second.layer->blob)));
  EXPECT_EQ(store_->GetLayer(second.layer->blob)->snapshot, second.layer->chain_id);
}

TEST_F(LocalWorkerTest, PlainCommitOntoASnapshotNoLayerNamesWritesItsBlob) {
  // A gzip build made the snapshot; nothing says its tar is the plain blob,
  // so the plain commit writes the file from its own upper dir.
  auto gzip = MakeWorker("gzip");
  ASSERT_TRUE(gzip);
  solver::Commit first = CommitHello(*gzip);
  auto plain = MakeWorker("none");
  ASSERT_TRUE(plain);
  solver::Commit second = CommitHello(*plain);
  ASSERT_TRUE(first.layer && second.layer);
  EXPECT_EQ(second.layer->snapshot, first.layer->snapshot);
  EXPECT_EQ(second.layer->blob, second.layer->diff_id);
  auto tar = store_->blobs().Read(second.layer->blob);
  ASSERT_TRUE(tar) << tar.error().Render();
  EXPECT_EQ(Digest::Of(*tar), second.layer->diff_id);
  EXPECT_EQ(store_->GetLayer(second.layer->blob)->snapshot, std::nullopt);
}

TEST_F(LocalWorkerTest, GzipCommitStillWritesItsBlob) {
  auto worker = MakeWorker("gzip");
  ASSERT_TRUE(worker);
  solver::Commit commit = CommitHello(*worker);
  ASSERT_TRUE(commit.layer);
  EXPECT_EQ(commit.layer->media_type, image::kOciLayerGzip);
  EXPECT_NE(commit.layer->blob, commit.layer->diff_id);
  EXPECT_TRUE(store_->blobs().Has(commit.layer->blob));
  EXPECT_EQ(store_->GetLayer(commit.layer->blob)->snapshot, std::nullopt);
}

}  // namespace
}  // namespace kiln::worker
