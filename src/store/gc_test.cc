#include "store/gc.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "store/store.h"
#include "store/store_internal.h"
#include "store/testing/test_store.h"

namespace kiln::store {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

template <typename T>
std::vector<T> Sorted(std::vector<T> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// A store with one of everything GC distinguishes:
//   tagged image T: manifest mT, config cT, layer lT, snapshot sT (parent sBase)
//   dangling image D: manifest mD, config cD, layers lT (shared) and lD
//   cache entry "k": blob bK, snapshot sK (parent sT)
//   persistent lease "pin": blob bL
//   unreferenced: blob U, snapshot sU
class GcTest : public testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    mT = PutBlob("manifest T");
    cT = PutBlob("config T!");
    lT = PutBlob("layer T shared");
    mD = PutBlob("manifest D....");
    cD = PutBlob("config D.......");
    lD = PutBlob("layer D..........");
    bK = PutBlob("cache blob........");
    bL = PutBlob("leased blob.........");
    U = PutBlob("unreferenced blob...........");
    sBase = Snap("base", std::nullopt);
    sT = Snap("snapshot T", sBase);
    sK = Snap("snapshot K....", sT);
    sU = Snap("snapshot U.........", std::nullopt);
    ASSERT_TRUE(store_->PutImage({mT, cT, "m", 10, 0, {}},
                                 {{RefKind::kBlob, cT}, {RefKind::kBlob, lT}, {RefKind::kSnapshot, sT}}));
    ASSERT_TRUE(store_->SetTag("t:latest", mT));
    ASSERT_TRUE(store_->PutImage({mD, cD, "m", 20, 0, {}},
                                 {{RefKind::kBlob, cD}, {RefKind::kBlob, lT}, {RefKind::kBlob, lD}}));
    ASSERT_TRUE(store_->PutLayer({lT, Digest::Of("tar T"), "gzip", 14}));
    ASSERT_TRUE(store_->PutLayer({lD, Digest::Of("tar D"), "gzip", 17}));
    ASSERT_TRUE(store_->PutCacheEntry("k", "{}", {{RefKind::kBlob, bK}, {RefKind::kSnapshot, sK}}));
    ASSERT_TRUE(store_->AddLease("pin", LeaseLifetime::kPersistent, {{RefKind::kBlob, bL}}));
  }

  Digest Snap(std::string_view content, std::optional<Digest> parent) {
    auto st = store_->PrepareSnapshot(Digest::Of(content), parent);
    EXPECT_TRUE(st);
    EXPECT_TRUE(WriteFile(JoinPath(st->path, "f"), content));
    auto info = store_->CommitSnapshot(*st);
    EXPECT_TRUE(info) << info.error().Render();
    return st->chain_id;
  }
  int64_t Size(const Digest& blob) { return *store_->blobs().Size(blob); }
  std::vector<std::string> BlobFiles() {
    auto names = ListDirectoryIfExists(JoinPath(root_, "blobs/sha256"));
    return names ? *names : std::vector<std::string>{};
  }

  Digest mT, cT, lT, mD, cD, lD, bK, bL, U;
  Digest sBase, sT, sK, sU;
};

TEST_F(GcTest, DefaultPruneRemovesDanglingImagesBuildCacheAndGarbage) {
  auto r = store_->Prune();
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_THAT(r->images, ElementsAre(mD));
  EXPECT_THAT(r->tags, IsEmpty());
  EXPECT_THAT(r->cache_entries, ElementsAre("k"));
  EXPECT_EQ(r->snapshots, Sorted(std::vector<Digest>{sK, sU}));
  EXPECT_EQ(r->blobs, Sorted(std::vector<Digest>{mD, cD, lD, bK, U}));
  EXPECT_THAT(r->cache_mounts, IsEmpty());
  EXPECT_EQ(r->reclaimed, 14 + 15 + 17 + 18 + 28 + 14 + 19);
  // What is left works, and nothing else is on disk.
  EXPECT_TRUE(store_->GetImage(mT));
  EXPECT_FALSE(store_->GetImage(mD));
  EXPECT_FALSE(store_->GetCacheEntry("k"));
  EXPECT_TRUE(store_->GetSnapshot(sT));
  EXPECT_TRUE(store_->GetSnapshot(sBase));
  EXPECT_FALSE(store_->GetSnapshot(sK));
  EXPECT_FALSE(PathExists(JoinPath(root_, "snapshots/" + sK.hex())));
  EXPECT_EQ(BlobFiles(), Sorted(std::vector<std::string>{mT.hex(), cT.hex(), lT.hex(), bL.hex()}));
  EXPECT_TRUE(store_->GetLayer(lT));
  EXPECT_EQ(store_->GetLayer(lD).error().code(), ErrorCode::kNotFound);
  auto check = store_->Check(CheckMode::kReport);
  ASSERT_TRUE(check);
  EXPECT_THAT(check->problems, IsEmpty());
  // A second prune finds nothing.
  auto again = store_->Prune();
  ASSERT_TRUE(again);
  EXPECT_THAT(again->blobs, IsEmpty());
  EXPECT_EQ(again->reclaimed, 0);
}

