#pragma once

// Resolving paths inside a container root the way the container would see
// them: symlinks (absolute or relative, any depth) and ".." are resolved with
// the root as "/", so a layer that plants `/tmp/x -> /etc` can never make
// kiln create, read, copy to or mount anything outside the root (the
// CVE-2024-23652 class). Built on openat2(2) with RESOLVE_IN_ROOT. The one
// implementation for RUN (exec/) and COPY/ADD/WORKDIR (solver/).
//
// `root_fd` is an O_PATH (or O_DIRECTORY) fd of the root; paths are
// container paths ("/etc/passwd"; a relative path such as "etc/passwd" or
// "." is taken from "/"). Errors name the cleaned container path. All
// functions are thread-safe; they never change the root fd's state.

#include <fcntl.h>
#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fs.h"

namespace kiln::sys {

// Whether a symlink as the last component is followed (inside the root) or
// opened itself (pass O_PATH with kNo to get the link).
enum class FollowLast { kYes, kNo };

// Opens `path` inside the root with `flags` (O_CLOEXEC is added; O_CREAT
// creates mode 0644 before the umask). Mounts inside the root are crossed;
// magic links (/proc/self/fd/N) are refused. Errors: kNotFound/kIo naming
// the container path, e.g. "open /etc/group: No such file or directory".
[[nodiscard]] Result<Fd> OpenInRoot(int root_fd, std::string_view path, int flags = O_PATH,
                                    FollowLast follow = FollowLast::kYes);

// Reads a regular file inside the root. Errors as OpenInRoot, and kInvalid
// "/etc is not a regular file".
[[nodiscard]] Result<std::string> ReadFileInRoot(int root_fd, std::string_view path);

// The canonical container path `path` refers to: existing components are
// resolved through symlinks within the root, the missing tail is appended
// lexically ("/run/secrets/x" with `/run -> /var/run` gives
// "/var/run/secrets/x"). A dangling symlink resolves to its target.
// Errors: kIo (ELOOP for symlink loops, ENOTDIR when a file is in the way:
// "resolve /etc/passwd/x: Not a directory").
[[nodiscard]] Result<std::string> CanonicalInRoot(int root_fd, std::string_view path);

// mkdir -p of `path` inside the root: missing directories (also the target
// of a dangling symlink on the way) are created with mode 0755 and owned by
// `uid`:`gid`; existing ones are left alone. Returns the canonical container
// paths it created, outermost first. Errors as CanonicalInRoot, and kIo
// "mkdir /app/x: ..." for a failing mkdir.
[[nodiscard]] Result<std::vector<std::string>> MkdirInRoot(int root_fd, std::string_view path,
                                                           uid_t uid = 0, gid_t gid = 0);

// Creates an empty regular file (mode 0644, root-owned) at `path` inside the
// root if nothing exists there, creating parents as MkdirInRoot. Returns the
// canonical paths created, outermost first. Used for file mount points.
[[nodiscard]] Result<std::vector<std::string>> TouchInRoot(int root_fd, std::string_view path);

}  // namespace kiln::sys
