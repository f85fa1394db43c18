// FileTree over a tar (libarchive) and over a directory.

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fmt/format.h>
#include <map>
#include <optional>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"
#include "image/codec.h"
#include "image/layout_internal.h"

namespace kiln::image::internal {
namespace {

// Files kept in memory after the first scan: small enough to be manifests,
// configs or layout metadata, up to a total budget.
constexpr size_t kCacheFileLimit = kMaxConfigBytes;
constexpr size_t kCacheBudget = 64 << 20;
// Link target for links that leave the archive: never an entry name.
const std::string kOutside = "/";

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveDeleter>;

Result<ArchivePtr> OpenArchive(const std::string& path) {
  ArchivePtr a(archive_read_new());
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_all(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK) {
    int err = archive_errno(a.get());
    std::string msg = archive_error_string(a.get()) ? archive_error_string(a.get()) : "cannot open";
    if (err == ENOENT) return Fail(Error::Io(path, err, "open"));
    return Fail(Error::Invalid(fmt::format("{}: not a tar archive: {}", path, msg)));
  }
  return a;
}

Error ArchiveError(const std::string& label, struct archive* a) {
  const char* msg = archive_error_string(a);
  return Error(ErrorCode::kIo, fmt::format("{}: reading archive: {}", label, msg ? msg : "unknown error"));
}

// Cleans an entry name; empty if it points outside the archive root.
std::string EntryName(const char* raw) {
  std::string_view name = raw ? raw : "";
  while (name.starts_with("/")) name.remove_prefix(1);
  std::string clean = CleanPath(name);
  if (clean == ".." || clean.starts_with("../") || clean == ".") return "";
  return clean;
}

class TarTree : public FileTree {
 public:
  static Result<std::unique_ptr<FileTree>> Open(const std::string& path) {
    auto tree = std::unique_ptr<TarTree>(new TarTree(path));
    KILN_TRY(tree->Scan());
    return std::unique_ptr<FileTree>(std::move(tree));
  }

  bool Exists(const std::string& path) override { return Resolve(path) != nullptr; }

  Result<FileInfo> Info(const std::string& path) override {
    KILN_TRY_ASSIGN(const Entry* e, Find(path));
    return e->info;
  }

  Result<std::string> ReadSmall(const std::string& path, size_t limit) override {
    KILN_TRY_ASSIGN(const Entry* e, Find(path));
    if (static_cast<uint64_t>(e->info.size) > limit) {
      return Fail(Error::Invalid(
          fmt::format("{}: {}: {} bytes, larger than the limit of {} bytes", label_, path, e->info.size, limit)));
    }
    if (e->data) return *e->data;
    std::string out;
    KILN_TRY(StreamEntry(*e, [&](std::string_view chunk) -> Result<void> {
      out.append(chunk);
      return Ok();
    }));
    return out;
  }

  Result<void> Stream(const std::string& path, const BlobSink& sink) override {
    KILN_TRY_ASSIGN(const Entry* e, Find(path));
    if (e->data) {
      std::string_view data = *e->data;
      for (size_t off = 0; off < data.size(); off += kChunkSize) KILN_TRY(sink(data.substr(off, kChunkSize)));
      return Ok();
    }
    return StreamEntry(*e, sink);
  }

 private:
  struct Entry {
    size_t ordinal = 0;        // position in the tar, for re-scans
    std::string link;          // symlink/hardlink target (cleaned), if a link
    FileInfo info;
    std::optional<std::string> data;
  };

  explicit TarTree(std::string path) : label_(std::move(path)) {}

  Result<void> Scan() {
    KILN_TRY_ASSIGN(ArchivePtr a, OpenArchive(label_));
    struct archive_entry* entry = nullptr;
    size_t cached = 0;
    for (size_t ordinal = 0;; ++ordinal) {
      int rc = archive_read_next_header(a.get(), &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc < ARCHIVE_WARN) return Fail(ArchiveError(label_, a.get()));
      std::string name = EntryName(archive_entry_pathname(entry));
      if (name.empty()) continue;
      Entry e;
      e.ordinal = ordinal;
      if (const char* hard = archive_entry_hardlink(entry)) {
        std::string target = EntryName(hard);
        e.link = target.empty() ? kOutside : target;
        entries_[name] = std::move(e);
        continue;
      }
      mode_t type = archive_entry_filetype(entry);
      if (type == AE_IFLNK) {
        const char* target = archive_entry_symlink(entry);
        std::string_view t = target ? target : "";
        std::string joined = t.starts_with("/") ? kOutside : CleanPath(JoinPath(Dirname(name), t));
        e.link = joined == ".." || joined.starts_with("../") ? kOutside : joined;
        entries_[name] = std::move(e);
        continue;
      }
      if (type != AE_IFREG) continue;
      bool keep = archive_entry_size(entry) <= static_cast<int64_t>(kCacheFileLimit) &&
                  cached + archive_entry_size(entry) <= kCacheBudget;
      std::string data;
      Sha256 hash;
      char buf[1 << 16];
      for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf, sizeof(buf));
        if (n < 0) return Fail(ArchiveError(label_, a.get()));
        if (n == 0) break;
        std::string_view chunk(buf, static_cast<size_t>(n));
        if (e.info.head.size() < 8) e.info.head.append(chunk.substr(0, 8 - e.info.head.size()));
        hash.Update(chunk);
        if (keep) data.append(chunk);
      }
      e.info.size = static_cast<int64_t>(hash.bytes());
      e.info.digest = hash.Finish();
      if (keep) {
        cached += data.size();
        e.data = std::move(data);
      }
      entries_[name] = std::move(e);
    }
    return Ok();
  }

