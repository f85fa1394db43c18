#pragma once

// File operations for COPY and ADD: wildcard expansion in the build
// context, content hashing for cache keys, and copying into an image rootfs.
// Every path is resolved inside its root (openat2 RESOLVE_IN_ROOT), so a
// symlink in the context or in the image can never lead kiln to read or
// write a host path outside that root.

#include <sys/stat.h>
#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "base/fs.h"
#include "sys/in_root.h"

namespace kiln::solver {

// In-root resolution is sys/in_root.h's; these names stay for the
// solver's callers.
using sys::FollowLast;
using sys::OpenInRoot;

// mkdir -p inside the root (sys::MkdirInRoot); directories created get
// `uid`/`gid` and 0755. Existing symlinked components are followed inside
// the root.
Result<void> MkdirAllInRoot(int root_fd, const std::string& path, uid_t uid, gid_t gid);

// Go's path.Match on one path: `*`, `?`, `[a-z]`, `[^a]`, `\` escapes; `*`
// does not cross '/'. Returns kInvalid for a malformed pattern.
Result<bool> MatchPattern(std::string_view pattern, std::string_view name);
bool HasWildcard(std::string_view s);

// Paths (relative to the root, cleaned, no leading '/') that `pattern`
// names: the path itself when it has no wildcard and exists, else every
// match; without those `excluded` leaves out (but with an excluded directory
// that `can_skip_dir` says may hold included paths and does; see
// CopyOptions). kNotFound names the pattern when nothing matches.
using ExcludeFn = std::function<bool(const std::string& rel_path)>;
Result<std::vector<std::string>> ExpandSources(int root_fd, const std::string& pattern, const ExcludeFn& excluded,
                                               const ExcludeFn& can_skip_dir = nullptr);

// A digest of what copying `rel` would produce: for every entry below it
// that CopyPath copies given the same `excluded` and `can_skip_dir` (see
// CopyOptions), in sorted order, its relative path, type, mode bits, link
// target and the sha256 of its content. mtime, atime, owner and inode are left out, so
// touching a file keeps the digest and changing one byte changes it.
// Format: docs/formats/cache-key.md. A regular file's content digest comes
// from `cache` (may be null) when it has one for the file's current stat,
// so an unchanged context is not read again (only for files on the root's
// own filesystem, and only ext2/3/4, xfs, btrfs, f2fs and tmpfs, which keep
// ctime exactly).
class FileDigestCache;
Result<Digest> HashPath(int root_fd, const std::string& rel, const ExcludeFn& excluded,
                        const ExcludeFn& can_skip_dir = nullptr, FileDigestCache* cache = nullptr);

// Content digests of regular files remembered across builds; the local
// worker backs it with the store's hash cache (store/hash_cache.h).
// Implementations must be thread-safe.
class FileDigestCache {
 public:
  virtual ~FileDigestCache() = default;
  // Unix time in ns; HashPath takes it before its first stat.
  virtual int64_t Now() = 0;
  // The remembered sha256 of `file` (a regular file under the tree whose
  // root directory is `tree`) if its stat identity is unchanged.
  virtual std::optional<Digest> Find(const struct stat& tree, const struct stat& file) = 0;
  // Remembers `digest` for `file`, stat'ed at `stat_time_ns` before it was read.
  virtual void Add(const struct stat& tree, const struct stat& file, const Digest& digest,
                   int64_t stat_time_ns) = 0;
};

struct CopyOptions {
  std::optional<uid_t> uid;  // --chown; unset keeps 0:0 (Docker's default for COPY)
  std::optional<gid_t> gid;
  std::optional<mode_t> chmod;  // --chmod, applied to files and dirs copied
  ExcludeFn excluded;           // .dockerignore and --exclude
  // Asked only about an excluded directory: true if nothing below it can be
  // included again, so the walk need not look inside. When it says false
  // (.dockerignore's `dir` then `!dir/sub`), what is included below is
  // copied and the excluded directories above it are created for it, as
  // BuildKit does. Null: every excluded directory is skipped whole.
  ExcludeFn can_skip_dir;
  // With kSourceOwners, files keep the source's uid/gid (COPY --from a stage).
  enum class Owners { kRoot, kSourceOwners } owners = Owners::kRoot;
  // For a copy into a plain directory (a step's upper dir, never through
  // overlayfs, where a link would copy up): each regular file whose content
  // digest `digest_cache` knows is stamped with it (archive's
  // kContentDigestXattr), and a file whose counterpart at the same path
  // under `link_from` (a directory fd, the snapshot the same COPY made last
  // time, or -1) has that digest and the metadata the copy would give is
  // hard-linked instead of copied. Its bytes are then the ones a copy would
  // have written, so the layer is the same.
  bool stamp_digests = false;
  FileDigestCache* digest_cache = nullptr;
  int link_from = -1;
  // Copy a directory's subdirectories on several threads (for a copy into
  // a fresh upper dir; the result is the same as a serial copy's).
  bool parallel = false;
};

// Copies `src_rel` from the source root to `dst_path` in the destination
// root with Docker's COPY rules: a directory's contents are copied into
// `dst_path` (created as a directory); a file lands at `dst_path`, or inside
// it when `dst_is_dir` (dest ends in '/', names an existing directory, or
// there are several sources). Symlinks are copied as symlinks, hard links
// inside one copy are kept. Parent directories are created owned by root.
enum class DestKind { kAuto, kDirectory };
Result<void> CopyPath(int src_root_fd, const std::string& src_rel, int dst_root_fd, const std::string& dst_path,
                      DestKind dest_kind, const CopyOptions& options);

}  // namespace kiln::solver
