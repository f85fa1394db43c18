#include "store/file_ops.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "base/fs.h"

namespace kiln::store {
namespace {

class PosixFileOps : public FileOps {
 public:
  Result<void> Write(int fd, std::string_view data, const std::string& path) override {
    return WriteAll(fd, data, path);
  }
  Result<void> Fsync(int fd, const std::string& path) override {
    if (::fsync(fd) != 0) return Fail(Error::Io(path, errno, "fsync"));
    return Ok();
  }
  Result<void> Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return Fail(Error(ErrorCode::kIo, fmt::format("rename {} to {}: {}", from, to,
                                                    std::strerror(errno)))
                      .WithErrno(errno));
    return Ok();
  }
  Result<void> SyncFs(int fd, const std::string& path) override {
    if (::syncfs(fd) != 0) return Fail(Error::Io(path, errno, "syncfs"));
    return Ok();
  }
};

}  // namespace

FileOps& RealFileOps() {
  static PosixFileOps* ops = new PosixFileOps;  // never destroyed: used from atexit paths
  return *ops;
}

}  // namespace kiln::store
