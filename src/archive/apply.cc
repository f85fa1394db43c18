// Safe layer application. Every filesystem operation is relative to a
// directory fd obtained by walking from the target root one component at a
// time with O_NOFOLLOW (or one openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
// call), so no symlink, existing or planted by the layer itself, can
// redirect a write outside the root.

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <unordered_set>
#include <utility>
#include <vector>

#include "archive/layer.h"
#include "base/fs.h"
#include "base/strings.h"

namespace kiln::archive {
namespace {

constexpr size_t kCopyBuffer = 256 * 1024;

std::string ProcFdPath(int fd) { return fmt::format("/proc/self/fd/{}", fd); }

// Removes `name` in `dirfd` and, for a directory, everything below it,
// never following symlinks.
Result<void> RemoveAtFd(int dirfd, const std::string& name, const std::string& what) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Ok();
    return Fail(Error::Io(what, errno, "stat"));
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Fail(Error::Io(what, errno, "open"));
    Fd dir(fd);
    KILN_TRY_ASSIGN(auto names, ListDirectory(fd, what));
    for (const auto& n : names) KILN_TRY(RemoveAtFd(fd, n, what + "/" + n));
    dir.Reset();
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return Fail(Error::Io(what, errno, "rmdir"));
    return Ok();
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT)
    return Fail(Error::Io(what, errno, "unlink"));
  return Ok();
}

class Applier {
 public:
  Applier(TarReader& reader, Fd root, std::string root_path, const ApplyOptions& options)
      : reader_(reader), root_(std::move(root)), root_path_(std::move(root_path)),
        options_(options), buf_(kCopyBuffer, '\0') {}

