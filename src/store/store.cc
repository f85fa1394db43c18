#include "store/store.h"

#include <cerrno>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "store/sqlite_internal.h"
#include "store/store_internal.h"

namespace kiln::store {

using internal::Db;
using internal::Stmt;
using internal::Tx;

namespace internal {

int64_t TreeSize(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  if (S_ISREG(st.st_mode)) return st.st_size;
  if (!S_ISDIR(st.st_mode)) return 0;
  int64_t total = 0;
  auto names = ListDirectoryIfExists(path);
  if (!names) return 0;
  for (const auto& n : *names) total += TreeSize(JoinPath(path, n));
  return total;
}

std::string_view RefKindName(RefKind kind) {
  return kind == RefKind::kBlob ? "blob" : "snapshot";
}

Result<RefKind> ParseRefKind(std::string_view name) {
  if (name == "blob") return RefKind::kBlob;
  if (name == "snapshot") return RefKind::kSnapshot;
  return Fail(Error::Invalid(fmt::format("unknown ref kind \"{}\" in kiln.db", name)));
}

Result<void> DeleteRefs(Db& db, std::string_view owner_kind, std::string_view owner) {
  KILN_TRY_ASSIGN(Stmt del, db.Prepare("DELETE FROM refs WHERE owner_kind = ?1 AND owner = ?2"));
  return del.Bind(1, owner_kind).Bind(2, owner).Run();
}

Result<void> ReplaceRefs(Db& db, std::string_view owner_kind, std::string_view owner,
                         const std::vector<Ref>& refs) {
  KILN_TRY(DeleteRefs(db, owner_kind, owner));
  for (const Ref& ref : refs) {
    KILN_TRY_ASSIGN(Stmt ins, db.Prepare("INSERT OR IGNORE INTO refs(owner_kind, owner, kind, target) "
                                         "VALUES (?1, ?2, ?3, ?4)"));
    KILN_TRY(ins.Bind(1, owner_kind).Bind(2, owner).Bind(3, RefKindName(ref.kind))
                 .Bind(4, ref.target.str()).Run());
  }
  return Ok();
}

}  // namespace internal

namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE images (
  manifest   TEXT PRIMARY KEY,
  config     TEXT NOT NULL,
  media_type TEXT NOT NULL,
  created    INTEGER NOT NULL,
  size       INTEGER NOT NULL
);
CREATE INDEX images_config ON images(config);
CREATE TABLE tags (
  name     TEXT PRIMARY KEY,
  manifest TEXT NOT NULL REFERENCES images(manifest) ON DELETE CASCADE
);
CREATE INDEX tags_manifest ON tags(manifest);
CREATE TABLE layers (
  blob       TEXT PRIMARY KEY,
  diff_id    TEXT NOT NULL,
  media_type TEXT NOT NULL,
  size       INTEGER NOT NULL
);
CREATE INDEX layers_diff_id ON layers(diff_id);
CREATE TABLE snapshots (
  chain_id TEXT PRIMARY KEY,
  parent   TEXT,
  state    TEXT NOT NULL CHECK (state IN ('preparing', 'ready')),
  session  TEXT,
  size     INTEGER NOT NULL DEFAULT 0,
  created  INTEGER NOT NULL
);
CREATE TABLE cache (
  key       TEXT PRIMARY KEY,
  result    TEXT NOT NULL,
  created   INTEGER NOT NULL,
  last_used INTEGER NOT NULL
);
CREATE TABLE leases (
  name    TEXT PRIMARY KEY,
  session TEXT,
  created INTEGER NOT NULL
);
CREATE TABLE refs (
  owner_kind TEXT NOT NULL CHECK (owner_kind IN ('image', 'cache', 'lease')),
  owner      TEXT NOT NULL,
  kind       TEXT NOT NULL CHECK (kind IN ('blob', 'snapshot')),
  target     TEXT NOT NULL,
  PRIMARY KEY (owner_kind, owner, kind, target)
);
)sql";

