// Store: Prune (mark from records, sweep files), disk usage and Check.
//
// Roots are the refs of every remaining image, cache entry and lease;
// snapshots also keep their parent chain, and a blob that exists only as
// its layer's snapshot (LayerRecord::snapshot) keeps that snapshot.
// Records are deleted in one transaction first, files after it, so a crash
// mid-prune leaves only unrecorded files, which the next Prune (blobs) or
// Open (snapshots) removes.

#include <sys/stat.h>

#include <map>
#include <set>

#include "store/sqlite_internal.h"
#include "store/store.h"
#include "store/store_internal.h"

namespace kiln::store {

using internal::Db;
using internal::Stmt;
using internal::Tx;

namespace {

// The reference graph as stored in kiln.db.
struct Graph {
  // (owner_kind, owner) -> refs
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::string, std::string>>>
      owners;
  std::map<std::string, std::string> parent;  // ready snapshot chain id -> parent ("" if none)
  std::map<std::string, int64_t> snapshot_size;
  // blob -> the snapshot its layer record names, for blobs with no file:
  // the snapshot is where the blob's bytes are.
  std::map<std::string, std::string> blob_snapshot;
};

struct Marked {
  std::set<std::string> blobs;      // digest strings
  std::set<std::string> snapshots;  // chain id strings
};

Result<Graph> LoadGraph(Db& db, const BlobStore& blobs) {
  Graph g;
  KILN_TRY_ASSIGN(Stmt q, db.Prepare("SELECT owner_kind, owner, kind, target FROM refs"));
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) break;
    g.owners[{q.Text(0), q.Text(1)}].emplace_back(q.Text(2), q.Text(3));
  }
  // Owners without refs still count (an image always refs its manifest).
  KILN_TRY_ASSIGN(Stmt s, db.Prepare(
      "SELECT chain_id, IFNULL(parent, ''), size FROM snapshots WHERE state = 'ready'"));
  for (;;) {
    KILN_TRY_ASSIGN(bool row, s.Step());
    if (!row) break;
    g.parent[s.Text(0)] = s.Text(1);
    g.snapshot_size[s.Text(0)] = s.Int(2);
  }
  KILN_TRY_ASSIGN(Stmt l, db.Prepare("SELECT blob, snapshot FROM layers WHERE snapshot IS NOT NULL"));
  for (;;) {
    KILN_TRY_ASSIGN(bool row, l.Step());
    if (!row) break;
    auto blob = Digest::Parse(l.Text(0));
    if (blob && !blobs.Has(*blob)) g.blob_snapshot[l.Text(0)] = l.Text(1);
  }
  return g;
}

void MarkSnapshot(const Graph& g, std::string chain, Marked& m) {
  // A snapshot needs its whole parent chain as lower layers.
  while (!chain.empty() && m.snapshots.insert(chain).second) {
    auto it = g.parent.find(chain);
    chain = it == g.parent.end() ? "" : it->second;
  }
}

// Marks everything reachable from the owners `pick` accepts.
template <typename Pick>
Marked Mark(const Graph& g, Pick pick) {
  Marked m;
  for (const auto& [owner, refs] : g.owners) {
    if (!pick(owner.first, owner.second)) continue;
    for (const auto& [kind, target] : refs) {
      if (kind != "blob") {
        MarkSnapshot(g, target, m);
        continue;
      }
      m.blobs.insert(target);
      if (auto it = g.blob_snapshot.find(target); it != g.blob_snapshot.end()) MarkSnapshot(g, it->second, m);
    }
  }
  return m;
}

Result<std::vector<std::string>> Column(Db& db, std::string_view sql, std::optional<int64_t> arg = {}) {
  KILN_TRY_ASSIGN(Stmt q, db.Prepare(sql));
  if (arg) q.Bind(1, *arg);
  std::vector<std::string> out;
  for (;;) {
    KILN_TRY_ASSIGN(bool row, q.Step());
    if (!row) return out;
    out.push_back(q.Text(0));
  }
}

