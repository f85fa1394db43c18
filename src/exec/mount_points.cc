#include "exec/mount_points_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/in_root.h"

namespace kiln::exec {
namespace {

// Whether canonical `path` exists in the rootfs, without following a
// trailing symlink (a canonical path has none elsewhere).
Result<bool> Exists(int root_fd, const std::string& path) {
  auto fd = sys::OpenInRoot(root_fd, path, O_PATH, sys::FollowLast::kNo);
  if (fd) return true;
  if (fd.error().code() == ErrorCode::kNotFound) return false;
  return Fail(std::move(fd).error());
}

}  // namespace

Result<void> MountPointLayer::Mirror(int root_fd, const std::string& path) {
  if (present_.count(path)) return Ok();
  KILN_TRY_ASSIGN(Fd fd, sys::OpenInRoot(root_fd, path, O_PATH, sys::FollowLast::kNo));
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return Fail(Error::Io(path, errno, "stat"));
  std::string host = path == "/" ? dir_ : JoinPath(dir_, path);
  if (path != "/" && mkdir(host.c_str(), 0700) < 0 && errno != EEXIST)
    return Fail(Error::Io(host, errno, "mkdir"));
  if (chown(host.c_str(), st.st_uid, st.st_gid) < 0) return Fail(Error::Io(host, errno, "chown"));
  if (chmod(host.c_str(), st.st_mode & 07777) < 0) return Fail(Error::Io(host, errno, "chmod"));
  const timespec times[2] = {st.st_atim, st.st_mtim};
  if (utimensat(AT_FDCWD, host.c_str(), times, AT_SYMLINK_NOFOLLOW) < 0)
    return Fail(Error::Io(host, errno, "utimensat"));
  present_.insert(path);
  return Ok();
}

Result<void> MountPointLayer::Add(int root_fd, const std::string& path, bool file) {
  // Find the first missing component.
  std::vector<std::string> prefixes;
  for (std::string p = path; p != "/"; p = Dirname(p)) prefixes.insert(prefixes.begin(), p);
  size_t missing = prefixes.size();
  for (size_t i = 0; i < prefixes.size(); ++i) {
    KILN_TRY_ASSIGN(bool exists, Exists(root_fd, prefixes[i]));
    if (!exists) {
      missing = i;
      break;
    }
  }
  if (missing == prefixes.size()) return Ok();
  // The layer's root and the existing ancestors look exactly like the image's.
  KILN_TRY(Mirror(root_fd, "/"));
  for (size_t i = 0; i < missing; ++i) KILN_TRY(Mirror(root_fd, prefixes[i]));
  for (size_t i = missing; i < prefixes.size(); ++i) {
    const std::string& p = prefixes[i];
    if (present_.count(p)) continue;
    std::string host = JoinPath(dir_, p);
    bool leaf_file = file && i + 1 == prefixes.size();
    if (leaf_file) {
      Fd fd(open(host.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
      if (!fd.valid()) return Fail(Error::Io(host, errno, "create"));
      if (fchmod(fd.get(), 0644) < 0) return Fail(Error::Io(host, errno, "chmod"));
    } else {
      if (mkdir(host.c_str(), 0755) < 0) return Fail(Error::Io(host, errno, "mkdir"));
      if (chmod(host.c_str(), 0755) < 0) return Fail(Error::Io(host, errno, "chmod"));
    }
    present_.insert(p);
    created_.push_back(p);
  }
  return Ok();
}

}  // namespace kiln::exec
