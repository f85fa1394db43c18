#pragma once

// FaultFileOps: a FileOps wrapper whose operations can be made to fail, like
// leveldb's ErrorEnv. For tests only.

#include <atomic>
#include <cerrno>
#include <mutex>
#include <string>

#include "store/file_ops.h"

namespace kiln::store::testing {

enum class FaultOp { kWrite, kFsync, kRename, kSyncFs };

// Fails the chosen operation with `errno` after letting `skip` calls of it
// through; other operations pass to RealFileOps(). Thread-safe.
class FaultFileOps : public FileOps {
 public:
  // Arms a fault: the (skip+1)-th call of `op` from now on, and every call
  // after it, fails with `err` until Clear().
  void FailAfter(FaultOp op, int skip, int err = EIO) {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = true;
    op_ = op;
    skip_ = skip;
    err_ = err;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
  }
  int faults() const {
    std::lock_guard<std::mutex> lock(mu_);
    return faults_;
  }

  Result<void> Write(int fd, std::string_view data, const std::string& path) override {
    if (Hit(FaultOp::kWrite)) return Fail(Error::Io(path, err_, "write"));
    return RealFileOps().Write(fd, data, path);
  }
  Result<void> Fsync(int fd, const std::string& path) override {
    if (Hit(FaultOp::kFsync)) return Fail(Error::Io(path, err_, "fsync"));
    return RealFileOps().Fsync(fd, path);
  }
  Result<void> Rename(const std::string& from, const std::string& to) override {
    if (Hit(FaultOp::kRename)) return Fail(Error::Io(to, err_, "rename"));
    return RealFileOps().Rename(from, to);
  }
  Result<void> SyncFs(int fd, const std::string& path) override {
    if (Hit(FaultOp::kSyncFs)) return Fail(Error::Io(path, err_, "syncfs"));
    return RealFileOps().SyncFs(fd, path);
  }

 private:
  bool Hit(FaultOp op) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!armed_ || op != op_) return false;
    if (skip_ > 0) {
      --skip_;
      return false;
    }
    ++faults_;
    return true;
  }

  mutable std::mutex mu_;
  bool armed_ = false;
  FaultOp op_ = FaultOp::kWrite;
  int skip_ = 0;
  int err_ = EIO;
  int faults_ = 0;
};

}  // namespace kiln::store::testing
