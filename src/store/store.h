#pragma once

// The content store under --root (default /var/lib/kiln): blobs, SQLite
// metadata (tags, images, layers, snapshots, build cache, leases), snapshot
// directories, cache-mount and scratch directories, locking and GC.
// On-disk format, schema and crash-safety argument: docs/formats/store.md.
//
// Several kiln processes share one store. Each Store object is a "session":
// it holds a shared lock on <root>/lock for its lifetime (Prune converts it
// to exclusive) and an exclusive lock on its own session lock file, so its
// tmp/ and work/ areas are recognisably alive. Open() cleans what dead
// sessions left behind, so kill -9 at any point needs no manual repair.
//
// Thread-safety: a Store may be used from many threads at once (the solver's
// workers). Metadata calls serialise on an internal mutex; blob and snapshot
// file work runs in parallel. Prune() must not run while other threads of the
// same process are writing through this Store. A Store (like its SQLite
// connection) must not be used in a child after fork(); open a new one there.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "store/blob_store.h"
#include "store/file_ops.h"
#include "store/gc.h"
#include "store/hash_cache.h"
#include "store/lock.h"
#include "store/snapshots.h"
#include "store/thread_annotations.h"

namespace kiln::store {

namespace internal {
class Db;
}

struct StoreOptions {
  // Durability-critical file operations; tests inject faults here. Null means
  // RealFileOps(). Must outlive the Store.
  FileOps* file_ops = nullptr;
  // Unix seconds for created/last-used times. Empty means time(2).
  std::function<int64_t()> clock;
  // How long a metadata write waits for another process's transaction.
  int busy_timeout_ms = 30000;
};

// What a record keeps alive for GC.
enum class RefKind { kBlob, kSnapshot };
struct Ref {
  RefKind kind;
  Digest target;  // a blob digest, or a snapshot's chain id
  friend bool operator==(const Ref&, const Ref&) = default;
};

struct ImageRecord {
  Digest manifest;  // the image's identity in the store
  Digest config;    // docker's "image ID"
  std::string media_type;
  int64_t created = 0;  // unix seconds (from the config, chosen by the caller)
  int64_t size = 0;     // bytes, as the caller wants `kiln images` to show it
  std::vector<std::string> tags;  // filled when reading; ignored by PutImage
  friend bool operator==(const ImageRecord&, const ImageRecord&) = default;
};

// A layer blob and the digest of its uncompressed tar.
struct LayerRecord {
  Digest blob;
  Digest diff_id;
  std::string media_type;
  int64_t size = 0;  // compressed size
  // The chain id of a ready snapshot whose directory, written by
  // archive::WriteLayerFromUpperDir with no compression and no excludes, is
  // exactly the bytes of `blob`. Set for layers kiln builds: their blob file
  // is written from it on first use (Store::OpenBlob), not at commit.
  std::optional<Digest> snapshot = std::nullopt;
  friend bool operator==(const LayerRecord&, const LayerRecord&) = default;
};

// One build-cache result. `result` is opaque JSON defined by the solver.
struct CacheEntry {
  std::string key;
  std::string result;
  int64_t created = 0;
  int64_t last_used = 0;
  friend bool operator==(const CacheEntry&, const CacheEntry&) = default;
};

// kSession leases vanish when the Store that made them closes or dies;
// kPersistent ones stay until RemoveLease.
enum class LeaseLifetime { kSession, kPersistent };

class Store {
 public:
  // Granularity of cache entries' last_used, in seconds.
  static constexpr int64_t kLastUsedResolution = 60;

  // Opens or creates the store at `root`: makes the layout, takes the shared
  // store lock (waiting while a Prune holds it exclusively), opens kiln.db
  // and migrates its schema, and recovers what dead sessions left. Errors:
  // kIo naming the path; kUnsupported when kiln.db is newer than this kiln.
  [[nodiscard]] static Result<std::unique_ptr<Store>> Open(const std::string& root,
                                                           StoreOptions options = {});
  // Closes the session: removes its tmp/ and work/ areas, preparing
  // snapshots and session leases.
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& root() const { return root_; }
  // The blob files. Layer blobs are read through HasBlob/OpenBlob instead,
  // which also see the layers that still live only as snapshots.
  BlobStore& blobs() { return *blobs_; }

