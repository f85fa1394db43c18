#include "sys/in_root.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "base/strings.h"

namespace kiln::sys {
namespace {

constexpr int kMaxSymlinkHops = 40;

int OpenAt2(int dirfd, const std::string& path, uint64_t flags, uint64_t resolve) {
  open_how how = {};
  how.flags = flags | O_CLOEXEC;
  if (flags & O_CREAT) how.mode = 0644;
  how.resolve = resolve;
  for (;;) {
    long fd = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
    // EAGAIN: a concurrent rename raced the lookup; the kernel asks to retry.
  }
}

std::string ContainerPath(std::string_view path) {
  return CleanPath(StartsWith(path, "/") ? std::string(path) : "/" + std::string(path));
}

std::vector<std::string> Components(std::string_view path) {
  std::vector<std::string> out;
  for (auto& c : Split(path, '/'))
    if (!c.empty()) out.push_back(std::move(c));
  return out;
}

// Creates the missing directories of canonical `path` (no symlinks in it).
Result<std::vector<std::string>> MkdirCanonical(int root_fd, const std::string& path, uid_t uid,
                                                gid_t gid) {
  std::vector<std::string> created;
  std::string cur = "/";
  for (const auto& c : Components(path)) {
    std::string parent = cur;
    cur = JoinPath(cur, c);
    int fd = OpenAt2(root_fd, cur, O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (fd >= 0) {
      Fd owned(fd);
      struct stat st;
      if (fstat(fd, &st) < 0) return Fail(Error::Io(cur, errno, "stat"));
      if (!S_ISDIR(st.st_mode)) return Fail(Error::Io(cur, ENOTDIR, "mkdir"));
      continue;
    }
    if (errno != ENOENT) return Fail(Error::Io(cur, errno, "mkdir"));
    int pfd = OpenAt2(root_fd, parent, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
    if (pfd < 0) return Fail(Error::Io(parent, errno, "open"));
    Fd parent_fd(pfd);
    if (mkdirat(pfd, c.c_str(), 0755) < 0) {
      if (errno == EEXIST) continue;  // raced with another creator; checked on next use
      return Fail(Error::Io(cur, errno, "mkdir"));
    }
    // mkdirat applies the umask; the mode is part of the layer, so set it.
    if (fchmodat(pfd, c.c_str(), 0755, 0) < 0) return Fail(Error::Io(cur, errno, "chmod"));
    if ((uid != 0 || gid != 0) && fchownat(pfd, c.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
      return Fail(Error::Io(cur, errno, "chown"));
    created.push_back(cur);
  }
  return created;
}

}  // namespace

Result<Fd> OpenInRoot(int root_fd, std::string_view path, int flags, FollowLast follow) {
  std::string p = ContainerPath(path);
  if (follow == FollowLast::kNo) flags |= O_NOFOLLOW;
  int fd = OpenAt2(root_fd, p, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return Fail(Error::Io(p, errno, "open"));
  return Fd(fd);
}

Result<std::string> ReadFileInRoot(int root_fd, std::string_view path) {
  KILN_TRY_ASSIGN(Fd fd, OpenInRoot(root_fd, path, O_RDONLY | O_NOCTTY));
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return Fail(Error::Io(ContainerPath(path), errno, "stat"));
  if (!S_ISREG(st.st_mode))
    return Fail(Error(ErrorCode::kInvalid, fmt::format("{} is not a regular file", ContainerPath(path))));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(Error::Io(ContainerPath(path), errno, "read"));
    if (n == 0) break;
    out.append(buf, n);
  }
  return out;
}

Result<std::string> CanonicalInRoot(int root_fd, std::string_view path) {
  std::vector<std::string> comps = Components(path);
  std::string cur = "/";
  bool missing = false;
  int hops = 0;
  size_t i = 0;
  while (i < comps.size()) {
    const std::string c = comps[i];
    if (c == ".") { ++i; continue; }
    // `cur` never contains a symlink, so ".." is lexical; at "/" it stays.
    if (c == "..") { cur = Dirname(cur); ++i; continue; }
    std::string cand = JoinPath(cur, c);
    if (missing) { cur = cand; ++i; continue; }
    int fd = OpenAt2(root_fd, cand, O_PATH | O_NOFOLLOW, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (fd < 0) {
      if (errno != ENOENT) return Fail(Error::Io(cand, errno, "resolve"));
      missing = true;
      cur = cand;
      ++i;
      continue;
    }
    Fd owned(fd);
    struct stat st;
    if (fstat(fd, &st) < 0) return Fail(Error::Io(cand, errno, "stat"));
    if (S_ISLNK(st.st_mode)) {
      if (++hops > kMaxSymlinkHops) return Fail(Error::Io(ContainerPath(path), ELOOP, "resolve"));
      char buf[4096];
      ssize_t n = readlinkat(fd, "", buf, sizeof buf);
      if (n < 0) return Fail(Error::Io(cand, errno, "readlink"));
      std::string target(buf, n);
      if (StartsWith(target, "/")) cur = "/";
      std::vector<std::string> next = Components(target);
      next.insert(next.end(), comps.begin() + i + 1, comps.end());
      comps = std::move(next);
      i = 0;
      continue;
    }
    if (!S_ISDIR(st.st_mode) && i + 1 < comps.size())
      return Fail(Error::Io(ContainerPath(path), ENOTDIR, "resolve"));
    cur = cand;
    ++i;
  }
  return cur;
}

Result<std::vector<std::string>> MkdirInRoot(int root_fd, std::string_view path, uid_t uid,
                                             gid_t gid) {
  KILN_TRY_ASSIGN(std::string canonical, CanonicalInRoot(root_fd, path));
  return MkdirCanonical(root_fd, canonical, uid, gid);
}

Result<std::vector<std::string>> TouchInRoot(int root_fd, std::string_view path) {
  auto resolved = CanonicalInRoot(root_fd, path);
  if (!resolved) return Fail(std::move(resolved).error());
  const std::string canonical = *resolved;
  if (canonical == "/") return Fail(Error::Io("/", EISDIR, "create"));
  std::string parent = Dirname(canonical);
  KILN_TRY_ASSIGN(auto created, MkdirCanonical(root_fd, parent, 0, 0));
  int pfd = OpenAt2(root_fd, parent, O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS);
  if (pfd < 0) return Fail(Error::Io(parent, errno, "open"));
  Fd parent_fd(pfd);
  std::string name = Basename(canonical);
  int fd = openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) {
    if (errno == EEXIST) return created;
    return Fail(Error::Io(canonical, errno, "create"));
  }
  close(fd);
  if (fchmodat(pfd, name.c_str(), 0644, 0) < 0) return Fail(Error::Io(canonical, errno, "chmod"));
  created.push_back(canonical);
  return created;
}

}  // namespace kiln::sys