  Result<int64_t> Run() {
    int64_t count = 0;
    while (true) {
      Result<std::optional<TarEntry>> next = reader_.Next();
      if (!next) return Fail(std::move(next).error());
      if (!next->has_value()) break;
      ++count;
      KILN_TRY(ApplyEntry(**next));
    }
    // Directory mtimes last, deepest first: creating children changes them.
    for (auto it = dir_times_.rbegin(); it != dir_times_.rend(); ++it) {
      auto [parent_rel, base] = Split(it->first);
      // A later entry may have deleted or replaced the directory.
      Result<Fd> parent = OpenParent(parent_rel, /*create=*/false);
      if (!parent && parent.error().code() == ErrorCode::kNotFound) continue;
      if (!parent) return Fail(std::move(parent).error());
      struct stat st;
      if (::fstatat(parent->get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode))
        continue;
      struct timespec ts[2] = {{it->second, 0}, {it->second, 0}};
      if (::utimensat(parent->get(), base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
        return Fail(Error::Io(Where(it->first), errno, "utimensat"));
    }
    return count;
  }

 private:
  static std::pair<std::string, std::string> Split(const std::string& rel) {
    size_t slash = rel.rfind('/');
    if (slash == std::string::npos) return {"", rel};
    return {rel.substr(0, slash), rel.substr(slash + 1)};
  }

  std::string Where(std::string_view rel) const { return JoinPath(root_path_, rel); }

  Error Reject(std::string_view message) const {
    return reader_.EntryError(ErrorCode::kInvalid, message);
  }

  // Maps a member name to a path relative to the root ("" is the root).
  // Absolute names are rooted at the target; relative names that climb
  // out of it are refused.
  Result<std::string> SafeRel(std::string_view name, std::string_view what) const {
    if (name.empty()) return Fail(Reject(fmt::format("empty {}", what)));
    if (name.front() == '/') return CleanPath(name).substr(1);
    std::string c = CleanPath(name);
    if (c == ".." || c.starts_with("../"))
      return Fail(Reject(fmt::format("{} {} escapes the layer root", what, Quote(name))));
    return c == "." ? std::string() : c;
  }

  // Opens directory `rel` (relative to the root) as an O_PATH fd without
  // following any symlink. With `create`, missing directories are made
  // (mode 0755, owned by the current user).
  Result<Fd> OpenParent(const std::string& rel, bool create) {
    if (rel.empty()) return Dup(root_.get());
    if (cached_valid_ && rel == cached_rel_) return Dup(cached_.get());
    struct open_how how = {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, root_.get(), rel.c_str(), &how, sizeof how);
    Fd result;
    if (fd >= 0) {
      result = Fd(static_cast<int>(fd));
    } else {
      // Slow path: walk component by component, creating as needed and
      // producing a precise error.
      KILN_TRY_ASSIGN(result, Walk(rel, create));
    }
    KILN_TRY_ASSIGN(cached_, Dup(result.get()));
    cached_rel_ = rel;
    cached_valid_ = true;
    return result;
  }

  Result<Fd> Dup(int fd) const {
    int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) return Fail(Error::Errno("dup", errno));
    return Fd(d);
  }

  Result<Fd> Walk(const std::string& rel, bool create) {
    KILN_TRY_ASSIGN(Fd cur, Dup(root_.get()));
    size_t pos = 0;
    while (pos <= rel.size()) {
      size_t slash = rel.find('/', pos);
      if (slash == std::string::npos) slash = rel.size();
      std::string comp = rel.substr(pos, slash - pos);
      std::string sofar = rel.substr(0, slash);
      pos = slash + 1;
      int fd = ::openat(cur.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0 && errno == ENOENT && create) {
        if (::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
          return Fail(Error::Io(Where(sofar), errno, "mkdir"));
        fd = ::openat(cur.get(), comp.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      }
      if (fd < 0) {
        int err = errno;
        struct stat st;
        if ((err == ENOTDIR || err == ELOOP) &&
            ::fstatat(cur.get(), comp.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
          if (S_ISLNK(st.st_mode))
            return Fail(Reject(fmt::format("parent {} is a symlink", Quote(sofar))));
          return Fail(Reject(fmt::format("parent {} is not a directory", Quote(sofar))));
        }
        return Fail(Error::Io(Where(sofar), err, "open"));
      }
      cur = Fd(fd);
    }
    return cur;
  }

  void InvalidateCache() {
    cached_valid_ = false;
    cached_ = Fd();
  }

  Result<void> ApplyEntry(const TarEntry& e) {
    KILN_TRY_ASSIGN(std::string rel, SafeRel(e.path, "path"));
    if (rel.empty()) return Ok();  // the root itself keeps the target's metadata
    // (uid_t)-1 means "unchanged" to chown; larger values would truncate.
    if (e.uid >= 0xffffffffLL || e.gid >= 0xffffffffLL)
      return Fail(Reject(fmt::format("uid/gid {}:{} out of range", e.uid, e.gid)));
    auto [parent_rel, base] = Split(rel);
    if (base.starts_with(kWhiteoutPrefix)) return ApplyWhiteout(rel, parent_rel, base);
    if (options_.whiteout_mode == WhiteoutMode::kApply) written_.insert(rel);

    KILN_TRY_ASSIGN(Fd parent, OpenParent(parent_rel, /*create=*/true));
    int pfd = parent.get();
    const char* name = base.c_str();
    std::string where = Where(rel);

    // Replace whatever is there, except that a directory stays a directory.
    struct stat st;
    bool exists = ::fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
    if (exists && !(e.type == TarType::kDirectory && S_ISDIR(st.st_mode))) {
      if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode)) InvalidateCache();
      KILN_TRY(RemoveAtFd(pfd, base, where));
      exists = false;
    }

    switch (e.type) {
      case TarType::kFile: {
        int fd = ::openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return Fail(Error::Io(where, errno, "create"));
        Fd file(fd);
        while (true) {
          KILN_TRY_ASSIGN(size_t n, reader_.ReadData(std::span<char>(buf_.data(), buf_.size())));
          if (n == 0) break;
          KILN_TRY(WriteAll(fd, std::string_view(buf_.data(), n), where));
        }
        KILN_TRY(SetOwnerModeFd(fd, e, where));
        KILN_TRY(SetXattrs(e, where, [&](const std::string& k, const std::string& v) {
          return ::fsetxattr(fd, k.c_str(), v.data(), v.size(), 0);
        }));
        struct timespec ts[2] = {{e.mtime, 0}, {e.mtime, 0}};
        if (::futimens(fd, ts) != 0) return Fail(Error::Io(where, errno, "futimens"));
        return Ok();
      }
      case TarType::kDirectory: {
        if (!exists && ::mkdirat(pfd, name, 0700) != 0) return Fail(Error::Io(where, errno, "mkdir"));
        int fd = ::openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return Fail(Error::Io(where, errno, "open"));
        Fd dir(fd);
        KILN_TRY(SetOwnerModeFd(fd, e, where));
        KILN_TRY(SetXattrs(e, where, [&](const std::string& k, const std::string& v) {
          return ::fsetxattr(fd, k.c_str(), v.data(), v.size(), 0);
        }));
        dir_times_.emplace_back(rel, e.mtime);
        return Ok();
      }
      case TarType::kSymlink: {
        if (::symlinkat(e.link_target.c_str(), pfd, name) != 0)
          return Fail(Error::Io(where, errno, "symlink"));
        InvalidateCache();
        KILN_TRY(SetOwnerAt(pfd, name, e, where));
        struct timespec ts[2] = {{e.mtime, 0}, {e.mtime, 0}};
        if (::utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
          return Fail(Error::Io(where, errno, "utimensat"));
        return Ok();
      }
      case TarType::kHardLink:
        return ApplyHardLink(e, rel, pfd, base);
      case TarType::kCharDevice:
      case TarType::kBlockDevice:
      case TarType::kFifo: {
        mode_t type = e.type == TarType::kCharDevice  ? S_IFCHR
                      : e.type == TarType::kBlockDevice ? S_IFBLK
                                                        : S_IFIFO;
        dev_t dev = type == S_IFIFO ? 0 : makedev(e.dev_major, e.dev_minor);
        if (::mknodat(pfd, name, type | 0600, dev) != 0) return Fail(Error::Io(where, errno, "mknod"));
        KILN_TRY(SetOwnerAt(pfd, name, e, where));
        // Reopen by O_PATH so chmod and xattrs hit the node just made,
        // through /proc/self/fd (fchmod does not work on O_PATH fds).
        int fd = ::openat(pfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return Fail(Error::Io(where, errno, "open"));
        Fd node(fd);
        std::string proc = ProcFdPath(fd);
        if (::chmod(proc.c_str(), e.mode & 07777) != 0) return Fail(Error::Io(where, errno, "chmod"));
        KILN_TRY(SetXattrs(e, where, [&](const std::string& k, const std::string& v) {
          return ::setxattr(proc.c_str(), k.c_str(), v.data(), v.size(), 0);
        }));
        struct timespec ts[2] = {{e.mtime, 0}, {e.mtime, 0}};
        if (::utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW) != 0)
          return Fail(Error::Io(where, errno, "utimensat"));
        return Ok();
      }
    }
    return Ok();
  }

  Result<void> ApplyHardLink(const TarEntry& e, const std::string& rel, int pfd,
                             const std::string& base) {
    KILN_TRY_ASSIGN(std::string target, SafeRel(e.link_target, "hard link target"));
    if (target.empty() || target == rel)
      return Fail(Reject(fmt::format("invalid hard link target {}", Quote(e.link_target))));
    auto [tparent_rel, tbase] = Split(target);
    Result<Fd> tparent = OpenParent(tparent_rel, /*create=*/false);
    if (!tparent) {
      if (tparent.error().code() == ErrorCode::kNotFound)
        return Fail(Reject(fmt::format("hard link target {} not found", Quote(e.link_target))));
      return Fail(std::move(tparent).error());
    }
    struct stat st;
    if (::fstatat(tparent->get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT)
        return Fail(Reject(fmt::format("hard link target {} not found", Quote(e.link_target))));
      return Fail(Error::Io(Where(target), errno, "stat"));
    }
    if (S_ISDIR(st.st_mode))
      return Fail(Reject(fmt::format("hard link target {} is a directory", Quote(e.link_target))));
    // Without AT_SYMLINK_FOLLOW a symlink target is linked as the symlink
    // itself, never the file it points to.
    if (::linkat(tparent->get(), tbase.c_str(), pfd, base.c_str(), 0) != 0)
      return Fail(Error::Io(Where(rel), errno, "link"));
    return Ok();
  }

  Result<void> ApplyWhiteout(const std::string& rel, const std::string& parent_rel,
                             const std::string& base) {
    bool overlay = options_.whiteout_mode == WhiteoutMode::kOverlay;
    if (base == kOpaqueWhiteout) {
      if (overlay) {
        KILN_TRY_ASSIGN(Fd dir, OpenParent(parent_rel, /*create=*/true));
        std::string proc = ProcFdPath(dir.get());
        if (::setxattr(proc.c_str(), "trusted.overlay.opaque", "y", 1, 0) != 0)
          return Fail(Error::Io(Where(parent_rel), errno, "setxattr trusted.overlay.opaque"));
        return Ok();
      }
      Result<Fd> dir = OpenParent(parent_rel, /*create=*/false);
      if (!dir && dir.error().code() == ErrorCode::kNotFound) return Ok();
      if (!dir) return Fail(std::move(dir).error());
      InvalidateCache();
      return ClearOpaque(dir->get(), parent_rel);
    }
    std::string victim = base.substr(kWhiteoutPrefix.size());
    if (victim.empty() || victim == "." || victim == ".." || victim.find('/') != std::string::npos)
      return Fail(Reject(fmt::format("invalid whiteout {}", Quote(base))));
    std::string victim_rel = parent_rel.empty() ? victim : parent_rel + "/" + victim;
    if (overlay) {
      KILN_TRY_ASSIGN(Fd dir, OpenParent(parent_rel, /*create=*/true));
      KILN_TRY(RemoveAtFd(dir.get(), victim, Where(victim_rel)));
      InvalidateCache();
      if (::mknodat(dir.get(), victim.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
        return Fail(Error::Io(Where(victim_rel), errno, "mknod whiteout"));
      return Ok();
    }
    Result<Fd> dir = OpenParent(parent_rel, /*create=*/false);
    if (!dir && dir.error().code() == ErrorCode::kNotFound) return Ok();
    if (!dir) return Fail(std::move(dir).error());
    InvalidateCache();
    (void)rel;
    return RemoveAtFd(dir->get(), victim, Where(victim_rel));
  }

  // kApply: removes everything in `dirfd` that this layer did not write.
  Result<void> ClearOpaque(int dirfd, const std::string& dir_rel) {
    KILN_TRY_ASSIGN(auto names, ListDirectory(dirfd, Where(dir_rel)));
    for (const auto& n : names) {
      std::string child = dir_rel.empty() ? n : dir_rel + "/" + n;
      if (written_.count(child)) {
        struct stat st;
        if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
          int sub = ::openat(dirfd, n.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
          if (sub < 0) return Fail(Error::Io(Where(child), errno, "open"));
          Fd subfd(sub);
          KILN_TRY(ClearOpaque(subfd.get(), child));
        }
        continue;
      }
      KILN_TRY(RemoveAtFd(dirfd, n, Where(child)));
    }
    return Ok();
  }

  Result<void> SetOwnerModeFd(int fd, const TarEntry& e, const std::string& where) {
    if (options_.ownership == OwnershipMode::kPreserve &&
        ::fchown(fd, static_cast<uid_t>(e.uid), static_cast<gid_t>(e.gid)) != 0)
      return Fail(Error::Io(where, errno, "chown"));
    // After chown, which clears setuid/setgid.
    if (::fchmod(fd, e.mode & 07777) != 0) return Fail(Error::Io(where, errno, "chmod"));
    return Ok();
  }

  Result<void> SetOwnerAt(int pfd, const char* name, const TarEntry& e, const std::string& where) {
    if (options_.ownership == OwnershipMode::kPreserve &&
        ::fchownat(pfd, name, static_cast<uid_t>(e.uid), static_cast<gid_t>(e.gid),
                   AT_SYMLINK_NOFOLLOW) != 0)
      return Fail(Error::Io(where, errno, "chown"));
    return Ok();
  }

  template <typename SetFn>
  Result<void> SetXattrs(const TarEntry& e, const std::string& where, SetFn set) {
    for (const auto& [k, v] : e.xattrs) {
      // A layer must not smuggle in overlayfs metadata (redirects, opaque
      // markers: those are only made from whiteout entries) or kiln's.
      if (IsBuilderXattr(k)) continue;
      if (set(k, v) != 0) {
        if (errno == ENOTSUP) continue;
        if (errno == EPERM && options_.ownership == OwnershipMode::kIgnore) continue;
        return Fail(Error::Io(where, errno, fmt::format("setxattr {}", k)));
      }
    }
    return Ok();
  }

  TarReader& reader_;
  Fd root_;
  std::string root_path_;
  const ApplyOptions& options_;
  std::string buf_;
  std::vector<std::pair<std::string, int64_t>> dir_times_;
  std::unordered_set<std::string> written_;
  std::string cached_rel_;
  Fd cached_;
  bool cached_valid_ = false;
};

}  // namespace

Result<int64_t> ApplyTar(TarReader& reader, const std::string& target_dir,
                         const ApplyOptions& options) {
  KILN_TRY_ASSIGN(Fd root, OpenFile(target_dir, O_PATH | O_DIRECTORY));
  Applier applier(reader, std::move(root), target_dir, options);
  return applier.Run();
}

Result<ApplyInfo> ApplyLayer(ByteSource& source, const std::string& target_dir,
                             const ApplyOptions& options) {
  DigestingSource raw(source);
  KILN_TRY_ASSIGN(auto decompressed, OpenDecompressor(raw));
  DigestingSource tar(*decompressed);
  TarReader reader(tar, options.label);
  Result<int64_t> entries = ApplyTar(reader, target_dir, options);
  if (!entries) return Fail(std::move(entries).error().Wrap("applying {} to {}", options.label, target_dir));
  // The diff_id covers the whole uncompressed stream, including padding
  // after the end-of-archive blocks.
  KILN_TRY(Drain(tar).map_error([&](Error e) {
    return Error(e.code(), fmt::format("{}: after the last entry: {}", options.label, e.message()));
  }));
  KILN_TRY(Drain(raw));
  ApplyInfo info;
  info.uncompressed_size = static_cast<int64_t>(tar.bytes());
  info.diff_id = tar.Finish();
  info.size = static_cast<int64_t>(raw.bytes());
  info.digest = raw.Finish();
  info.entries = *entries;
  return info;
}

}  // namespace kiln::archive
