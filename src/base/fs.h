#pragma once

// Small, direct file helpers shared by every subsystem. Code that needs to be
// faked in tests goes through sys/ interfaces instead; these are for the
// places where the real disk is the point (store, archive, tests).

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln {

// An owned file descriptor, closed on destruction. Move-only.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(o.Release()) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) { Reset(); fd_ = o.Release(); }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int Release() { int f = fd_; fd_ = -1; return f; }
  void Reset();

 private:
  int fd_ = -1;
};

// Opens with O_CLOEXEC added. kNotFound/kIo name the path.
Result<Fd> OpenFile(const std::string& path, int flags, int mode = 0644);

Result<std::string> ReadFile(const std::string& path);
// Writes `data` to `fd` fully, retrying on EINTR and short writes.
Result<void> WriteAll(int fd, std::string_view data, std::string_view what = "file");
Result<void> WriteFile(const std::string& path, std::string_view data, int mode = 0644);

enum class Durability { kNone, kFsync };
// Writes to "<path>.tmp-<random>", optionally fsyncs, then renames over
// `path` and fsyncs the directory, so readers see the old or the new file,
// never a torn one. The temp file is removed on failure.
Result<void> WriteFileAtomic(const std::string& path, std::string_view data,
                             Durability durability = Durability::kFsync, int mode = 0644);

// mkdir -p. Existing directories are fine.
Result<void> MakeDirs(const std::string& path, int mode = 0755);
// rm -rf that does not follow symlinks and crosses no mount point boundary
// checks. A missing path is not an error.
Result<void> RemoveAll(const std::string& path);
bool PathExists(const std::string& path);
// The names in the directory `dirfd` (O_PATH is fine; it is not moved or
// closed), sorted bytewise, without "." and "..". Errors: kIo/kNotFound
// naming `shown`, e.g. "opendir /ctx/a: Permission denied".
[[nodiscard]] Result<std::vector<std::string>> ListDirectory(int dirfd, std::string_view shown = "directory");
// The names in directory `dir` as ListDirectory gives them, or none when
// there is no directory there (ENOENT or ENOTDIR); other errors as
// OpenFile's.
[[nodiscard]] Result<std::vector<std::string>> ListDirectoryIfExists(const std::string& dir);

// Joins with exactly one '/' between parts.
std::string JoinPath(std::string_view a, std::string_view b);
// Lexically cleans a path like Go's path.Clean ("a/../b/./c" -> "b/c",
// "/.." -> "/"). An empty path cleans to ".".
std::string CleanPath(std::string_view path);
std::string Dirname(std::string_view path);
// Whether cleaned path `path` is `dir` or lies below it, lexically:
// "/a/b" is under "/a" and "/", "/ab" is not under "/a".
bool PathIsUnder(std::string_view path, std::string_view dir);
std::string Basename(std::string_view path);

// A fresh directory under $TMPDIR (or /tmp) removed on destruction; for tests
// and scratch space.
class TempDir {
 public:
  static Result<TempDir> Create(std::string_view prefix = "kiln");
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)) { o.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string p) : path_(std::move(p)) {}
  std::string path_;
};

// 16 random bytes as hex, from getrandom(2).
std::string RandomHex(size_t bytes = 16);

}  // namespace kiln
