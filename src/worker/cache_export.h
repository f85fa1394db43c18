#pragma once

// Build cache export and import (--cache-to / --cache-from): the cache
// records of a build's steps, with the layer blobs they reference, as one
// OCI artifact that another store (another machine, a fresh --root) imports
// so that its builds reuse every exported step without running it.
//
// The artifact is an OCI image manifest whose config blob (media type
// kCacheConfigMediaType) lists the records and whose layers are the layer
// blobs they reference. type=local keeps it in an OCI layout directory,
// type=registry pushes it to a tag, type=inline puts the records in an
// annotation of the built image's manifest. Format:
// docs/formats/cache-export.md.
//
// Secrets: a record is a cache key (a hash that never contains a secret's
// value, docs/formats/cache-key.md) and a fixed set of layer fields; nothing
// else from the local cache entry is exported.
//
// Thread-safety: functions are safe to call concurrently on one ImageStore
// (the store serialises metadata, snapshots are unpacked under a key lock).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostics.h"
#include "base/digest.h"
#include "base/error.h"
#include "registry/client.h"
#include "worker/image_store.h"

namespace kiln::worker {

inline constexpr std::string_view kCacheConfigMediaType = "application/vnd.kiln.cache.config.v1+json";
// The manifest annotation that holds an inline cache (the config JSON).
inline constexpr std::string_view kInlineCacheAnnotation = "dev.kiln.cache.v1";

enum class CacheMode {
  kMin,  // the steps whose results are in the final image (and empty results)
  kMax,  // every step the build used, in every stage
};
enum class CacheKind { kRegistry, kLocal, kInline };
enum class CacheDirection { kExport, kImport };

// One parsed --cache-to / --cache-from value.
struct CacheSpec {
  CacheKind kind = CacheKind::kRegistry;
  std::string ref;  // kRegistry: the image reference, as given
  std::string dir;  // kLocal: dest= (export) or src= (import)
  CacheMode mode = CacheMode::kMin;
  friend bool operator==(const CacheSpec&, const CacheSpec&) = default;
};

// Parses `type=registry,ref=REF[,mode=min|max]`, `type=local,dest=DIR`
// (export) or `type=local,src=DIR` (import), `type=inline` (export only),
// or a bare `REF` (type=registry). Unknown attributes BuildKit defines
// (compression, oci-mediatype, ignore-error, ...) are accepted and ignored.
// kUsage naming the value, e.g.
//   invalid --cache-to "type=local": type=local needs dest=DIR
[[nodiscard]] Result<CacheSpec> ParseCacheSpec(std::string_view text, CacheDirection direction);

// One exported step: its cache key and its result.
struct CacheRecord {
  std::string key;
  int64_t size = 0;  // uncompressed bytes, for history
  bool empty = false;  // the step changed nothing: no layer
  // The layer (unset when `empty`).
  Digest diff_id;
  Digest chain_id;
  std::optional<Digest> parent;  // chain id of the layer below; unset at the bottom
  Digest blob;
  std::string media_type;
  int64_t blob_size = 0;
  friend bool operator==(const CacheRecord&, const CacheRecord&) = default;
};

// The cache keys of a build's steps, which decide what each mode exports.
struct BuildCacheKeys {
  // Every key the worker stored or hit, in every stage, in order
  // (LocalWorker::used_cache_keys()). Only these are ever exported, so steps
  // that did not use the cache (--no-cache) are not.
  std::vector<std::string> used;
  // The keys of the steps whose results make up the final image, in build
  // order: the target stage's filesystem steps, empty results included, and
  // those of the stages it is built FROM; not the steps of stages it only
  // copies from. std::nullopt when the caller cannot tell (see
  // CollectCacheRecords).
  std::optional<std::vector<std::string>> final_image = std::nullopt;
};

// The records to export from the store's cache, in order, without
// duplicates; keys whose entry, snapshot or blob is gone are skipped.
// kMax: every key in `keys.used`. kMin (BuildKit's mode=min): the keys in
// both `keys.final_image` and `keys.used`, each of whose layer is one of
// `image`'s (or empty). Without `final_image`, kMin approximates it by the
// used keys whose layer is one of `image`'s layers plus every empty result,
// which also exports another stage's empty steps.
[[nodiscard]] Result<std::vector<CacheRecord>> CollectCacheRecords(ImageStore& images, const BuildCacheKeys& keys,
                                                                   CacheMode mode, const StoredImage& image);

// The config blob's JSON, and back. Decode checks every field: kInvalid
// naming the record, e.g. `cache config: records[2]: chain_id sha256:...
// is not the chain of parent and diff_id`.
std::string EncodeCacheConfig(const std::vector<CacheRecord>& records);
[[nodiscard]] Result<std::vector<CacheRecord>> DecodeCacheConfig(std::string_view json);

// The artifact manifest for `records` whose config blob is `config_json`
// (layers: each referenced blob once, in record order).
std::string EncodeCacheManifest(const std::vector<CacheRecord>& records, std::string_view config_json);

// Writes the artifact into the OCI layout directory `dir` (created if
// missing; existing blobs are kept, index.json is replaced atomically).
// kIo naming the path.
[[nodiscard]] Result<void> ExportCacheToDir(ImageStore& images, const std::vector<CacheRecord>& records,
                                            const std::string& dir);
// Pushes the artifact to `ref` (a tag). Returns the manifest digest.
[[nodiscard]] Result<Digest> ExportCacheToRegistry(ImageStore& images, registry::Client& client,
                                                   const std::vector<CacheRecord>& records,
                                                   const image::Reference& ref);
// Re-registers `image` with its manifest annotated with `records` (which
// must only reference `image`'s layers: kInvalid otherwise) and points
// `tags` at it. The config, and so the image ID, is unchanged.
[[nodiscard]] Result<StoredImage> AddInlineCache(ImageStore& images, const StoredImage& image,
                                                 const std::vector<CacheRecord>& records,
                                                 const std::vector<std::string>& tags);

struct CacheImportReport {
  int imported = 0;  // records added to the store's cache
  int present = 0;   // records whose key the store already had
};

// Adds `records` to the store's cache. Every referenced blob must be in the
// store (kNotFound naming the record otherwise); each layer is unpacked as
// a snapshot (EnsureSnapshot, which verifies the diff id) before its entry
// is written, so LocalWorker::CacheGet finds it.
[[nodiscard]] Result<CacheImportReport> ImportCacheRecords(ImageStore& images,
                                                           const std::vector<CacheRecord>& records);
// Reads the artifact from the OCI layout directory `dir` (index.json's
// first manifest with a kiln cache config), copying its blobs into the
// store with verification, and imports its records.
[[nodiscard]] Result<CacheImportReport> ImportCacheFromDir(ImageStore& images, const std::string& dir);
// Pulls `ref`: a cache artifact, or an image with an inline cache
// annotation (kInvalid `REF has no kiln build cache` for neither).
[[nodiscard]] Result<CacheImportReport> ImportCacheFromRegistry(ImageStore& images, registry::Client& client,
                                                                const image::Reference& ref);

// --- What `kiln build` calls ---

// Imports every --cache-from value before the build. A source that cannot
// be read (missing, unreachable) is a warning "CacheImportFailed", as in
// BuildKit; a malformed value is kUsage. `client` may be null (registry
// sources then warn).
[[nodiscard]] Result<void> ImportCaches(ImageStore& images, registry::Client* client,
                                        const std::vector<std::string>& specs, Diagnostics& diags);
// Exports to every --cache-to value after `image` was committed under
// `tags`; `used_keys` and `final_image_keys` are BuildCacheKeys' fields.
// Returns the image, re-registered when a type=inline value added the
// annotation (else `image` itself). Errors are wrapped with the value.
[[nodiscard]] Result<StoredImage> ExportCaches(
    ImageStore& images, registry::Client* client, const std::vector<std::string>& specs, const StoredImage& image,
    const std::vector<std::string>& used_keys, const std::vector<std::string>& tags,
    const std::optional<std::vector<std::string>>& final_image_keys = std::nullopt);

}  // namespace kiln::worker
