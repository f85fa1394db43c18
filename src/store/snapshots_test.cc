#include "store/snapshots.h"

#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "store/testing/fault_file_ops.h"
#include "store/testing/test_store.h"

namespace kiln::store {
namespace {

using ::testing::IsEmpty;

class SnapshotTest : public testing::StoreTest {
 protected:
  // Prepares and fills a snapshot with one file "data" holding `content`.
  SnapshotStaging Fill(std::string_view content, const std::optional<Digest>& parent = {},
                       Store* store = nullptr) {
    Store& s = store ? *store : *store_;
    auto staging = s.PrepareSnapshot(Digest::Of(content), parent);
    EXPECT_TRUE(staging) << staging.error().Render();
    EXPECT_TRUE(MakeDirs(JoinPath(staging->path, "etc")));
    EXPECT_TRUE(WriteFile(JoinPath(staging->path, "etc/data"), content));
    return *staging;
  }
  std::vector<std::string> Dir(std::string_view rel) {
    auto names = ListDirectoryIfExists(JoinPath(root_, rel));
    EXPECT_TRUE(names);
    return names ? *names : std::vector<std::string>{};
  }
  std::string RowState(const Digest& chain) {
    auto db = internal::Db::Open(JoinPath(root_, "kiln.db"), 1000);
    auto q = (*db)->Prepare("SELECT state FROM snapshots WHERE chain_id = ?1");
    q->Bind(1, chain.str());
    auto row = q->Step();
    return row && *row ? q->Text(0) : "none";
  }
};

TEST_F(SnapshotTest, PrepareCommitGet) {
  Digest base = Digest::Of("base");
  SnapshotStaging st = Fill("layer one", base);
  EXPECT_EQ(Dirname(st.path), JoinPath(root_, "tmp/" + store_->TEST_session()));
  EXPECT_EQ(RowState(st.chain_id), "preparing");
  EXPECT_EQ(store_->GetSnapshot(st.chain_id).error().message(),
            fmt::format("snapshot {} not found", st.chain_id.str()));
  *clock_.now = 1700000100;
  auto info = store_->CommitSnapshot(st);
  ASSERT_TRUE(info) << info.error().Render();
  SnapshotInfo want{st.chain_id, base, JoinPath(root_, "snapshots/" + st.chain_id.hex()), 9,
                    1700000100};
  EXPECT_EQ(info->chain_id, want.chain_id);
  EXPECT_EQ(info->parent, want.parent);
  EXPECT_EQ(info->path, want.path);
  EXPECT_EQ(info->size, want.size);
  EXPECT_EQ(info->created, want.created);
  auto data = ReadFile(JoinPath(info->path, "etc/data"));
  ASSERT_TRUE(data);
  EXPECT_EQ(*data, "layer one");
  EXPECT_FALSE(PathExists(st.path));
  EXPECT_EQ(RowState(st.chain_id), "ready");
  auto got = store_->GetSnapshot(st.chain_id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->path, want.path);
  EXPECT_EQ(got->parent, base);
  EXPECT_EQ(got->size, 9);
  auto list = store_->ListSnapshots();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].chain_id, st.chain_id);
}

TEST_F(SnapshotTest, PrepareOfReadySnapshotIsInvalid) {
  SnapshotStaging st = Fill("x");
  ASSERT_TRUE(store_->CommitSnapshot(st));
  auto again = store_->PrepareSnapshot(st.chain_id, std::nullopt);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(again.error().message(), fmt::format("snapshot {} already exists", st.chain_id.str()));
}

TEST_F(SnapshotTest, SecondCommitterOfSameChainGetsFirstSnapshot) {
  auto other = OpenStore();
  ASSERT_TRUE(other);
  SnapshotStaging mine = Fill("same");
  SnapshotStaging theirs = Fill("same", std::nullopt, other.get());
  ASSERT_TRUE(WriteFile(JoinPath(theirs.path, "marker"), "theirs"));
  ASSERT_TRUE(other->CommitSnapshot(theirs));
  auto info = store_->CommitSnapshot(mine);
  ASSERT_TRUE(info) << info.error().Render();
  EXPECT_TRUE(PathExists(JoinPath(info->path, "marker")));
  EXPECT_FALSE(PathExists(mine.path));
  EXPECT_EQ(Dir("snapshots"), std::vector<std::string>{mine.chain_id.hex()});
}

TEST_F(SnapshotTest, AbortRemovesStagingAndRecord) {
  SnapshotStaging st = Fill("aborted");
  ASSERT_TRUE(store_->AbortSnapshot(st));
  EXPECT_FALSE(PathExists(st.path));
  EXPECT_EQ(RowState(st.chain_id), "none");
}

TEST_F(SnapshotTest, ClosingSessionDropsPreparingRecord) {
  SnapshotStaging st = Fill("unfinished");
  store_.reset();
  EXPECT_EQ(RowState(st.chain_id), "none");
  EXPECT_FALSE(PathExists(st.path));
}

TEST_F(SnapshotTest, OpenRemovesUnrecordedSnapshotDirs) {
  // A commit that died between rename and record.
  std::string garbage = JoinPath(root_, "snapshots/" + Digest::Of("g").hex());
  ASSERT_TRUE(MakeDirs(JoinPath(garbage, "usr")));
  store_ = OpenStore();
  EXPECT_FALSE(PathExists(garbage));
}

