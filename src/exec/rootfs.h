#pragma once

// Resolving paths inside a container rootfs the way the container would see
// them: symlinks (absolute or relative, any depth) and ".." are resolved with
// the rootfs as "/", so a layer that plants `/tmp/x -> /etc` can never make
// kiln create, read or mount anything outside the rootfs (the
// CVE-2024-23652 class). Built on openat2(2) with RESOLVE_IN_ROOT.
//
// `root_fd` is an O_PATH (or O_DIRECTORY) fd of the rootfs; paths are
// container paths ("/etc/passwd"; a relative path is taken from "/").
// All functions are thread-safe.

#include <fcntl.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fs.h"

namespace kiln::exec {

// Opens `path` inside the root (O_PATH | O_CLOEXEC plus `flags`, e.g.
// O_DIRECTORY or O_RDONLY). Errors: kNotFound/kIo naming the container path.
[[nodiscard]] Result<Fd> ResolveInRoot(int root_fd, std::string_view path, int flags = O_PATH);

// Reads a regular file inside the root. Errors as ResolveInRoot.
[[nodiscard]] Result<std::string> ReadFileInRoot(int root_fd, std::string_view path);

// The canonical container path `path` refers to: existing components are
// resolved through symlinks within the root, the missing tail is appended
// lexically ("/run/secrets/x" with `/run -> /var/run` gives
// "/var/run/secrets/x"). A dangling symlink resolves to its target.
// Errors: kIo (ELOOP for symlink loops, ENOTDIR when a file is in the way).
[[nodiscard]] Result<std::string> CanonicalInRoot(int root_fd, std::string_view path);

// mkdir -p of `path` inside the root: missing directories are created with
// mode 0755 and owned by `uid`:`gid`; existing ones are left alone. Returns
// the canonical container paths it created, outermost first. Errors:
// kIo ("mkdir /app/x: Not a directory" when a non-directory is in the way).
[[nodiscard]] Result<std::vector<std::string>> MkdirInRoot(int root_fd, std::string_view path,
                                                           uid_t uid = 0, gid_t gid = 0);
// The same, opening `rootfs` (a host path) first. For the solver's WORKDIR
// and COPY destinations.
[[nodiscard]] Result<std::vector<std::string>> MkdirInRoot(const std::string& rootfs,
                                                           std::string_view path, uid_t uid = 0,
                                                           gid_t gid = 0);

// Creates an empty regular file (mode 0644, root-owned) at `path` inside the
// root if nothing exists there, creating parents as MkdirInRoot. Returns the
// canonical paths created, outermost first. Used for file mount points.
[[nodiscard]] Result<std::vector<std::string>> TouchInRoot(int root_fd, std::string_view path);

}  // namespace kiln::exec