// Every file in blobs/sha256 with its size.
Result<std::map<std::string, int64_t>> BlobFiles(const std::string& root) {
  std::map<std::string, int64_t> out;
  std::string dir = JoinPath(root, "blobs/sha256");
  KILN_TRY_ASSIGN(auto names, ListDirectoryIfExists(dir));
  for (const auto& n : names) {
    auto d = Digest::Parse("sha256:" + n);
    if (!d) continue;  // not ours; leave it
    struct stat st;
    if (::stat(JoinPath(dir, n).c_str(), &st) == 0) out[d->str()] = st.st_size;
  }
  return out;
}

}  // namespace

Result<PruneReport> Store::Prune(const PruneOptions& options) {
  // 1. Exclusive use of the store: no other session can be mid-write.
  KILN_TRY(store_lock_.Convert(LockMode::kExclusive));
  struct Downgrade {
    FileLock& lock;
    ~Downgrade() { (void)lock.Convert(LockMode::kShared); }
  } downgrade{store_lock_};

  PruneReport report;
  std::vector<std::pair<std::string, int64_t>> dead_snapshots;
  Marked keep;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
    // 2. Drop the records the options select.
    std::vector<std::string> images;
    if (options.images == PruneImages::kDangling) {
      KILN_TRY_ASSIGN(images, Column(*db_, "SELECT manifest FROM images WHERE manifest NOT IN "
                                           "(SELECT manifest FROM tags) ORDER BY manifest"));
    } else if (options.images == PruneImages::kAll) {
      KILN_TRY_ASSIGN(images, Column(*db_, "SELECT manifest FROM images ORDER BY manifest"));
      KILN_TRY_ASSIGN(report.tags, Column(*db_, "SELECT name FROM tags ORDER BY name"));
    }
    for (const auto& m : images) {
      KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM images WHERE manifest = ?1"));
      KILN_TRY(del.Bind(1, m).Run());
      KILN_TRY(internal::DeleteRefs(*db_, "image", m));
      KILN_TRY_ASSIGN(Digest d, Digest::Parse(m));
      report.images.push_back(std::move(d));
    }
    if (options.build_cache) {
      std::optional<int64_t> cutoff;
      if (options.cache_unused_for > 0) cutoff = Now() - options.cache_unused_for;
      KILN_TRY_ASSIGN(report.cache_entries,
                      Column(*db_, cutoff ? "SELECT key FROM cache WHERE last_used <= ?1 ORDER BY key"
                                          : "SELECT key FROM cache ORDER BY key",
                             cutoff));
      for (const auto& k : report.cache_entries) {
        KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM cache WHERE key = ?1"));
        KILN_TRY(del.Bind(1, k).Run());
        KILN_TRY(internal::DeleteRefs(*db_, "cache", k));
      }
    }
    // 3. Mark from what is left, then drop unreachable snapshot and layer records.
    KILN_TRY_ASSIGN(Graph g, LoadGraph(*db_, *blobs_));
    keep = Mark(g, [](const std::string&, const std::string&) { return true; });
    for (const auto& [chain, size] : g.snapshot_size) {
      if (keep.snapshots.count(chain)) continue;
      KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM snapshots WHERE chain_id = ?1"));
      KILN_TRY(del.Bind(1, chain).Run());
      // Layers whose blob file exists no longer point at it.
      KILN_TRY_ASSIGN(Stmt forget, db_->Prepare("UPDATE layers SET snapshot = NULL WHERE snapshot = ?1"));
      KILN_TRY(forget.Bind(1, chain).Run());
      dead_snapshots.emplace_back(chain, size);
    }
    KILN_TRY_ASSIGN(auto layer_blobs, Column(*db_, "SELECT blob FROM layers"));
    for (const auto& b : layer_blobs) {
      if (keep.blobs.count(b)) continue;
      KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM layers WHERE blob = ?1"));
      KILN_TRY(del.Bind(1, b).Run());
    }
    KILN_TRY(tx.Commit());
  }
  // 4. Sweep files. Unrecorded files are garbage whatever happens next.
  for (const auto& [chain, size] : dead_snapshots) {
    KILN_TRY_ASSIGN(Digest d, Digest::Parse(chain));
    KILN_TRY(RemoveAll(SnapshotDir(d)));
    report.snapshots.push_back(std::move(d));
    report.reclaimed += size;
  }
  KILN_TRY_ASSIGN(auto files, BlobFiles(root_));
  for (const auto& [digest, size] : files) {
    if (keep.blobs.count(digest)) continue;
    KILN_TRY_ASSIGN(Digest d, Digest::Parse(digest));
    KILN_TRY(blobs_->Delete(d));
    report.blobs.push_back(std::move(d));
    report.reclaimed += size;
  }
  // The hash cache is build cache too, but has no use times: only a prune
  // of all of it clears it.
  if (options.build_cache && options.cache_unused_for <= 0) KILN_TRY(hash_cache_->Clear());
  if (options.cache_mounts) {
    std::string dir = JoinPath(root_, "cache-mounts");
    KILN_TRY_ASSIGN(report.cache_mounts, ListDirectoryIfExists(dir));
    for (const auto& id : report.cache_mounts) {
      report.reclaimed += internal::TreeSize(JoinPath(dir, id));
      KILN_TRY(RemoveAll(JoinPath(dir, id)));
    }
  }
  return report;
}