std::string SessionLockPath(const std::string& root, std::string_view session) {
  return JoinPath(root, fmt::format("locks/sessions/{}.lock", session));
}

}  // namespace

Store::Store(std::string root, StoreOptions options)
    : root_(std::move(root)),
      options_(std::move(options)),
      file_ops_(options_.file_ops ? *options_.file_ops : RealFileOps()) {}

int64_t Store::Now() const {
  return options_.clock ? options_.clock() : static_cast<int64_t>(::time(nullptr));
}

Result<std::unique_ptr<Store>> Store::Open(const std::string& root, StoreOptions options) {
  std::unique_ptr<Store> store(new Store(CleanPath(root), std::move(options)));
  if (auto r = store->Init(); !r) return Fail(std::move(r).error().Wrap("opening store {}", root));
  return store;
}

Result<void> Store::Init() {
  for (const char* dir : {"blobs/sha256", "snapshots", "tmp", "work", "cache-mounts",
                          "locks/sessions", "locks/keys"})
    KILN_TRY(MakeDirs(JoinPath(root_, dir), 0700));
  // 1. Shared store lock: excludes a concurrent Prune.
  KILN_TRY_ASSIGN(store_lock_, FileLock::Acquire(JoinPath(root_, "lock"), LockMode::kShared));
  // 2. Session lock, locked before it gets its final name so that no other
  //    process can see the name unlocked and take the session for dead.
  //    A cleaner may still unlink the ".new" file in the instant between
  //    its creation and its flock; then the rename fails with ENOENT and we
  //    start over with a new name.
  for (int attempt = 0;; ++attempt) {
    session_ = RandomHex(8);
    std::string staging_lock = JoinPath(root_, fmt::format("locks/sessions/.{}.new", session_));
    KILN_TRY_ASSIGN(session_lock_, FileLock::Acquire(staging_lock, LockMode::kExclusive));
    std::string lock_path = SessionLockPath(root_, session_);
    if (::rename(staging_lock.c_str(), lock_path.c_str()) == 0) break;
    if (errno != ENOENT || attempt == 3) return Fail(Error::Io(lock_path, errno, "rename"));
  }
  // 3. Private staging areas, recognisable as alive by the session lock.
  tmp_dir_ = JoinPath(root_, "tmp/" + session_);
  work_dir_ = JoinPath(root_, "work/" + session_);
  KILN_TRY(MakeDirs(tmp_dir_, 0700));
  KILN_TRY(MakeDirs(work_dir_, 0700));
  blobs_ = std::make_unique<BlobStore>(root_, tmp_dir_, file_ops_);
  hash_cache_ = std::make_unique<HashCache>(JoinPath(root_, "hashcache"));
  // 4. Metadata.
  {
    std::lock_guard<std::mutex> lock(db_mu_);
    KILN_TRY_ASSIGN(db_, Db::Open(JoinPath(root_, "kiln.db"), options_.busy_timeout_ms));
  }
  KILN_TRY(Migrate());
  // 5. Clean up after dead sessions.
  return Recover();
}

Result<void> Store::Migrate() {
  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  KILN_TRY_ASSIGN(Stmt q, db_->Prepare("PRAGMA user_version"));
  KILN_TRY(q.Step());
  int64_t version = q.Int(0);
  if (version > internal::kSchemaVersion)
    return Fail(Error::Unsupported(fmt::format(
        "{}: schema version {} is newer than this kiln supports ({})", db_->path(), version,
        internal::kSchemaVersion)).WithHint("upgrade kiln, or use another --root"));
  if (version < 1) KILN_TRY(db_->Exec(kSchemaV1));
  // v2: a layer's blob may be produced from its snapshot on first use.
  if (version < 2)
    KILN_TRY(db_->Exec("ALTER TABLE layers ADD COLUMN snapshot TEXT; "
                       "CREATE INDEX layers_snapshot ON layers(snapshot)"));
  // v3: the digest a registry holds an image under, when a push made its own
  // manifest (layers compressed on the way).
  if (version < 3)
    KILN_TRY(db_->Exec("CREATE TABLE repo_digests ("
                       "  manifest   TEXT NOT NULL REFERENCES images(manifest) ON DELETE CASCADE,"
                       "  repository TEXT NOT NULL,"
                       "  digest     TEXT NOT NULL,"
                       "  PRIMARY KEY (manifest, repository))"));
  if (version < internal::kSchemaVersion)
    KILN_TRY(db_->Exec(fmt::format("PRAGMA user_version = {}", internal::kSchemaVersion)));
  return tx.Commit();
}

