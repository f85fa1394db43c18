// Layer writing: walks a directory tree (plain or an overlayfs upper dir)
// and emits tar entries in a deterministic order.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <utility>

#include "archive/layer.h"
#include "base/fs.h"
#include "base/strings.h"

namespace kiln::archive {

bool IsBuilderXattr(std::string_view name) {
  return name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.") ||
         name.starts_with("trusted.kiln.");
}

namespace {

constexpr size_t kCopyBuffer = 256 * 1024;
constexpr int64_t kHandOffFile = 1 << 20;

// Xattrs that describe the build host rather than the file are not copied:
// SELinux labels, ACLs in the system namespace, overlayfs's and kiln's
// bookkeeping.
bool KeepXattr(std::string_view name) {
  return !IsBuilderXattr(name) && name != "security.selinux" && !name.starts_with("system.");
}

// All xattrs of one file, name -> value: of the open `fd` when it is valid
// (no path walk per call), else of `path` without following a symlink.
Result<std::map<std::string, std::string>> ListXattrs(int fd, const std::string& path) {
  auto list = [&](char* buf, size_t size) {
    return fd >= 0 ? ::flistxattr(fd, buf, size) : ::llistxattr(path.c_str(), buf, size);
  };
  auto get = [&](const char* name, char* buf, size_t size) {
    return fd >= 0 ? ::fgetxattr(fd, name, buf, size) : ::lgetxattr(path.c_str(), name, buf, size);
  };
  std::map<std::string, std::string> out;
  std::string names(1024, '\0');
  while (true) {
    ssize_t n = list(names.data(), names.size());
    if (n >= 0) {
      names.resize(n);
      break;
    }
    if (errno == ERANGE) {
      names.resize(names.size() * 4);
      continue;
    }
    if (errno == ENOTSUP) return out;
    return Fail(Error::Io(path, errno, "listxattr"));
  }
  for (std::string_view rest = names; !rest.empty();) {
    size_t nul = rest.find('\0');
    std::string name(rest.substr(0, nul));
    rest.remove_prefix(nul == std::string_view::npos ? rest.size() : nul + 1);
    // kiln's own are never archived; no need to read them.
    if (name.empty() || name.starts_with("trusted.kiln.")) continue;
    std::string value(256, '\0');
    while (true) {
      ssize_t n = get(name.c_str(), value.data(), value.size());
      if (n >= 0) {
        value.resize(n);
        break;
      }
      if (errno == ERANGE) {
        value.resize(value.size() * 4 + 65536);
        continue;
      }
      return Fail(Error::Io(path, errno, fmt::format("getxattr {}", name)));
    }
    out.emplace(std::move(name), std::move(value));
  }
  return out;
}

class TreeWalker {
 public:
  TreeWalker(const std::string& root, TreeKind kind, TarWriter& writer,
             const LayerWriteOptions& options)
      : root_(root), kind_(kind), writer_(writer), options_(options), buf_(kCopyBuffer, '\0') {}

  Result<TreeStats> Run() {
    KILN_TRY_ASSIGN(Fd fd, OpenFile(root_, O_RDONLY | O_DIRECTORY));
    KILN_TRY(WalkDir(fd.get(), ""));
    return stats_;
  }

 private:
  Result<void> Emit(const TarEntry& e) {
    ++stats_.entries;
    return writer_.WriteHeader(e);
  }

  Result<void> WalkDir(int dirfd, const std::string& rel) {
    std::string dir_path = rel.empty() ? root_ : JoinPath(root_, rel);
    KILN_TRY_ASSIGN(auto names, ListDirectory(dirfd, dir_path));
    for (const std::string& name : names) KILN_TRY(WalkEntry(dirfd, rel, name));
    return Ok();
  }

  Result<void> WalkEntry(int dirfd, const std::string& dir_rel, const std::string& name) {
    std::string rel = dir_rel.empty() ? name : dir_rel + "/" + name;
    if (options_.exclude && options_.exclude(rel)) return Ok();
    std::string path = JoinPath(root_, rel);
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Fail(Error::Io(path, errno, "stat"));

    TarEntry e;
    e.path = rel;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.mtime = st.st_mtim.tv_sec;
    if (options_.clamp_mtime && e.mtime > *options_.clamp_mtime) e.mtime = *options_.clamp_mtime;

    bool upper = kind_ == TreeKind::kOverlayUpper;
    if (upper && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      // An overlayfs whiteout: the name was deleted in this layer.
      e.path = dir_rel.empty() ? std::string(kWhiteoutPrefix) + name
                               : dir_rel + "/" + std::string(kWhiteoutPrefix) + name;
      e.type = TarType::kFile;
      e.mode = 0;
      e.size = 0;
      return Emit(e);
    }
    if (S_ISSOCK(st.st_mode)) return Ok();  // like docker: sockets are not archived
    if (S_ISREG(st.st_mode)) stats_.file_bytes += st.st_size;

    // Files and directories are opened once, for their xattrs and then
    // their data or entries; anything else (a fifo, a device) is never
    // opened.
    Fd fd;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
      int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
      fd = Fd(::openat(dirfd, name.c_str(), flags));
      if (!fd.valid()) return Fail(Error::Io(path, errno, "open"));
    }
    KILN_TRY_ASSIGN(auto xattrs, ListXattrs(fd.get(), path));
    bool opaque = false;
    for (auto& [k, v] : xattrs) {
      if (!upper) continue;
      if ((k == "trusted.overlay.opaque" || k == "user.overlay.opaque") && v == "y") opaque = true;
      if (k == "trusted.overlay.redirect" || k == "user.overlay.redirect" ||
          k == "trusted.overlay.metacopy" || k == "user.overlay.metacopy") {
        return Fail(Error::Unsupported(fmt::format(
            "{}: overlay {} is not supported (mount without redirect_dir/metacopy)", path, k)));
      }
    }
    for (auto& [k, v] : xattrs)
      if (KeepXattr(k) && !S_ISLNK(st.st_mode)) e.xattrs.emplace(k, v);

