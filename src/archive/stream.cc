#include "archive/stream.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/fs.h"

namespace kiln::archive {

Result<void> FdSink::Write(std::string_view data) {
  return WriteAll(fd_, data, what_);
}

Result<size_t> StringSource::Read(std::span<char> buf) {
  size_t n = std::min(buf.size(), data_.size());
  if (n == 0) return size_t{0};
  std::memcpy(buf.data(), data_.data(), n);
  data_.remove_prefix(n);
  return n;
}

Result<size_t> FdSource::Read(std::span<char> buf) {
  while (true) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    return Fail(Error::Io(what_, errno, "read"));
  }
}

Result<size_t> ReadFull(ByteSource& source, std::span<char> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    KILN_TRY_ASSIGN(size_t n, source.Read(buf.subspan(got)));
    if (n == 0) break;
    got += n;
  }
  return got;
}

Result<uint64_t> Drain(ByteSource& source) {
  std::string buf(64 * 1024, '\0');
  uint64_t total = 0;
  while (true) {
    KILN_TRY_ASSIGN(size_t n, source.Read(std::span<char>(buf.data(), buf.size())));
    if (n == 0) return total;
    total += n;
  }
}

}  // namespace kiln::archive
