#pragma once

// Internal to exec/: removing the mount points kiln created in a step's
// upper dir once the step is over, so they do not end up in the layer.

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace kiln::exec {

// What the merged rootfs looked like before the step, for one directory
// that already existed and may have been copied up only because kiln
// created a mount point inside it.
struct ExistingDir {
  std::string path;  // canonical container path
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct MountPointRecord {
  // Container paths kiln created as mount points (dirs or empty files),
  // outermost first per mount; may repeat across mounts.
  std::vector<std::string> created;
  // Ancestors of created paths that existed before the step.
  std::vector<ExistingDir> existing_parents;
};

// Records `created` (from MkdirInRoot/TouchInRoot) and stats the existing
// ancestors of the outermost created path inside `root_fd`.
[[nodiscard]] Result<void> RecordMountPoint(int root_fd, const std::vector<std::string>& created,
                                            MountPointRecord& record);

// With the overlay unmounted: deepest first, removes from `upperdir` each
// created path that is still an empty directory or an empty regular file
// (anything the step wrote keeps it), then each existing parent whose
// upper copy is an empty, non-opaque directory with its original mode and
// owner (a pure copy-up, which the lower layer shows identically).
// Never follows symlinks. Errors: kIo.
[[nodiscard]] Result<void> RemoveMountResidue(const std::string& upperdir,
                                              const MountPointRecord& record);

}  // namespace kiln::exec
