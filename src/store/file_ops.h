#pragma once

// The store's durability-critical file operations behind a small interface,
// so tests can make write/fsync/rename/syncfs fail (leveldb's ErrorEnv).
// Everything else (mkdir, unlink, readdir) goes straight to the OS.

#include <string>
#include <string_view>

#include "base/error.h"

namespace kiln::store {

// Thread-safety: implementations must be safe to call from several threads.
class FileOps {
 public:
  virtual ~FileOps() = default;
  // Writes all of `data` to `fd`. Errors are kIo naming `path`.
  [[nodiscard]] virtual Result<void> Write(int fd, std::string_view data,
                                           const std::string& path) = 0;
  // fsync(2) of `fd`, which is the open file or directory `path`.
  [[nodiscard]] virtual Result<void> Fsync(int fd, const std::string& path) = 0;
  // rename(2). Errors name `to` (and `from` in the message).
  [[nodiscard]] virtual Result<void> Rename(const std::string& from, const std::string& to) = 0;
  // syncfs(2) of the filesystem holding `fd` (the directory `path`).
  [[nodiscard]] virtual Result<void> SyncFs(int fd, const std::string& path) = 0;
};

// The real implementation. The returned object lives forever.
FileOps& RealFileOps();

}  // namespace kiln::store