Result<DiskUsage> Store::GetDiskUsage() {
  DiskUsage du;
  Graph g;
  std::set<std::string> tagged;
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    KILN_TRY_ASSIGN(g, LoadGraph(*db_, *blobs_));
    KILN_TRY_ASSIGN(auto images, Column(*db_, "SELECT manifest FROM images"));
    du.images.count = static_cast<int64_t>(images.size());
    KILN_TRY_ASSIGN(auto t, Column(*db_, "SELECT DISTINCT manifest FROM tags"));
    tagged.insert(t.begin(), t.end());
    KILN_TRY_ASSIGN(auto cache, Column(*db_, "SELECT key FROM cache"));
    du.build_cache.count = static_cast<int64_t>(cache.size());
  }
  KILN_TRY_ASSIGN(auto files, BlobFiles(root_));
  // What a default Prune keeps: tagged images and leases.
  Marked kept = Mark(g, [&](const std::string& kind, const std::string& owner) {
    return kind == "lease" || (kind == "image" && tagged.count(owner));
  });
  auto add = [&](UsageRow& row, const Marked& m) {
    for (const auto& b : m.blobs) {
      auto it = files.find(b);
      if (it == files.end()) continue;
      row.size += it->second;
      if (!kept.blobs.count(b)) row.reclaimable += it->second;
    }
    for (const auto& s : m.snapshots) {
      auto it = g.snapshot_size.find(s);
      if (it == g.snapshot_size.end()) continue;
      row.size += it->second;
      if (!kept.snapshots.count(s)) row.reclaimable += it->second;
    }
  };
  Marked images = Mark(g, [](const std::string& kind, const std::string&) { return kind == "image"; });
  images.snapshots.clear();  // counted in the snapshots row
  add(du.images, images);
  Marked cache = Mark(g, [](const std::string& kind, const std::string&) { return kind == "cache"; });
  add(du.build_cache, cache);
  Marked all_snapshots;
  for (const auto& [chain, size] : g.snapshot_size) all_snapshots.snapshots.insert(chain);
  add(du.snapshots, all_snapshots);
  du.snapshots.count = static_cast<int64_t>(g.snapshot_size.size());
  std::string mounts = JoinPath(root_, "cache-mounts");
  KILN_TRY_ASSIGN(auto ids, ListDirectoryIfExists(mounts));
  du.cache_mounts.count = static_cast<int64_t>(ids.size());
  for (const auto& id : ids) du.cache_mounts.size += internal::TreeSize(JoinPath(mounts, id));
  return du;
}