bool Store::SessionAlive(const std::string& session) const {
  int fd = ::open(SessionLockPath(root_, session).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  Fd owned(fd);
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return false;
  return errno == EWOULDBLOCK;
}

std::string Store::SnapshotDir(const Digest& chain_id) const {
  return JoinPath(root_, "snapshots/" + chain_id.hex());
}

Result<void> Store::Recover() {
  // Only one session cleans at a time, so two never remove the same tree.
  KILN_TRY_ASSIGN(FileLock cleanup,
                  FileLock::Acquire(JoinPath(root_, "locks/cleanup"), LockMode::kExclusive));
  // 1. Dead sessions' tmp/ and work/ areas, then their lock files.
  KILN_TRY_ASSIGN(auto lock_names, ListDirectoryIfExists(JoinPath(root_, "locks/sessions")));
  for (const std::string& name : lock_names) {
    std::string path = JoinPath(root_, "locks/sessions/" + name);
    std::string session;
    if (name.size() > 5 && name.ends_with(".lock")) session = name.substr(0, name.size() - 5);
    // A ".new" file is a session that died while starting (or is starting:
    // then its flock is held and the try below fails).
    auto held = FileLock::Acquire(path, LockMode::kExclusive, LockWait::kTry);
    if (!held) continue;  // alive
    if (!session.empty()) {
      KILN_TRY(RemoveAll(JoinPath(root_, "tmp/" + session)));
      KILN_TRY(RemoveAll(JoinPath(root_, "work/" + session)));
    }
    ::unlink(path.c_str());
  }
  for (const char* area : {"tmp", "work"}) {
    KILN_TRY_ASSIGN(auto names, ListDirectoryIfExists(JoinPath(root_, area)));
    for (const std::string& name : names)
      if (!SessionAlive(name)) KILN_TRY(RemoveAll(JoinPath(root_, std::string(area) + "/" + name)));
  }

  std::lock_guard<std::mutex> lock(db_mu_);
  KILN_TRY_ASSIGN(Tx tx, Tx::Begin(*db_));
  // 2. Session leases of dead sessions.
  {
    KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT name, session FROM leases WHERE session IS NOT NULL"));
    std::vector<std::string> dead;
    for (;;) {
      KILN_TRY_ASSIGN(bool row, q.Step());
      if (!row) break;
      if (!SessionAlive(q.Text(1))) dead.push_back(q.Text(0));
    }
    for (const auto& name : dead) {
      KILN_TRY(internal::DeleteRefs(*db_, "lease", name));
      KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM leases WHERE name = ?1"));
      KILN_TRY(del.Bind(1, name).Run());
    }
  }
  // 3. Snapshot records: drop `preparing` ones of dead sessions and `ready`
  //    ones whose directory is gone; remember who may own each directory.
  std::vector<std::string> keep_dirs;  // hex names that must stay
  {
    KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT chain_id, state, session FROM snapshots"));
    std::vector<std::string> drop;
    for (;;) {
      KILN_TRY_ASSIGN(bool row, q.Step());
      if (!row) break;
      std::string chain = q.Text(0);
      auto digest = Digest::Parse(chain);
      if (!digest) {
        drop.push_back(chain);
        continue;
      }
      bool ready = q.Text(1) == "ready";
      if (ready ? PathExists(SnapshotDir(*digest)) : SessionAlive(q.Text(2)))
        keep_dirs.push_back(digest->hex());
      else
        drop.push_back(chain);
    }
    for (const auto& chain : drop) {
      KILN_TRY_ASSIGN(Stmt del, db_->Prepare("DELETE FROM snapshots WHERE chain_id = ?1"));
      KILN_TRY(del.Bind(1, chain).Run());
    }
  }
  KILN_TRY(tx.Commit());
  // 4. Snapshot directories without a ready record (or a live preparer) are
  //    garbage: a commit that died between rename and record, or a prune
  //    that died between record and rmdir. Commit holds the snapshot's
  //    commit lock across rename + record, so take it before deciding.
  std::sort(keep_dirs.begin(), keep_dirs.end());
  KILN_TRY_ASSIGN(auto dirs, ListDirectoryIfExists(JoinPath(root_, "snapshots")));
  for (const std::string& name : dirs) {
    if (std::binary_search(keep_dirs.begin(), keep_dirs.end(), name)) continue;
    KILN_TRY_ASSIGN(FileLock commit_lock,
                    FileLock::Acquire(JoinPath(root_, "locks/keys/commit-" + name),
                                      LockMode::kExclusive));
    KILN_TRY_ASSIGN(Stmt q, db_->Prepare("SELECT state, session FROM snapshots WHERE chain_id = ?1"));
    KILN_TRY_ASSIGN(bool row, q.Bind(1, "sha256:" + name).Step());
    if (row && (q.Text(0) == "ready" || SessionAlive(q.Text(1)))) continue;
    KILN_TRY(RemoveAll(JoinPath(root_, "snapshots/" + name)));
  }
  return Ok();
}

Store::~Store() {
  if (db_) {
    std::lock_guard<std::mutex> lock(db_mu_);
    if (auto tx = Tx::Begin(*db_)) {
      bool ok = true;
      if (auto q = db_->Prepare("SELECT name FROM leases WHERE session = ?1")) {
        q->Bind(1, session_);
        std::vector<std::string> names;
        while (auto row = q->Step()) {
          if (!*row) break;
          names.push_back(q->Text(0));
        }
        for (const auto& n : names) ok = ok && internal::DeleteRefs(*db_, "lease", n).has_value();
      }
      for (const char* sql : {"DELETE FROM leases WHERE session = ?1",
                              "DELETE FROM snapshots WHERE state = 'preparing' AND session = ?1"}) {
        auto del = db_->Prepare(sql);
        ok = ok && del && del->Bind(1, session_).Run().has_value();
      }
      if (ok) (void)tx->Commit();
    }
  }
  // Whatever fails here is cleaned by the next Open (the session is dead).
  if (!tmp_dir_.empty()) (void)RemoveAll(tmp_dir_);
  if (!work_dir_.empty()) (void)RemoveAll(work_dir_);
  if (session_lock_.held()) ::unlink(SessionLockPath(root_, session_).c_str());
}

Result<std::string> Store::CacheMountDir(std::string_view id) {
  bool ok = !id.empty() && id != "." && id != "..";
  for (char c : id)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) ok = false;
  if (!ok) return Fail(Error::Invalid(fmt::format("invalid cache mount id \"{}\"", id)));
  std::string path = JoinPath(root_, "cache-mounts/" + std::string(id));
  KILN_TRY(MakeDirs(path, 0755));
  return path;
}

Result<std::string> Store::CreateWorkDir() {
  std::string path = JoinPath(work_dir_, RandomHex(8));
  if (::mkdir(path.c_str(), 0700) != 0) return Fail(Error::Io(path, errno, "mkdir"));
  return path;
}

Result<FileLock> Store::LockKey(std::string_view name) {
  // Hash the name: any string is a valid key, and the file name stays short.
  return FileLock::Acquire(JoinPath(root_, "locks/keys/" + Digest::Of(name).hex()),
                           LockMode::kExclusive);
}

}  // namespace kiln::store