TEST_F(GcTest, PruneWithoutRecordRemovalOnlySweepsUnreferenced) {
  PruneOptions opts;
  opts.images = PruneImages::kNone;
  opts.build_cache = false;
  auto r = store_->Prune(opts);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->images, IsEmpty());
  EXPECT_THAT(r->cache_entries, IsEmpty());
  EXPECT_THAT(r->snapshots, ElementsAre(sU));
  EXPECT_THAT(r->blobs, ElementsAre(U));
  EXPECT_EQ(r->reclaimed, 28 + 19);
}

TEST_F(GcTest, PruneAllKeepsOnlyLeases) {
  PruneOptions opts;
  opts.images = PruneImages::kAll;
  auto r = store_->Prune(opts);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->images, Sorted(std::vector<Digest>{mT, mD}));
  EXPECT_THAT(r->tags, ElementsAre("t:latest"));
  EXPECT_EQ(BlobFiles(), std::vector<std::string>{bL.hex()});
  auto snaps = store_->ListSnapshots();
  ASSERT_TRUE(snaps);
  EXPECT_THAT(*snaps, IsEmpty());
  auto listed = ListDirectoryIfExists(JoinPath(root_, "snapshots"));
  ASSERT_TRUE(listed);
  EXPECT_THAT(*listed, IsEmpty());
  ASSERT_TRUE(store_->RemoveLease("pin"));
  r = store_->Prune(opts);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->blobs, ElementsAre(bL));
}

TEST_F(GcTest, CacheUnusedForKeepsRecentlyUsedEntries) {
  *clock_.now += 1000;
  ASSERT_TRUE(store_->PutCacheEntry("fresh", "{}", {{RefKind::kBlob, U}}));
  PruneOptions opts;
  opts.images = PruneImages::kNone;
  opts.cache_unused_for = 500;
  auto r = store_->Prune(opts);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->cache_entries, ElementsAre("k"));
  EXPECT_TRUE(store_->GetCacheEntry("fresh"));
  EXPECT_TRUE(store_->blobs().Has(U));
}

TEST_F(GcTest, CacheMountsGoOnlyWhenAsked) {
  auto dir = store_->CacheMountDir("apt");
  ASSERT_TRUE(dir);
  ASSERT_TRUE(WriteFile(JoinPath(*dir, "pkg"), "0123456789"));
  auto r = store_->Prune();
  ASSERT_TRUE(r);
  EXPECT_THAT(r->cache_mounts, IsEmpty());
  EXPECT_TRUE(PathExists(*dir));
  PruneOptions opts;
  opts.cache_mounts = true;
  r = store_->Prune(opts);
  ASSERT_TRUE(r);
  EXPECT_THAT(r->cache_mounts, ElementsAre("apt"));
  EXPECT_EQ(r->reclaimed, 10);
  EXPECT_FALSE(PathExists(*dir));
}

TEST_F(GcTest, SessionLeaseEndsWithItsSession) {
  Digest pending = PutBlob("written, image not recorded yet");
  ASSERT_TRUE(store_->AddLease("build-1", LeaseLifetime::kSession, {{RefKind::kBlob, pending}}));
  auto r = store_->Prune();
  ASSERT_TRUE(r);
  EXPECT_TRUE(store_->blobs().Has(pending));
  store_ = OpenStore();  // the old session closed
  r = store_->Prune();
  ASSERT_TRUE(r);
  EXPECT_FALSE(store_->blobs().Has(pending));
}

