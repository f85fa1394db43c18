// Store: snapshot directories (PrepareSnapshot / CommitSnapshot).
//
// Commit protocol (crash argument in docs/formats/store.md):
//   1. the record says `preparing` (session = us) and the files are in tmp/<session>/
//   2. syncfs: the files are on disk before anything can name them
//   3. under the commit lock: rename into snapshots/<hex>, fsync snapshots/
//   4. the record says `ready`
// A directory in snapshots/ without a ready record and without a live
// preparing session is garbage; Open() removes it.

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_internal.h"

namespace kiln::store {

using internal::Stmt;
using internal::Tx;

namespace {

Result<SnapshotInfo> ReadSnapshot(const Stmt& q, const std::string& root) {
  SnapshotInfo info;
  KILN_TRY_ASSIGN(info.chain_id, Digest::Parse(q.Text(0)));
  if (!q.IsNull(1)) {
    KILN_TRY_ASSIGN(info.parent, Digest::Parse(q.Text(1)));
  }
  info.size = q.Int(2);
  info.created = q.Int(3);
  info.path = JoinPath(root, "snapshots/" + info.chain_id.hex());
  return info;
}

constexpr std::string_view kSnapshotColumns = "chain_id, parent, size, created";

}  // namespace

Result<SnapshotStaging> Store::PrepareSnapshot(const Digest& chain_id,
                                               const std::optional<Digest>& parent) {
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
    KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT state FROM snapshots WHERE chain_id = ?1"));
    KILN_TRY_ASSIGN(bool row, q.Bind(1, chain_id.str()).Step());
    if (row && q.Text(0) == "ready")
      return Fail(Error::Invalid(fmt::format("snapshot {} already exists", chain_id.str())));
    KILN_TRY_ASSIGN(Stmt ins, db_->Prepare(
        "INSERT OR REPLACE INTO snapshots(chain_id, parent, state, session, size, created) "
        "VALUES (?1, ?2, 'preparing', ?3, 0, ?4)"));
    ins.Bind(1, chain_id.str()).Bind(3, session_).Bind(4, Now());
    if (parent) ins.Bind(2, parent->str());
    else ins.BindNull(2);
    KILN_TRY(ins.Run());
    KILN_TRY(tx.Commit());
  }
  std::string path = JoinPath(tmp_dir_, "snap-" + RandomHex(8));
  if (::mkdir(path.c_str(), 0755) != 0) return Fail(Error::Io(path, errno, "mkdir"));
  return SnapshotStaging{chain_id, parent, path, std::nullopt};
}

Result<SnapshotInfo> Store::CommitSnapshot(const SnapshotStaging& staging) {
  auto fail = [&](Error e) -> Result<SnapshotInfo> {
    (void)AbortSnapshot(staging);
    return Fail(std::move(e).Wrap("committing snapshot {}", staging.chain_id.str()));
  };
  int64_t size = staging.size ? *staging.size : internal::TreeSize(staging.path);
  // 2. Everything the caller wrote reaches the disk before the rename can
  //    make it visible. One syncfs is far cheaper than fsync per file.
  {
    auto dir = OpenFile(staging.path, O_RDONLY | O_DIRECTORY);
    if (!dir) return fail(std::move(dir).error());
    if (auto r = file_ops_.SyncFs(dir->get(), staging.path); !r) return fail(std::move(r).error());
  }
  // 3. The commit lock orders us against other committers of the same chain
  //    id and against Open()'s garbage collection of snapshots/.
  std::string hex = staging.chain_id.hex();
  auto commit_lock = FileLock::Acquire(JoinPath(root_, "locks/keys/commit-" + hex),
                                       LockMode::kExclusive);
  if (!commit_lock) return fail(std::move(commit_lock).error());
  if (auto existing = GetSnapshot(staging.chain_id)) {
    (void)RemoveAll(staging.path);
    return existing;
  }
  std::string final_path = SnapshotDir(staging.chain_id);
  // Left by a session that died between rename and record: garbage.
  if (auto r = RemoveAll(final_path); !r) return fail(std::move(r).error());
  if (auto r = file_ops_.Rename(staging.path, final_path); !r) return fail(std::move(r).error());
  std::string snapshots_dir = JoinPath(root_, "snapshots");
  auto undo = [&](Error e) -> Result<SnapshotInfo> {
    (void)RemoveAll(final_path);
    return fail(std::move(e));
  };
  {
    auto dir = OpenFile(snapshots_dir, O_RDONLY | O_DIRECTORY);
    if (!dir) return undo(std::move(dir).error());
    if (auto r = file_ops_.Fsync(dir->get(), snapshots_dir); !r) return undo(std::move(r).error());
  }
  // 4. Publish.
  int64_t now = Now();
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    auto ins = db_->Prepare(
        "INSERT OR REPLACE INTO snapshots(chain_id, parent, state, session, size, created) "
        "VALUES (?1, ?2, 'ready', NULL, ?3, ?4)");
    if (!ins) return undo(std::move(ins).error());
    ins->Bind(1, staging.chain_id.str()).Bind(3, size).Bind(4, now);
    if (staging.parent) ins->Bind(2, staging.parent->str());
    else ins->BindNull(2);
    if (auto r = ins->Run(); !r) return undo(std::move(r).error());
  }
  return SnapshotInfo{staging.chain_id, staging.parent, final_path, size, now};
}

Result<void> Store::AbortSnapshot(const SnapshotStaging& staging) {
  KILN_TRY(RemoveAll(staging.path));
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt del, db_->Prepare(
      "DELETE FROM snapshots WHERE chain_id = ?1 AND state = 'preparing' AND session = ?2"));
  return del.Bind(1, staging.chain_id.str()).Bind(2, session_).Run();
}

Result<SnapshotInfo> Store::GetSnapshot(const Digest& chain_id) {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(fmt::format(
      "SELECT {} FROM snapshots WHERE chain_id = ?1 AND state = 'ready'", kSnapshotColumns)));
  KILN_TRY_ASSIGN(bool row, q.Bind(1, chain_id.str()).Step());
  if (!row) return Fail(Error::NotFound(fmt::format("snapshot {} not found", chain_id.str())));
  return ReadSnapshot(q, root_);
}

Result<std::vector<SnapshotInfo>> Store::ListSnapshots() {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare(fmt::format(
      "SELECT {} FROM snapshots WHERE state = 'ready' ORDER BY chain_id", kSnapshotColumns)));
  std::vector<SnapshotInfo> out;
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) return out;
    KILN_TRY_ASSIGN(SnapshotInfo info, ReadSnapshot(q, root_));
    out.push_back(std::move(info));
  }
}

}  // namespace kiln::store
