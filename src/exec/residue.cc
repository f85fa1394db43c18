#include "exec/residue_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "base/fs.h"

namespace kiln::exec {
namespace {

Result<bool> IsEmptyDir(const std::string& path) {
  Fd fd(open(path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return Fail(Error::Io(path, errno, "open"));
  KILN_TRY_ASSIGN(auto names, ListDirectory(fd.get(), path));
  return names.empty();
}

bool IsOpaque(const std::string& path) {
  char v[4];
  return lgetxattr(path.c_str(), "trusted.overlay.opaque", v, sizeof v) > 0 ||
         lgetxattr(path.c_str(), "user.overlay.opaque", v, sizeof v) > 0;
}

// Deepest first: longer paths sort before their parents.
bool Deeper(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() > b.size() : a < b;
}

}  // namespace

Result<void> RemoveMountResidue(const std::string& upperdir, const MountPointRecord& record) {
  std::set<std::string, decltype(&Deeper)> created(record.created.begin(), record.created.end(), &Deeper);
  for (const auto& p : created) {
    std::string up = JoinPath(upperdir, p);
    struct stat st;
    if (lstat(up.c_str(), &st) < 0) {
      if (errno == ENOENT) continue;
      return Fail(Error::Io(up, errno, "stat"));
    }
    if (S_ISDIR(st.st_mode)) {
      KILN_TRY_ASSIGN(bool empty, IsEmptyDir(up));
      if (empty && !IsOpaque(up) && rmdir(up.c_str()) < 0) return Fail(Error::Io(up, errno, "rmdir"));
    } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
      if (unlink(up.c_str()) < 0) return Fail(Error::Io(up, errno, "unlink"));
    }
  }
  return Ok();
}

}  // namespace kiln::exec