TEST_F(GcTest, SessionLeaseOfKilledProcessIsDropped) {
  store_.reset();
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto s = Store::Open(root_);
    if (!s) ::_exit(2);
    auto d = (*s)->blobs().Put("leased by a doomed build");
    if (!d || !(*s)->AddLease("build", LeaseLifetime::kSession, {{RefKind::kBlob, *d}})) ::_exit(3);
    char c = 'x';
    (void)::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::kill(pid, SIGKILL);
  int status;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(ready[0]);
  ::close(ready[1]);
  store_ = OpenStore();
  Digest d = Digest::Of("leased by a doomed build");
  EXPECT_TRUE(store_->blobs().Has(d));
  auto r = store_->Prune();
  ASSERT_TRUE(r);
  EXPECT_FALSE(store_->blobs().Has(d));
}

TEST_F(GcTest, PruneWaitsForOtherSessionsToClose) {
  auto other = OpenStore();
  std::atomic<bool> done{false};
  std::thread t([&] {
    auto r = store_->Prune();
    EXPECT_TRUE(r);
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(done.load());
  other.reset();
  t.join();
  EXPECT_TRUE(done.load());
  // And a new session can open afterwards: Prune went back to shared.
  EXPECT_TRUE(OpenStore());
}

TEST_F(GcTest, DiskUsage) {
  auto dir = store_->CacheMountDir("go");
  ASSERT_TRUE(dir);
  ASSERT_TRUE(WriteFile(JoinPath(*dir, "obj"), "12345678"));
  auto du = store_->GetDiskUsage();
  ASSERT_TRUE(du) << du.error().Render();
  // images: mT cT lT mD cD lD; dangling D's own blobs are reclaimable.
  EXPECT_EQ(du->images.count, 2);
  EXPECT_EQ(du->images.size, 10 + 9 + 14 + 14 + 15 + 17);
  EXPECT_EQ(du->images.reclaimable, 14 + 15 + 17);
  EXPECT_EQ(du->snapshots.count, 4);
  EXPECT_EQ(du->snapshots.size, 4 + 10 + 14 + 19);
  EXPECT_EQ(du->snapshots.reclaimable, 14 + 19);
  // cache: bK, sK and the chain below it (sT, sBase, held by T too).
  EXPECT_EQ(du->build_cache.count, 1);
  EXPECT_EQ(du->build_cache.size, 18 + 14 + 10 + 4);
  EXPECT_EQ(du->build_cache.reclaimable, 18 + 14);
  EXPECT_EQ(du->cache_mounts.count, 1);
  EXPECT_EQ(du->cache_mounts.size, 8);
  EXPECT_EQ(du->cache_mounts.reclaimable, 0);
}

TEST_F(GcTest, CheckFindsAndRepairsDamage) {
  // Corrupt a blob, lose a snapshot dir, and lose a layer blob.
  ASSERT_TRUE(WriteFile(store_->blobs().Path(cT), "config T?"));
  ASSERT_TRUE(RemoveAll(JoinPath(root_, "snapshots/" + sU.hex())));
  ASSERT_TRUE(store_->blobs().Delete(lD));
  auto report = store_->Check(CheckMode::kReport);
  ASSERT_TRUE(report) << report.error().Render();
  std::vector<std::string> want = {
      fmt::format("blob {}: blob digest mismatch: expected {}, got {}", cT.str(), cT.str(),
                  Digest::Of("config T?").str()),
      fmt::format("snapshot {}: directory is missing", sU.str()),
      fmt::format("image {}: blob {} is missing", mD.str(), lD.str()),
      fmt::format("layer {}: blob is missing", lD.str()),
  };
  EXPECT_EQ(report->problems, want);
  auto repaired = store_->Check(CheckMode::kRepair);
  ASSERT_TRUE(repaired);
  // Repairing the corrupt config also breaks image T, found on the same pass.
  // Owners are checked in digest order.
  std::vector<std::string> images = {want[2],
                                     fmt::format("image {}: blob {} is missing", mT.str(), cT.str())};
  if (mT < mD) std::swap(images[0], images[1]);
  std::vector<std::string> want_repair = {want[0], want[1], images[0], images[1], want[3]};
  EXPECT_EQ(repaired->problems, want_repair);
  auto clean = store_->Check(CheckMode::kReport);
  ASSERT_TRUE(clean);
  EXPECT_THAT(clean->problems, IsEmpty());
  EXPECT_FALSE(store_->GetImage(mT));
  EXPECT_FALSE(store_->GetImage(mD));
  EXPECT_FALSE(store_->ResolveTag("t:latest"));
}

}  // namespace
}  // namespace kiln::store