  // --- Blobs ----------------------------------------------------------------
  // True when blob `digest` can be read: its file exists, or a layer record
  // for it names a ready snapshot (see LayerRecord::snapshot). A failed
  // metadata read counts as missing.
  bool HasBlob(const Digest& digest);
  // Opens blob `digest` for reading. When only its snapshot exists, first
  // writes the blob file from the snapshot and commits it with the layer's
  // digest and size, once per blob even across processes (a LockKey lock).
  // Errors: kNotFound "blob sha256:... not found"; kDigestMismatch when the
  // snapshot no longer gives the layer's bytes (nothing is stored; the
  // context names the layer and snapshot); kIo naming the path.
  [[nodiscard]] Result<BlobReader> OpenBlob(const Digest& digest);
  // Content digests of build-context files, kept in <root>/hashcache/ and
  // written back when the Store closes. A Prune of the whole build cache
  // clears it.
  HashCache& hash_cache() { return *hash_cache_; }

  // --- Images and tags ------------------------------------------------------
  // Inserts or replaces the record for `image.manifest` and sets the blobs
  // and snapshots it keeps alive to `refs` (the manifest blob itself is
  // always kept). The blobs must already be stored (HasBlob): kNotFound
  // "blob sha256:... not found" otherwise.
  [[nodiscard]] Result<void> PutImage(const ImageRecord& image, const std::vector<Ref>& refs);
  // kNotFound "image sha256:... not found".
  [[nodiscard]] Result<ImageRecord> GetImage(const Digest& manifest);
  // All images, newest first (then by manifest digest), with their tags.
  [[nodiscard]] Result<std::vector<ImageRecord>> ListImages();
  [[nodiscard]] Result<std::vector<Ref>> ImageRefs(const Digest& manifest);
  // Finds an image the way docker does: an exact tag, then a full manifest or
  // config digest ("sha256:..."), then a unique hex prefix of the config
  // digest (the image ID) or manifest digest, with or without "sha256:".
  // Name normalisation ("busybox" -> "docker.io/library/busybox:latest") is
  // the caller's. kNotFound `no such image: "x"`; kInvalid
  // `ambiguous image ID "ab": matches 2 images` when a prefix is not unique.
  [[nodiscard]] Result<ImageRecord> ResolveImage(std::string_view name_or_id);
  // Removes the record, its tags and its refs. Blobs stay until Prune.
  // kNotFound when there is no such image.
  [[nodiscard]] Result<void> RemoveImage(const Digest& manifest);

  // Records that `repository` (a normalized name without tag or digest,
  // "127.0.0.1:5000/app") holds image `manifest` under `digest`: a push that
  // compresses layers on the way makes a manifest of its own. Replaces an
  // earlier record; goes away with the image. kNotFound for no such image.
  [[nodiscard]] Result<void> SetRepoDigest(const Digest& manifest, std::string_view repository,
                                           const Digest& digest);
  // The digest recorded for `manifest` in `repository`, if any.
  [[nodiscard]] Result<std::optional<Digest>> GetRepoDigest(const Digest& manifest, std::string_view repository);

  // Points `name` at an existing image (kNotFound otherwise), replacing any
  // previous target.
  [[nodiscard]] Result<void> SetTag(std::string_view name, const Digest& manifest);
  // kNotFound `tag "x" not found`.
  [[nodiscard]] Result<Digest> ResolveTag(std::string_view name);
  // kNotFound when the tag does not exist. The image record stays (dangling).
  [[nodiscard]] Result<void> RemoveTag(std::string_view name);
  // (name, manifest) pairs sorted by name.
  [[nodiscard]] Result<std::vector<std::pair<std::string, Digest>>> ListTags();

  // --- Layers ---------------------------------------------------------------
  // Inserts or replaces the record for `layer.blob`. With `layer.snapshot`
  // that snapshot must be ready (kNotFound "snapshot sha256:... not found")
  // and the blob file need not exist; without, the blob must be stored
  // (HasBlob, kNotFound otherwise) and the snapshot an existing record
  // names is kept.
  [[nodiscard]] Result<void> PutLayer(const LayerRecord& layer);
  // kNotFound "layer sha256:... not found".
  [[nodiscard]] Result<LayerRecord> GetLayer(const Digest& blob);
  // Every stored compression of the layer whose tar has `diff_id`.
  [[nodiscard]] Result<std::vector<LayerRecord>> FindLayersByDiffId(const Digest& diff_id);