TEST_F(SnapshotTest, OpenDropsRecordsOfMissingDirs) {
  SnapshotStaging st = Fill("lost");
  auto info = store_->CommitSnapshot(st);
  ASSERT_TRUE(info);
  ASSERT_TRUE(RemoveAll(info->path));
  store_ = OpenStore();
  auto got = store_->GetSnapshot(st.chain_id);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(RowState(st.chain_id), "none");
}

TEST_F(SnapshotTest, OpenKeepsLiveSessionsWorkAndCleansDeadOnes) {
  // A live session (this one) has a preparing snapshot and scratch dirs.
  SnapshotStaging live = Fill("live");
  auto work = store_->CreateWorkDir();
  ASSERT_TRUE(work);
  // A dead session: lock file not held, leftovers everywhere.
  std::string dead = "00000000deadbeef";
  ASSERT_TRUE(WriteFile(JoinPath(root_, "locks/sessions/" + dead + ".lock"), ""));
  ASSERT_TRUE(MakeDirs(JoinPath(root_, "tmp/" + dead + "/snap-1/bin")));
  ASSERT_TRUE(MakeDirs(JoinPath(root_, "work/" + dead + "/upper")));
  ASSERT_TRUE(MakeDirs(JoinPath(root_, "tmp/no-lock-file")));
  ASSERT_TRUE(WriteFile(JoinPath(root_, "locks/sessions/.1234.new"), ""));
  auto other = OpenStore();
  ASSERT_TRUE(other);
  EXPECT_TRUE(PathExists(live.path));
  EXPECT_TRUE(PathExists(*work));
  EXPECT_EQ(RowState(live.chain_id), "preparing");
  std::vector<std::string> sessions = {store_->TEST_session(), other->TEST_session()};
  std::sort(sessions.begin(), sessions.end());
  EXPECT_EQ(Dir("tmp"), sessions);
  EXPECT_EQ(Dir("work"), sessions);
  std::vector<std::string> locks = {sessions[0] + ".lock", sessions[1] + ".lock"};
  EXPECT_EQ(Dir("locks/sessions"), locks);
  ASSERT_TRUE(store_->CommitSnapshot(live));
}

TEST_F(SnapshotTest, SessionDeathFoundByLockNotByPid) {
  // Another Store in this process is alive: its staging must survive a
  // third Open even though the pid is the same.
  auto other = OpenStore();
  SnapshotStaging st = Fill("other's", std::nullopt, other.get());
  auto third = OpenStore();
  EXPECT_TRUE(PathExists(st.path));
  EXPECT_EQ(RowState(st.chain_id), "preparing");
}

TEST_F(SnapshotTest, LockKeyMakesEachLayerUnpackOnceAcrossThreads) {
  std::atomic<int> unpacked{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        Digest chain = Digest::Of(fmt::format("layer {}", i));
        auto lock = store_->LockKey("snapshot/" + chain.hex());
        if (!lock) {
          ++failures;
          continue;
        }
        if (store_->GetSnapshot(chain)) continue;
        auto st = store_->PrepareSnapshot(chain, std::nullopt);
        if (!st || !WriteFile(JoinPath(st->path, "f"), "x") || !store_->CommitSnapshot(*st)) {
          ++failures;
          continue;
        }
        ++unpacked;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(unpacked.load(), 10);
  EXPECT_EQ(Dir("snapshots").size(), 10u);
}

class SnapshotFaultTest : public SnapshotTest {
 protected:
  void SetUp() override {
    SnapshotTest::SetUp();
    store_.reset();
    store_ = OpenStore(&faults_);
  }
  void ExpectNothingPublished(const SnapshotStaging& st) {
    EXPECT_FALSE(PathExists(st.path));
    EXPECT_THAT(Dir("snapshots"), IsEmpty());
    EXPECT_EQ(RowState(st.chain_id), "none");
    EXPECT_FALSE(store_->GetSnapshot(st.chain_id));
    faults_.Clear();
    SnapshotStaging again = Fill("payload");
    EXPECT_TRUE(store_->CommitSnapshot(again));
  }
  testing::FaultFileOps faults_;
};

TEST_F(SnapshotFaultTest, SyncFsFailure) {
  SnapshotStaging st = Fill("payload");
  faults_.FailAfter(testing::FaultOp::kSyncFs, 0);
  auto r = store_->CommitSnapshot(st);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
  EXPECT_EQ(r.error().Render(),
            fmt::format("syncfs {}: Input/output error\nwhile committing snapshot {}\n", st.path,
                        st.chain_id.str()));
  ExpectNothingPublished(st);
}

TEST_F(SnapshotFaultTest, RenameFailure) {
  SnapshotStaging st = Fill("payload");
  faults_.FailAfter(testing::FaultOp::kRename, 0, EXDEV);
  auto r = store_->CommitSnapshot(st);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Render(),
            fmt::format("rename {}/snapshots/{}: Invalid cross-device link\n"
                        "while committing snapshot {}\n",
                        root_, st.chain_id.hex(), st.chain_id.str()));
  ExpectNothingPublished(st);
}

TEST_F(SnapshotFaultTest, DirectoryFsyncFailureUnpublishes) {
  SnapshotStaging st = Fill("payload");
  faults_.FailAfter(testing::FaultOp::kFsync, 0);
  auto r = store_->CommitSnapshot(st);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Render(),
            fmt::format("fsync {}/snapshots: Input/output error\nwhile committing snapshot {}\n",
                        root_, st.chain_id.str()));
  ExpectNothingPublished(st);
}

}  // namespace
}  // namespace kiln::store
