#pragma once

// A thin RAII adapter over the SQLite C API that turns its status codes into
// kiln Errors naming the database file. Private to src/store.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/error.h"

namespace kiln::store::internal {

class Stmt;

// One connection. Not thread-safe: Store serialises access with a mutex.
class Db {
 public:
  // Opens (creating) `path` with WAL journaling, foreign keys on, and a busy
  // timeout of `busy_timeout_ms`, so several processes can share it.
  [[nodiscard]] static Result<std::unique_ptr<Db>> Open(const std::string& path,
                                                        int busy_timeout_ms);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Runs one or more statements without results.
  [[nodiscard]] Result<void> Exec(std::string_view sql);
  [[nodiscard]] Result<Stmt> Prepare(std::string_view sql);
  // The error for the connection's last failure, "<path>: <sqlite message>".
  Error LastError(std::string_view what) const;
  int64_t Changes() const { return sqlite3_changes64(db_); }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// A prepared statement. Bind indexes are 1-based, column indexes 0-based.
class Stmt {
 public:
  Stmt(Stmt&& o) noexcept : db_(o.db_), stmt_(o.stmt_) { o.stmt_ = nullptr; }
  Stmt& operator=(Stmt&&) = delete;
  Stmt(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }

  Stmt& Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& BindNull(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // Advances: true with a row, false when done.
  [[nodiscard]] Result<bool> Step();
  // Steps to completion, ignoring rows.
  [[nodiscard]] Result<void> Run();
  std::string Text(int col) const {
    const unsigned char* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

 private:
  friend class Db;
  Stmt(Db* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  Db* db_;
  sqlite3_stmt* stmt_;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back on destruction unless committed.
// IMMEDIATE takes the write lock up front, so the busy timeout applies and a
// read-to-write upgrade can never deadlock between processes.
class Tx {
 public:
  [[nodiscard]] static Result<Tx> Begin(Db& db);
  Tx(Tx&& o) noexcept : db_(o.db_) { o.db_ = nullptr; }
  Tx& operator=(Tx&&) = delete;
  ~Tx();
  [[nodiscard]] Result<void> Commit();

 private:
  explicit Tx(Db* db) : db_(db) {}
  Db* db_;
};

}  // namespace kiln::store::internal
