#pragma once

// Mount helpers with errno context. Every error names the target path and
// the operation, e.g. `mount overlay on /x/rootfs: Invalid argument`.
// All functions act on the calling process's mount namespace and are
// thread-safe in the sense that the kernel serialises them.

#include <sys/mount.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fs.h"

namespace kiln::sys {

// mount(2). `data` may be empty. Errors: kIo/kNotFound with errno.
[[nodiscard]] Result<void> Mount(const std::string& source, const std::string& target,
                                 const std::string& fstype, unsigned long flags,
                                 const std::string& data = {});

enum class UnmountMode {
  kNormal,
  // MNT_DETACH: lazily detaches a busy mount (cleanup paths).
  kDetach,
  // For cleanup: a mount that is still busy (EBUSY) is retried for about
  // 100 ms, then detached as kDetach does, so a step that succeeded never
  // fails on a reference that is about to go away.
  kRetryThenDetach,
};
// umount2(2). An EINVAL for a path that is not a mount point is reported as
// an error; callers that do not care check IsMountPoint first. Except with
// kDetach, first waits for processes being spawned by other threads to
// exec (WaitForSpawns), since each holds copies of kiln's fds until then.
[[nodiscard]] Result<void> Unmount(const std::string& target, UnmountMode mode = UnmountMode::kNormal);

// A tmpfs (nosuid,nodev; noexec with TmpfsExec::kDeny) at `target`, e.g.
// options "size=64m,mode=0700", made private: nothing mounted below it
// propagates to other mount namespaces (containers being created) or back,
// even where its parent is a shared mount (systemd makes / shared). On
// error nothing stays mounted. Errors: kIo/kNotFound with errno.
enum class TmpfsExec { kAllow, kDeny };
[[nodiscard]] Result<void> MountTmpfs(const std::string& target, const std::string& options,
                                      TmpfsExec exec = TmpfsExec::kAllow);

// An overlay at `target`: `lowerdirs` top-most first (overlay's order),
// `upperdir`/`workdir` on the same filesystem. Uses the new mount API with
// "lowerdir+" (no length limit, any characters in paths) and falls back to
// mount(2) on kernels before 6.8, where the option string is limited to a
// page and paths may not contain ',' or ':'. With no upperdir the overlay is
// read-only and needs at least two lowerdirs. Errors: kInvalid for
// unsupported paths in the fallback, kIo otherwise.
//
// kVolatile (Linux 5.10, new mount API only; silently kSync otherwise) skips
// syncing the upper filesystem on unmount, for scratch layers whose content
// is read back through the page cache and committed elsewhere. After
// unmounting, `<workdir>/work/incompat` must be removed before the workdir
// is used again (RemoveVolatileMarker does that).
enum class OverlaySync { kSync, kVolatile };
[[nodiscard]] Result<void> MountOverlay(const std::vector<std::string>& lowerdirs,
                                        const std::string& upperdir, const std::string& workdir,
                                        const std::string& target,
                                        OverlaySync sync = OverlaySync::kSync);

// The same overlay as a detached mount: it exists only as the returned fd
// (a directory fd of its root, for openat/openat2) and in no mount
// namespace, so a container created meanwhile cannot get a copy of it, and
// it needs no unmount: it goes away with the last fd. Errors: kUnsupported
// on kernels without the new mount API's "lowerdir+" (Linux < 6.8), where
// callers mount at a path instead; otherwise as MountOverlay.
[[nodiscard]] Result<Fd> OpenOverlay(const std::vector<std::string>& lowerdirs,
                                     const std::string& upperdir, const std::string& workdir,
                                     OverlaySync sync = OverlaySync::kSync);

// Removes the marker a kVolatile overlay leaves in `workdir`. A missing
// marker is fine.
[[nodiscard]] Result<void> RemoveVolatileMarker(const std::string& workdir);

// One line of /proc/self/mountinfo.
struct MountInfo {
  int id = 0;
  int parent_id = 0;
  std::string root;         // root of the mount within its filesystem
  std::string mount_point;  // unescaped
  std::string fstype;
  std::string source;
  std::string options;     // per-mount options, e.g. "rw,nosuid,nodev,relatime"
  // Propagation tags, e.g. "shared:1 master:2"; empty for a private mount.
  std::string propagation;
  bool operator==(const MountInfo&) const = default;
};

// Parses mountinfo text (octal escapes like \040 decoded). Errors:
// kSyntax naming "mountinfo:<line>".
[[nodiscard]] Result<std::vector<MountInfo>> ParseMountInfo(std::string_view text);

// The mounts of this process, from /proc/self/mountinfo.
[[nodiscard]] Result<std::vector<MountInfo>> ListMounts();

// Mount points equal to `dir` or below it, deepest (last mounted) first, so
// they can be unmounted in order.
[[nodiscard]] Result<std::vector<std::string>> MountsUnder(const std::string& dir);

// Unmounts everything at or below `dir`, deepest first, detaching busy
// mounts. Returns the first error but tries all.
[[nodiscard]] Result<void> UnmountAllUnder(const std::string& dir);

}  // namespace kiln::sys
