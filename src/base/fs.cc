#include "base/fs.h"

#include "base/digest.h"
#include "base/strings.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <vector>

namespace kiln {

void Fd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<Fd> OpenFile(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) return Fail(Error::Io(path, errno, "open"));
  return Fd(fd);
}

Result<std::string> ReadFile(const std::string& path) {
  KILN_TRY_ASSIGN(Fd fd, OpenFile(path, O_RDONLY));
  std::string out;
  struct stat st;
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0) out.reserve(st.st_size);
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(path, errno, "read"));
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

Result<void> WriteAll(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(what, errno, "write"));
    }
    data.remove_prefix(n);
  }
  return Ok();
}

Result<void> WriteFile(const std::string& path, std::string_view data, int mode) {
  KILN_TRY_ASSIGN(Fd fd, OpenFile(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
  return WriteAll(fd.get(), data, path);
}

Result<void> WriteFileAtomic(const std::string& path, std::string_view data,
                             Durability durability, int mode) {
  std::string tmp = path + ".tmp-" + RandomHex(8);
  auto fd = OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  if (!fd) return Fail(std::move(fd).error());
  auto cleanup = [&] { ::unlink(tmp.c_str()); };
  if (auto r = WriteAll(fd->get(), data, tmp); !r) {
    cleanup();
    return r;
  }
  if (durability == Durability::kFsync && ::fsync(fd->get()) != 0) {
    int e = errno;
    cleanup();
    return Fail(Error::Io(tmp, e, "fsync"));
  }
  fd->Reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    cleanup();
    return Fail(Error::Io(path, e, "rename"));
  }
  if (durability == Durability::kFsync) {
    auto dir = OpenFile(Dirname(path), O_RDONLY | O_DIRECTORY);
    if (dir) ::fsync(dir->get());
  }
  return Ok();
}

Result<void> MakeDirs(const std::string& path, int mode) {
  if (path.empty()) return Ok();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Ok();
    return Fail(Error::Io(path, ENOTDIR, "mkdir"));
  }
  std::string parent = Dirname(path);
  if (parent != path && parent != "." && parent != "/") KILN_TRY(MakeDirs(parent, mode));
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return Fail(Error::Io(path, errno, "mkdir"));
  return Ok();
}

namespace {
Result<void> RemoveAt(int dirfd, const char* name, const std::string& shown) {
  struct stat st;
  if (::fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Ok();
    return Fail(Error::Io(shown, errno, "stat"));
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Fail(Error::Io(shown, errno, "open"));
    Fd dir(fd);
    KILN_TRY_ASSIGN(auto names, ListDirectory(dir.get(), shown));
    for (const auto& n : names) KILN_TRY(RemoveAt(dir.get(), n.c_str(), shown + "/" + n));
    dir.Reset();
    if (::unlinkat(dirfd, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Fail(Error::Io(shown, errno, "rmdir"));
    return Ok();
  }
  if (::unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
    return Fail(Error::Io(shown, errno, "unlink"));
  return Ok();
}
}  // namespace

Result<void> RemoveAll(const std::string& path) {
  return RemoveAt(AT_FDCWD, path.c_str(), path);
}

Result<std::vector<std::string>> ListDirectoryIfExists(const std::string& dir) {
  auto fd = OpenFile(dir, O_RDONLY | O_DIRECTORY);
  if (!fd && (fd.error().sys_errno() == ENOENT || fd.error().sys_errno() == ENOTDIR))
    return std::vector<std::string>{};
  if (!fd) return Fail(std::move(fd).error());
  return ListDirectory(fd->get(), dir);
}

Result<std::vector<std::string>> ListDirectory(int dirfd, std::string_view shown) {
  // A fresh open fd of the same directory: readdir needs a readable fd of
  // its own, and fdopendir would take ownership of `dirfd`.
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(Error::Io(shown, errno, "open"));
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    int err = errno;
    ::close(fd);
    return Fail(Error::Io(shown, err, "opendir"));
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* de = ::readdir(dir)) {
    std::string_view n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return Fail(Error::Io(shown, err, "readdir"));
  std::sort(names.begin(), names.end());
  return names;
}

bool PathExists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

bool PathIsUnder(std::string_view path, std::string_view dir) {
  if (dir == "/") return StartsWith(path, "/");
  return StartsWith(path, dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  if (out != "/") out += '/';
  out += b;
  return out;
}

std::string CleanPath(std::string_view path) {
  if (path.empty()) return ".";
  bool rooted = path.front() == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view part = path.substr(i, j - i);
    if (part.empty() || part == ".") {
    } else if (part == "..") {
      if (!parts.empty() && parts.back() != "..") parts.pop_back();
      else if (!rooted) parts.push_back(part);
    } else {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = rooted ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k) out += '/';
    out += parts[k];
  }
  if (out.empty()) return ".";
  return out;
}

std::string Dirname(std::string_view path) {
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return ".";
  if (slash == 0) return "/";
  return std::string(path.substr(0, slash));
}

std::string Basename(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  if (slash == std::string_view::npos) return std::string(path);
  return std::string(path.substr(slash + 1));
}

Result<TempDir> TempDir::Create(std::string_view prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = JoinPath(base && *base ? base : "/tmp", std::string(prefix) + "-XXXXXX");
  if (!::mkdtemp(templ.data())) return Fail(Error::Io(templ, errno, "mkdtemp"));
  return TempDir(templ);
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)RemoveAll(path_);
}

std::string RandomHex(size_t bytes) {
  std::string buf(bytes, '\0');
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = ::getrandom(buf.data() + got, bytes - got, 0);
    if (n > 0) got += n;
  }
  return HexEncode(buf);
}

}  // namespace kiln
