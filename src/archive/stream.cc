#include "archive/stream.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include "base/fs.h"

namespace kiln::archive {

Result<void> ReadPieces(int fd, int64_t size, const std::string& shown, size_t buf_size,
                        const std::function<Result<void>(std::string_view)>& take) {
  std::unique_ptr<char[]> buf(new char[buf_size]);
  while (size > 0) {
    ssize_t n = ::read(fd, buf.get(), static_cast<size_t>(std::min<int64_t>(size, static_cast<int64_t>(buf_size))));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(shown, errno, "read"));
    }
    if (n == 0) return Fail(Error::Invalid(fmt::format("{}: file shrank while archiving", shown)));
    KILN_TRY(take(std::string_view(buf.get(), static_cast<size_t>(n))));
    size -= n;
  }
  return Ok();
}

Result<void> ByteSink::WriteFrom(int fd, int64_t size, const std::string& shown) {
  return ReadPieces(fd, size, shown, 256 * 1024, [this](std::string_view piece) { return Write(piece); });
}

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
