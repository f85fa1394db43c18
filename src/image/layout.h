#pragma once

// Image archive formats: reading and writing `docker save` tarballs, OCI
// archives (an OCI image layout in a tar) and OCI layout directories. The
// formats are described in docs/formats/image-archives.md.
//
// Blobs are streamed in chunks through BlobSink callbacks and never held
// whole in memory (except manifests and configs, which are size-limited).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "image/oci.h"
#include "image/platform.h"
#include "image/reference.h"

namespace kiln::image {

// Receives a blob's bytes in order, in chunks of at most 1 MiB. Returning an
// error stops the stream and is passed back to the caller unchanged.
using BlobSink = std::function<Result<void>(std::string_view chunk)>;

// ---- Reading ----

// One image found in an archive.
struct LoadedImage {
  // Names it is tagged with, normalized; may be empty (an untagged image).
  std::vector<Reference> names;
  // The manifest as OCI types, its exact bytes and their digest. For a
  // classic `docker save` archive (no OCI layout inside), the manifest is
  // synthesized: OCI media types, layer media types from each layer file's
  // magic bytes (tar, gzip or zstd), digests of the layer files as stored.
  Manifest manifest{};
  std::string manifest_json{};
  Digest manifest_digest{};
  // The config blob's exact bytes (its digest is manifest.config.digest).
  std::string config_json{};
};

// Streams blobs out of an archive being read. Valid only during the
// visitor call it is passed to; not thread-safe.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Streams the blob `digest` (a layer or config of the image being
  // visited) into `sink`, verifying its digest as it goes. On kDigestMismatch
  // the sink has already received the bad bytes and must discard them.
  // Errors: kNotFound (not in the archive), kDigestMismatch, kIo.
  [[nodiscard]] virtual Result<void> ReadBlob(const Digest& digest, const BlobSink& sink) = 0;
};

// Called once per image, in archive order.
using ImageVisitor = std::function<Result<void>(const LoadedImage& image, BlobReader& blobs)>;

struct ReadOptions {
  // When an OCI index entry is itself an index (a multi-platform image),
  // the manifest for this platform is chosen (SelectManifest).
  Platform platform = HostPlatform();
};

// Reads the image archive or OCI layout directory at `path` and calls
// `visit` for each image in it. Detects the format: a directory is an OCI
// layout; a tar (optionally gzip/zstd compressed) with oci-layout and
// index.json is read as OCI (this covers `docker save` from docker >= 25);
// else manifest.json is read as a classic `docker save` archive.
// Every blob's digest is verified. Errors name the archive and the entry:
//   kInvalid  "img.tar: not an image archive: no manifest.json or index.json"
//   kInvalid  "img.tar: manifest.json: Layers[0]: invalid path \"../../x\": outside the archive"
//   kNotFound "img.tar: manifest.json: Layers[1]: \"abc/layer.tar\" not found in the archive"
//   kDigestMismatch "img.tar: blobs/sha256/<hex>: digest mismatch: content is sha256:<hex>"
// and errors from `visit` are returned unchanged.
[[nodiscard]] Result<void> ReadImageArchive(const std::string& path, const ImageVisitor& visit,
                                            const ReadOptions& options = {});

// ---- Writing ----

// Streams the blob `digest` into `sink`; the writer checks the size and
// digest of what it receives.
using BlobSource = std::function<Result<void>(const Digest& digest, const BlobSink& sink)>;

// One image to save.
struct ImageToSave {
  // Names to record (index annotations / RepoTags); may be empty.
  std::vector<Reference> names{};
  // The manifest's exact bytes (OCI or Docker media types).
  std::string manifest_json{};
  // The config's exact bytes.
  std::string config_json{};
};

enum class ArchiveFormat {
  // OCI layout in a tar; index.json annotated with
  // org.opencontainers.image.ref.name (the tag) and io.containerd.image.name
  // (the full name), one entry per name, as buildkit/containerd do.
  kOciArchive,
  // docker-archive as docker >= 25 writes it: manifest.json (Config,
  // RepoTags, Layers pointing into blobs/sha256/) and repositories, plus a
  // valid OCI layout in the same tar. Manifests are converted to Docker
  // media types (ConvertManifest), which changes their digests.
  kDockerArchive,
  // An OCI layout directory (created if missing; existing blobs are kept).
  kOciDirectory,
};

// Writes `images` to `path` in `format`, streaming layers from `blobs`.
// Archives are written to a temp file and renamed into place, so a failed
// save leaves no partial file. Errors: kInvalid for a manifest that does not
// decode, kDigestMismatch when `blobs` delivers content that does not match
// a descriptor's digest or size, kIo, and errors from `blobs` unchanged.
[[nodiscard]] Result<void> WriteImageArchive(const std::string& path, ArchiveFormat format,
                                             const std::vector<ImageToSave>& images, const BlobSource& blobs);

}  // namespace kiln::image