  // --- Snapshots ------------------------------------------------------------
  // Makes an empty staging directory for `chain_id` and records it as
  // `preparing`. kInvalid if a ready snapshot for `chain_id` exists (check
  // GetSnapshot first, under LockKey("snapshot/" + chain hex) so two builds
  // do not unpack the same layer twice).
  [[nodiscard]] Result<SnapshotStaging> PrepareSnapshot(const Digest& chain_id,
                                                        const std::optional<Digest>& parent);
  // Publishes a filled staging dir: syncs the filesystem, renames it to
  // snapshots/<hex> and marks it ready. If another session committed the same
  // chain id first, its snapshot wins and the staging dir is deleted.
  // On failure the staging dir is deleted and nothing is published.
  [[nodiscard]] Result<SnapshotInfo> CommitSnapshot(const SnapshotStaging& staging);
  // Deletes an uncommitted staging dir and its record.
  [[nodiscard]] Result<void> AbortSnapshot(const SnapshotStaging& staging);
  // kNotFound "snapshot sha256:... not found" unless ready.
  [[nodiscard]] Result<SnapshotInfo> GetSnapshot(const Digest& chain_id);
  // Ready snapshots sorted by chain id.
  [[nodiscard]] Result<std::vector<SnapshotInfo>> ListSnapshots();

  // --- Build cache ----------------------------------------------------------
  // Inserts or replaces an entry (created = last_used = now) and what it
  // keeps alive. Blob refs must satisfy HasBlob (kNotFound otherwise).
  [[nodiscard]] Result<void> PutCacheEntry(std::string_view key, std::string_view result,
                                           const std::vector<Ref>& refs);
  // Returns the entry and bumps its last_used when that is at least
  // kLastUsedResolution seconds old. kNotFound when missing.
  [[nodiscard]] Result<CacheEntry> GetCacheEntry(std::string_view key);
  [[nodiscard]] Result<void> RemoveCacheEntry(std::string_view key);

  // --- Leases ---------------------------------------------------------------
  // Adds `refs` to the lease `name` (creating it), so GC keeps them while
  // e.g. a build has written blobs but not yet recorded its image. Refs are
  // not checked: a lease may pin what is about to be stored.
  [[nodiscard]] Result<void> AddLease(std::string_view name, LeaseLifetime lifetime,
                                      const std::vector<Ref>& refs);
  // Removing a missing lease is not an error.
  [[nodiscard]] Result<void> RemoveLease(std::string_view name);

  // --- Directories and locks -------------------------------------------------
  // <root>/cache-mounts/<id>/, created if needed. `id` must be a non-empty
  // [A-Za-z0-9._-] name (not "." or ".."): kInvalid otherwise. Sharing modes
  // (locked/shared/private) are the caller's, using LockKey.
  [[nodiscard]] Result<std::string> CacheMountDir(std::string_view id);
  // A fresh empty scratch directory in this session's work/ area (for
  // overlay upper/work dirs). Removed with the session.
  [[nodiscard]] Result<std::string> CreateWorkDir();
  // Blocks until this caller holds the exclusive inter-process lock named
  // `name` (any string), which it keeps until the FileLock is destroyed.
  [[nodiscard]] Result<FileLock> LockKey(std::string_view name);

  // --- GC -------------------------------------------------------------------
  // Removes what `options` selects, then everything no longer reachable from
  // images, cache entries and leases. Waits for exclusive use of the store
  // (every other Store, in any process, must close).
  [[nodiscard]] Result<PruneReport> Prune(const PruneOptions& options = {});
  [[nodiscard]] Result<DiskUsage> GetDiskUsage();
  // Verifies every blob's hash and every record's files. With kRepair, drops
  // what is broken (corrupt blobs, records of missing snapshots/blobs).
  [[nodiscard]] Result<CheckReport> Check(CheckMode mode);

  // The session id, for tests.
  const std::string& TEST_session() const { return session_; }

 private:
  Store(std::string root, StoreOptions options);
  int64_t Now() const;
  Result<void> Init();
  Result<void> Migrate() KILN_EXCLUDES(db_mu_);
  Result<void> Recover() KILN_EXCLUDES(db_mu_);
  bool SessionAlive(const std::string& session) const;
  std::string SnapshotDir(const Digest& chain_id) const;
  Result<void> CheckBlobsExist(const std::vector<Ref>& refs);
  // The record of layer `blob` if it names a ready snapshot.
  Result<std::optional<LayerRecord>> SnapshotLayer(const Digest& blob) KILN_EXCLUDES(db_mu_);
  // Writes the blob file of `layer` from its snapshot directory.
  Result<void> WriteBlobFromSnapshot(const LayerRecord& layer);

  const std::string root_;
  StoreOptions options_;
  FileOps& file_ops_;
  std::string session_;
  std::string tmp_dir_;   // <root>/tmp/<session>
  std::string work_dir_;  // <root>/work/<session>
  FileLock store_lock_;
  FileLock session_lock_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<HashCache> hash_cache_;
  std::mutex db_mu_;
  std::unique_ptr<internal::Db> db_ KILN_GUARDED_BY(db_mu_);
};

}  // namespace kiln::store