  const Entry* Resolve(std::string path) const {
    for (int hops = 0; hops < 16; ++hops) {
      auto it = entries_.find(path);
      if (it == entries_.end()) return nullptr;
      if (it->second.link.empty()) return &it->second;
      path = it->second.link;
    }
    return nullptr;
  }

  Result<const Entry*> Find(const std::string& path) const {
    const Entry* e = Resolve(path);
    if (!e) return Fail(Error::NotFound(fmt::format("{}: {}: not found in the archive", label_, path)));
    return e;
  }

  Result<void> StreamEntry(const Entry& e, const BlobSink& sink) {
    KILN_TRY_ASSIGN(ArchivePtr a, OpenArchive(label_));
    struct archive_entry* entry = nullptr;
    for (size_t ordinal = 0; ordinal <= e.ordinal; ++ordinal) {
      int rc = archive_read_next_header(a.get(), &entry);
      if (rc == ARCHIVE_EOF) return Fail(Error(ErrorCode::kIo, fmt::format("{}: archive changed while reading", label_)));
      if (rc < ARCHIVE_WARN) return Fail(ArchiveError(label_, a.get()));
    }
    std::vector<char> buf(kChunkSize);
    for (;;) {
      la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
      if (n < 0) return Fail(ArchiveError(label_, a.get()));
      if (n == 0) return Ok();
      KILN_TRY(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
    }
  }

  std::string label_;
  std::map<std::string, Entry> entries_;
};

class DirTree : public FileTree {
 public:
  explicit DirTree(std::string dir) : dir_(std::move(dir)) {}

  bool Exists(const std::string& path) override { return PathExists(JoinPath(dir_, path)); }

  Result<FileInfo> Info(const std::string& path) override {
    FileInfo info;
    Sha256 hash;
    KILN_TRY(Stream(path, [&](std::string_view chunk) -> Result<void> {
      if (info.head.size() < 8) info.head.append(chunk.substr(0, 8 - info.head.size()));
      hash.Update(chunk);
      return Ok();
    }));
    info.size = static_cast<int64_t>(hash.bytes());
    info.digest = hash.Finish();
    return info;
  }

  Result<std::string> ReadSmall(const std::string& path, size_t limit) override {
    std::string out;
    KILN_TRY(Stream(path, [&](std::string_view chunk) -> Result<void> {
      if (out.size() + chunk.size() > limit) {
        return Fail(Error::Invalid(fmt::format("{}: larger than the limit of {} bytes", JoinPath(dir_, path), limit)));
      }
      out.append(chunk);
      return Ok();
    }));
    return out;
  }

  Result<void> Stream(const std::string& path, const BlobSink& sink) override {
    std::string full = JoinPath(dir_, path);
    KILN_TRY_ASSIGN(Fd fd, OpenFile(full, O_RDONLY));
    std::vector<char> buf(kChunkSize);
    for (;;) {
      ssize_t n = read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(Error::Io(full, errno, "read"));
      if (n == 0) return Ok();
      KILN_TRY(sink(std::string_view(buf.data(), static_cast<size_t>(n))));
    }
  }

 private:
  std::string dir_;
};

}  // namespace

Result<std::unique_ptr<FileTree>> OpenTarTree(const std::string& path) { return TarTree::Open(path); }

Result<std::unique_ptr<FileTree>> OpenDirTree(const std::string& dir) {
  return std::unique_ptr<FileTree>(std::make_unique<DirTree>(dir));
}

Result<std::string> ArchivePath(std::string_view path) {
  std::string clean = CleanPath(path);
  if (path.empty() || path.starts_with("/") || clean == ".." || clean.starts_with("../") || clean == ".")
    return Fail(Error::Invalid(fmt::format("invalid path {}: outside the archive", Quote(path))));
  return clean;
}

std::string BlobPath(const Digest& d) { return "blobs/" + d.algorithm() + "/" + d.hex(); }

std::string_view SniffLayerMediaType(std::string_view head) {
  if (head.starts_with("\x1f\x8b")) return kOciLayerGzip;
  if (head.starts_with("\x28\xb5\x2f\xfd")) return kOciLayerZstd;
  return kOciLayer;
}

}  // namespace kiln::image::internal
