#pragma once

// Inter-process locks on files, with flock(2). A flock belongs to an open
// file description, and every FileLock opens its own, so two FileLocks on the
// same path conflict whether they are in one process (two threads) or in two.
// The kernel drops the lock when the holder dies, even by SIGKILL.

#include <string>

#include "base/error.h"
#include "base/fs.h"

namespace kiln::store {

enum class LockMode { kShared, kExclusive };
enum class LockWait { kBlock, kTry };

// An RAII flock on a file. Move-only; unlocks (closes) on destruction.
// Thread-safety: one FileLock must not be used from two threads at once;
// separate FileLocks may.
class FileLock {
 public:
  FileLock() = default;

  // Opens (creating if needed) `path` and locks it in `mode`. With kBlock it
  // waits for the lock; with kTry it returns kInvalid "... is locked" when
  // another holder conflicts. Other failures are kIo naming `path`.
  [[nodiscard]] static Result<FileLock> Acquire(const std::string& path, LockMode mode,
                                                LockWait wait = LockWait::kBlock);

  // Changes the mode of a held lock. Not atomic (flock(2) may release before
  // re-acquiring), so callers must not rely on state observed under the old
  // mode.
  [[nodiscard]] Result<void> Convert(LockMode mode);

  bool held() const { return fd_.valid(); }
  const std::string& path() const { return path_; }
  // The locked descriptor; valid while held.
  int fd() const { return fd_.get(); }

 private:
  FileLock(Fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Fd fd_;
  std::string path_;
};

}  // namespace kiln::store