Result<CheckReport> Store::Check(CheckMode mode) {
  CheckReport report;
  bool repair = mode == CheckMode::kRepair;
  // 1. Blob contents.
  KILN_TRY_ASSIGN(auto files, BlobFiles(root_));
  for (const auto& [digest, size] : files) {
    KILN_TRY_ASSIGN(Digest d, Digest::Parse(digest));
    auto r = blobs_->Verify(d);
    if (r) continue;
    if (r.error().code() != ErrorCode::kDigestMismatch) return Fail(std::move(r).error());
    report.problems.push_back(fmt::format("blob {}: {}", digest, r.error().message()));
    if (repair) KILN_TRY(blobs_->Delete(d));
  }
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  // 2. Ready snapshots have their directory, and every directory a record.
  KILN_TRY_ASSIGN(Graph g, LoadGraph(*db_, *blobs_));
  for (const auto& [chain, size] : g.snapshot_size) {
    KILN_TRY_ASSIGN(Digest d, Digest::Parse(chain));
    if (PathExists(SnapshotDir(d))) continue;
    report.problems.push_back(fmt::format("snapshot {}: directory is missing", chain));
    if (repair) {
      KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM snapshots WHERE chain_id = ?1"));
      KILN_TRY(del.Bind(1, chain).Run());
    }
  }
  KILN_TRY_ASSIGN(auto dirs, ListDirectoryIfExists(JoinPath(root_, "snapshots")));
  for (const auto& name : dirs) {
    if (g.snapshot_size.count("sha256:" + name)) continue;
    KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT session FROM snapshots WHERE chain_id = ?1"));
    KILN_TRY_ASSIGN(bool row, q.Bind(1, "sha256:" + name).Step());
    if (row && SessionAlive(q.Text(0))) continue;
    report.problems.push_back(fmt::format("snapshots/{}: no ready record", name));
    if (repair) KILN_TRY(RemoveAll(JoinPath(root_, "snapshots/" + name)));
  }
  // 3. Records name blobs that exist, as files or as their layer's ready
  //    snapshot (after any repair above).
  auto from_snapshot = [&](const std::string& blob) {
    auto it = g.blob_snapshot.find(blob);
    if (it == g.blob_snapshot.end() || !g.parent.count(it->second)) return false;
    auto chain = Digest::Parse(it->second);
    return chain && PathExists(SnapshotDir(*chain));
  };
  for (const auto& [owner, refs] : g.owners) {
    for (const auto& [kind, target] : refs) {
      if (kind != "blob") continue;
      KILN_TRY_ASSIGN(Digest d, Digest::Parse(target));
      if (blobs_->Has(d) || from_snapshot(target)) continue;
      report.problems.push_back(
          fmt::format("{} {}: blob {} is missing", owner.first, owner.second, target));
      if (!repair) continue;
      if (owner.first == "image") {
        KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM images WHERE manifest = ?1"));
        KILN_TRY(del.Bind(1, owner.second).Run());
      } else if (owner.first == "cache") {
        KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM cache WHERE key = ?1"));
        KILN_TRY(del.Bind(1, owner.second).Run());
      }
      if (owner.first != "lease") KILN_TRY(internal::DeleteRefs(*db_, owner.first, owner.second));
      break;
    }
  }
  KILN_TRY_ASSIGN(auto layer_blobs, Column(*db_, "SELECT blob FROM layers ORDER BY blob"));
  for (const auto& b : layer_blobs) {
    KILN_TRY_ASSIGN(Digest d, Digest::Parse(b));
    if (blobs_->Has(d) || from_snapshot(b)) continue;
    auto snap = g.blob_snapshot.find(b);
    report.problems.push_back(snap == g.blob_snapshot.end()
                                  ? fmt::format("layer {}: blob is missing", b)
                                  : fmt::format("layer {}: blob is missing and its snapshot {} is gone", b,
                                                snap->second));
    if (repair) {
      KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM layers WHERE blob = ?1"));
      KILN_TRY(del.Bind(1, b).Run());
    }
  }
  KILN_TRY(tx.Commit());
  return report;
}

}  // namespace kiln::store
