#pragma once

// OCI layers: writing a layer tar from a directory tree or an overlayfs
// upper dir, and applying an untrusted layer to a directory safely.
//
// Layer format written (header encoding: see tar.h):
//  * Member names are relative ("etc/hosts"), never "./" or "/"-prefixed;
//    the tree root itself is not a member.
//  * Order: depth-first, each directory's children sorted by name bytes,
//    a directory before its contents. This is the order of Go's
//    filepath.Walk, which BuildKit and Docker use, so equal trees give
//    equal layers across tools as far as headers agree.
//  * Whiteouts (OCI image spec): ".wh.<name>" deletes <name>;
//    "<dir>/.wh..wh..opq" (right after <dir>) hides everything older in
//    <dir>. Both are empty regular files with mode 0.
//  * Xattrs kept: everything but security.selinux, system.* and
//    trusted.overlay.* / user.overlay.*; symlinks carry none.
//  * Sockets are skipped, as docker does.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/compression.h"
#include "archive/stream.h"
#include "archive/tar.h"
#include "base/digest.h"
#include "base/error.h"

namespace kiln::archive {

// Whiteout names used in layer tars (OCI image spec, "Whiteouts").
inline constexpr std::string_view kWhiteoutPrefix = ".wh.";
inline constexpr std::string_view kOpaqueWhiteout = ".wh..wh..opq";

// kiln's record of a file's content digest (the 32 bytes of its sha256),
// set by COPY on the files it writes into a step's upper dir so the next
// build of the same COPY can hard-link unchanged files (solver/copy.h).
inline constexpr const char* kContentDigestXattr = "trusted.kiln.sha256";

// Xattrs that are the builder's bookkeeping, not the file's: overlayfs's
// (trusted.overlay.*, user.overlay.*) and kiln's own (trusted.kiln.*). They
// are never written to a layer and never applied from one, so a layer
// cannot plant a content digest that COPY would trust.
bool IsBuilderXattr(std::string_view name);

// Returns true for a path (relative to the tree root, no leading '/',
// e.g. "etc/hosts") that must not go into the layer. Excluding a
// directory excludes everything below it.
using ExcludeFn = std::function<bool(std::string_view rel_path)>;

// An ExcludeFn that excludes exactly `paths` (cleaned, relative or
// absolute: "/etc/hosts" and "etc/hosts" are the same).
ExcludeFn ExcludePaths(std::vector<std::string> paths);

struct LayerWriteOptions {
  CompressionOptions compression;
  // Paths to omit; unset omits nothing.
  ExcludeFn exclude;
  // If set, mtimes later than this are clamped to it (SOURCE_DATE_EPOCH).
  std::optional<int64_t> clamp_mtime;
};

// Digests and sizes of a written layer blob.
struct LayerInfo {
  Digest diff_id;      // sha256 of the uncompressed tar
  Digest digest;       // sha256 of the blob as written (compressed)
  int64_t size = 0;    // blob size in bytes
  int64_t uncompressed_size = 0;
  int64_t entries = 0; // tar members written (PAX headers not counted)
  int64_t file_bytes = 0;  // the sizes of all regular files, per path (a snapshot's size)
};

// Writes the tree under `dir` as a layer tar (compressed per `options`) to
// `sink`, and returns its digests. The root itself is not an entry.
// Entries are emitted depth-first, each directory's children sorted by
// name bytes, parents before children; hard links (same dev/ino) after the
// first become link entries; uid/gid are numeric; mtimes are seconds.
// Errors: kIo/kNotFound naming the file (context: "writing a layer from
// <dir>").
// `dir` must not change while it is read.
Result<LayerInfo> WriteLayerFromDir(const std::string& dir, ByteSink& sink,
                                    const LayerWriteOptions& options);

// Like WriteLayerFromDir for an overlayfs upper dir: a 0:0 char device
// becomes ".wh.<name>", a directory with xattr trusted.overlay.opaque=y
// (or user.overlay.opaque=y) becomes the directory followed by
// "<dir>/.wh..wh..opq", and trusted.overlay.* / user.overlay.* xattrs are
// dropped. kUnsupported for redirect_dir/metacopy upper dirs.
Result<LayerInfo> WriteLayerFromUpperDir(const std::string& upper_dir, ByteSink& sink,
                                         const LayerWriteOptions& options);

// Lower level: appends the tree's entries to `writer` (no Finish()).
enum class TreeKind { kPlain, kOverlayUpper };
struct TreeStats {
  int64_t entries = 0;     // tar members written (PAX headers not counted)
  int64_t file_bytes = 0;  // the sizes of all regular files, per path
};
Result<TreeStats> WriteTreeEntries(const std::string& dir, TreeKind kind, TarWriter& writer,
                                 const LayerWriteOptions& options);

enum class WhiteoutMode {
  // Keep whiteouts as overlayfs whiteouts (0:0 char devices, opaque
  // xattr), for a directory used as one overlay lowerdir.
  kOverlay,
  // Delete whited-out paths and clear opaque directories' older contents,
  // for flattening layers into one directory.
  kApply,
};

enum class OwnershipMode {
  kPreserve,  // chown to the tar's uid/gid (needs root)
  kIgnore,    // leave files owned by the current user (rootless)
};

struct ApplyOptions {
  WhiteoutMode whiteout_mode = WhiteoutMode::kOverlay;
  OwnershipMode ownership = OwnershipMode::kPreserve;
  // Names the layer in errors: "layer sha256:…: entry 3 \"a\": …".
  std::string label = "layer";
};

// What ApplyLayer read.
struct ApplyInfo {
  Digest diff_id;  // sha256 of the uncompressed tar stream
  Digest digest;   // sha256 of the raw input (compressed) stream
  int64_t size = 0;               // raw input bytes
  int64_t uncompressed_size = 0;  // tar bytes
  int64_t entries = 0;
};

// Applies the layer read from `source` (gzip, zstd or plain tar, sniffed)
// to `target_dir`, which must exist. Safe against hostile input: every
// write stays inside `target_dir`. Absolute names are taken relative to
// the target ("/../etc/x" is "etc/x"); relative names, hard link targets
// and whiteouts that climb out ("../x") are refused; no symlink in the
// target is ever followed (a parent that is a symlink is refused); hard
// links must point at an existing non-directory inside the target.
// Preserves mode (incl. setuid), owner (per `options`), mtime, xattrs
// (trusted.overlay.* from the tar are dropped) and device numbers.
// Memory does not grow with file sizes. On error the target may hold a
// partial layer. Errors are kInvalid/kUnsupported for bad input (naming
// the entry), kIo/kNotFound for filesystem failures.
Result<ApplyInfo> ApplyLayer(ByteSource& source, const std::string& target_dir,
                             const ApplyOptions& options);

// Applies entries from an already-open reader (plain tar stream).
// Returns the number of entries applied.
Result<int64_t> ApplyTar(TarReader& reader, const std::string& target_dir,
                         const ApplyOptions& options);

}  // namespace kiln::archive
