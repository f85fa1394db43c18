#include "store/sqlite_internal.h"

namespace kiln::store::internal {

Result<std::unique_ptr<Db>> Db::Open(const std::string& path, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close(raw);
    return Fail(Error(ErrorCode::kIo, fmt::format("open {}: {}", path, msg)));
  }
  std::unique_ptr<Db> db(new Db(raw, path));
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  // WAL lets readers run beside one writer; NORMAL sync in WAL mode never
  // corrupts the database, it may only lose the last commits on power loss,
  // which the store's ordering rules tolerate (docs/formats/store.md).
  KILN_TRY(db->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  return db;
}

Db::~Db() { sqlite3_close(db_); }

Error Db::LastError(std::string_view what) const {
  return Error(ErrorCode::kIo, fmt::format("{}: {}: {}", path_, what, sqlite3_errmsg(db_)));
}

Result<void> Db::Exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  if (sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Fail(Error(ErrorCode::kIo, fmt::format("{}: {}", path_, msg)));
  }
  return Ok();
}

Result<Stmt> Db::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
    return Fail(LastError("prepare"));
  return Stmt(this, stmt);
}

Result<bool> Stmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Fail(db_->LastError("step"));
}

Result<void> Stmt::Run() {
  for (;;) {
    KILN_TRY_ASSIGN(bool row, Step());
    if (!row) return Ok();
  }
}

Result<Tx> Tx::Begin(Db& db) {
  KILN_TRY(db.Exec("BEGIN IMMEDIATE"));
  return Tx(&db);
}

Tx::~Tx() {
  if (db_) (void)db_->Exec("ROLLBACK");
}

Result<void> Tx::Commit() {
  Db* db = db_;
  db_ = nullptr;
  if (auto r = db->Exec("COMMIT"); !r) {
    (void)db->Exec("ROLLBACK");
    return r;
  }
  return Ok();
}

}  // namespace kiln::store::internal
