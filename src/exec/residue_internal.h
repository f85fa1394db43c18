#pragma once

// Internal to exec/: making sure mount points kiln created do not end up in
// a step's layer.

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/error.h"

namespace kiln::exec {

struct MountPointRecord {
  // Container paths kiln created as mount points (in the mount-point
  // layer), outermost first.
  std::vector<std::string> created;
};

// A safety net for paths that reached the upper dir although they exist
// only as mount points (a step that only touched such a directory, or a
// runtime creating a mount point itself). With the overlay unmounted:
// deepest first, removes from `upperdir` each created path that is an empty,
// non-opaque directory or an empty regular file; anything the step wrote
// keeps it. Never follows symlinks. Errors: kIo.
[[nodiscard]] Result<void> RemoveMountResidue(const std::string& upperdir,
                                              const MountPointRecord& record);

}  // namespace kiln::exec