    if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
      auto [it, inserted] = links_.try_emplace({st.st_dev, st.st_ino}, rel);
      if (!inserted) {
        e.type = TarType::kHardLink;
        e.link_target = it->second;
        e.xattrs.clear();
        return Emit(e);
      }
    }

    switch (st.st_mode & S_IFMT) {
      case S_IFREG: {
        e.type = TarType::kFile;
        e.size = st.st_size;
        KILN_TRY(Emit(e));
        // A big file's data may be read by the sink's own thread.
        if (e.size >= kHandOffFile) return writer_.WriteFileData(fd.get(), e.size, path);
        int64_t left = e.size;
        while (left > 0) {
          ssize_t n = ::read(fd.get(), buf_.data(), std::min<int64_t>(left, buf_.size()));
          if (n < 0) {
            if (errno == EINTR) continue;
            return Fail(Error::Io(path, errno, "read"));
          }
          if (n == 0) return Fail(Error::Invalid(fmt::format("{}: file shrank while archiving", path)));
          KILN_TRY(writer_.WriteData(std::string_view(buf_.data(), n)));
          left -= n;
        }
        return Ok();
      }
      case S_IFDIR: {
        e.type = TarType::kDirectory;
        KILN_TRY(Emit(e));
        if (opaque) {
          TarEntry o;
          o.path = rel + "/" + std::string(kOpaqueWhiteout);
          o.mode = 0;
          o.uid = e.uid;
          o.gid = e.gid;
          o.mtime = e.mtime;
          KILN_TRY(Emit(o));
        }
        return WalkDir(fd.get(), rel);
      }
      case S_IFLNK: {
        e.type = TarType::kSymlink;
        std::string target(st.st_size > 0 ? st.st_size + 1 : 4096, '\0');
        ssize_t n = ::readlinkat(dirfd, name.c_str(), target.data(), target.size());
        if (n < 0) return Fail(Error::Io(path, errno, "readlink"));
        target.resize(n);
        e.link_target = std::move(target);
        return Emit(e);
      }
      case S_IFCHR:
      case S_IFBLK:
        e.type = S_ISCHR(st.st_mode) ? TarType::kCharDevice : TarType::kBlockDevice;
        e.dev_major = major(st.st_rdev);
        e.dev_minor = minor(st.st_rdev);
        return Emit(e);
      case S_IFIFO:
        e.type = TarType::kFifo;
        return Emit(e);
    }
    return Fail(Error::Unsupported(fmt::format("{}: unsupported file type", path)));
  }

  const std::string& root_;
  TreeKind kind_;
  TarWriter& writer_;
  const LayerWriteOptions& options_;
  std::string buf_;
  TreeStats stats_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

Result<LayerInfo> WriteLayer(const std::string& dir, TreeKind kind, ByteSink& sink,
                             const LayerWriteOptions& options) {
  KILN_TRY_ASSIGN(auto compressor, CompressingSink::Create(sink, options.compression));
  TarWriter writer(*compressor);
  KILN_TRY_ASSIGN(TreeStats stats, WriteTreeEntries(dir, kind, writer, options));
  KILN_TRY(writer.Finish());
  KILN_TRY_ASSIGN(BlobDigests d, compressor->Close());
  LayerInfo info;
  info.diff_id = d.diff_id;
  info.digest = d.digest;
  info.size = static_cast<int64_t>(d.size);
  info.uncompressed_size = static_cast<int64_t>(d.uncompressed_size);
  info.entries = stats.entries;
  info.file_bytes = stats.file_bytes;
  return info;
}

}  // namespace

ExcludeFn ExcludePaths(std::vector<std::string> paths) {
  std::vector<std::string> cleaned;
  for (const auto& p : paths) {
    std::string c = CleanPath("/" + p).substr(1);
    if (!c.empty()) cleaned.push_back(std::move(c));
  }
  std::sort(cleaned.begin(), cleaned.end());
  return [cleaned = std::move(cleaned)](std::string_view rel) {
    return std::binary_search(cleaned.begin(), cleaned.end(), rel);
  };
}

Result<TreeStats> WriteTreeEntries(const std::string& dir, TreeKind kind, TarWriter& writer,
                                 const LayerWriteOptions& options) {
  TreeWalker walker(dir, kind, writer, options);
  return walker.Run();
}

Result<LayerInfo> WriteLayerFromDir(const std::string& dir, ByteSink& sink,
                                    const LayerWriteOptions& options) {
  auto r = WriteLayer(dir, TreeKind::kPlain, sink, options);
  if (!r) return Fail(std::move(r).error().Wrap("writing a layer from {}", dir));
  return r;
}

Result<LayerInfo> WriteLayerFromUpperDir(const std::string& upper_dir, ByteSink& sink,
                                         const LayerWriteOptions& options) {
  auto r = WriteLayer(upper_dir, TreeKind::kOverlayUpper, sink, options);
  if (!r) return Fail(std::move(r).error().Wrap("writing a layer from upper dir {}", upper_dir));
  return r;
}

}  // namespace kiln::archive
