#pragma once

// Private to src/image/: a read-only view of the files of an image archive
// (a tar, read with libarchive) or of an OCI layout directory, so the format
// logic in layout_read.cc does not care which it is reading.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/error.h"
#include "image/layout.h"

namespace kiln::image::internal {

inline constexpr size_t kChunkSize = 1 << 20;

struct FileInfo {
  int64_t size = 0;
  // sha256 of the content.
  Digest digest;
  // The first up-to-8 bytes, for sniffing compression.
  std::string head;
};

// Paths are relative, cleaned, '/'-separated ("blobs/sha256/<hex>").
// Errors name the file as "`label`: `path`: ..." where label is the
// archive or directory path. Not thread-safe.
class FileTree {
 public:
  virtual ~FileTree() = default;
  virtual bool Exists(const std::string& path) = 0;
  // kNotFound if missing.
  virtual Result<FileInfo> Info(const std::string& path) = 0;
  // Whole content; kInvalid if larger than `limit`.
  virtual Result<std::string> ReadSmall(const std::string& path, size_t limit) = 0;
  // Content in chunks of at most kChunkSize.
  virtual Result<void> Stream(const std::string& path, const BlobSink& sink) = 0;
};

// Scans the tar at `path` once (hashing every file) and serves reads from
// a small in-memory cache or by scanning again.
Result<std::unique_ptr<FileTree>> OpenTarTree(const std::string& path);
Result<std::unique_ptr<FileTree>> OpenDirTree(const std::string& dir);

// Checks that `path` from a manifest stays inside the archive and returns it
// cleaned; kInvalid `invalid path "../x": outside the archive` otherwise.
Result<std::string> ArchivePath(std::string_view path);

// "blobs/sha256/<hex>".
std::string BlobPath(const Digest& d);

// The layer media type for content starting with `head`: gzip and zstd
// magic give the compressed OCI types, anything else plain tar.
std::string_view SniffLayerMediaType(std::string_view head);

}  // namespace kiln::image::internal
