#include "store/lock.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>

namespace kiln::store {
namespace {

Result<void> Flock(int fd, LockMode mode, LockWait wait, const std::string& path) {
  int op = (mode == LockMode::kShared ? LOCK_SH : LOCK_EX) | (wait == LockWait::kTry ? LOCK_NB : 0);
  while (::flock(fd, op) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK)
      return Fail(Error::Invalid(fmt::format("{} is locked by another kiln process", path)));
    return Fail(Error::Io(path, errno, "flock"));
  }
  return Ok();
}

}  // namespace

Result<FileLock> FileLock::Acquire(const std::string& path, LockMode mode, LockWait wait) {
  KILN_TRY_ASSIGN(Fd fd, OpenFile(path, O_RDWR | O_CREAT, 0644));
  KILN_TRY(Flock(fd.get(), mode, wait, path));
  return FileLock(std::move(fd), path);
}

Result<void> FileLock::Convert(LockMode mode) {
  if (!held()) return Fail(Error::Invalid("convert of a lock that is not held"));
  return Flock(fd_.get(), mode, LockWait::kBlock, path_);
}

}  // namespace kiln::store
