#pragma once

// Internal to exec/: the mount-point layer. Mount points that do not exist
// in the image (/proc, /etc/hosts, /run/secrets/x, ...) are created in a
// small extra top-most lower layer on the step's tmpfs instead of in the
// upper dir, so they never reach the step's layer and creating them costs
// no writes to the upper filesystem.

#include <sys/types.h>

#include <set>
#include <string>
#include <vector>

#include "base/error.h"

namespace kiln::exec {

class MountPointLayer {
 public:
  // `dir` is an existing, empty host directory (on the step's tmpfs).
  explicit MountPointLayer(std::string dir) : dir_(std::move(dir)) {}

  // Makes canonical container path `path` exist in the merged view of
  // [this layer, the rootfs at `root_fd`]: each missing component is created
  // here (directories 0755 root; the leaf an empty 0644 file when `file`),
  // and the existing ancestors of the first missing one are mirrored here
  // with their mode, owner and times, so the merged view (and a later
  // copy-up) shows them unchanged. The layer's root mirrors the rootfs's.
  // `root_fd` must see the image without this layer. Errors: kIo.
  [[nodiscard]] Result<void> Add(int root_fd, const std::string& path, bool file);

  // Container paths created as new (not mirrored), outermost first.
  const std::vector<std::string>& created() const { return created_; }
  bool empty() const { return created_.empty(); }
  const std::string& dir() const { return dir_; }

 private:
  [[nodiscard]] Result<void> Mirror(int root_fd, const std::string& path);

  std::string dir_;
  std::set<std::string> present_;  // paths that exist in the layer
  std::vector<std::string> created_;
};

}  // namespace kiln::exec
