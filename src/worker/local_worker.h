#pragma once

// The local worker: solver::Worker over the content store (snapshots as
// overlay lowerdirs, layers as blobs), runc through exec::Executor, and a
// registry client for images the store lacks.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "exec/executor.h"
#include "registry/client.h"
#include "solver/copy.h"
#include "solver/worker.h"
#include "worker/image_store.h"

namespace kiln::worker {

struct LocalWorkerOptions {
  // Where per-build scratch directories go (secret tmpfs mounts, overlay
  // mount points). Should be on a tmpfs such as /run.
  std::string scratch_root = "/run/kiln";
  // Compression of new layer blobs. Built layers stay uncompressed in the
  // store, and their blob files are written from their snapshots on first
  // use (docs/formats/store.md, "Layer blobs from snapshots").
  std::string compression = "none";
};

// Thread-safe. `images`, `executor` and `registry` (which may be null: no
// pulls) must outlive the worker.
class LocalWorker : public solver::Worker {
 public:
  static Result<std::unique_ptr<LocalWorker>> Create(ImageStore& images, exec::Executor& executor,
                                                     registry::Client* registry, LocalWorkerOptions options);
  ~LocalWorker() override;

  Result<solver::ImageState> ResolveImage(const std::string& ref, solver::PullPolicy policy,
                                          solver::ProgressSink& progress, int step) override;
  Result<std::unique_ptr<solver::Rootfs>> Mount(const std::vector<solver::LayerRef>& layers) override;
  Result<int> Run(solver::Rootfs& rootfs, const solver::RunRequest& request) override;
  Result<solver::Commit> CommitRootfs(std::unique_ptr<solver::Rootfs> rootfs, const Digest& parent_chain,
                                      const solver::CommitOptions& options) override;
  Result<std::optional<solver::Commit>> CacheGet(const std::string& key) override;
  Result<void> CachePut(const std::string& key, const solver::Commit& commit) override;
  Result<std::string> CacheMountDir(const std::string& id) override;
  Result<std::unique_ptr<KeyLock>> LockKey(const std::string& key) override;
  const std::string& scratch_dir() const override { return scratch_dir_; }
  solver::FileDigestCache* digest_cache() override { return digest_cache_.get(); }

  // The cache keys this worker stored (CachePut) or hit (CacheGet), in
  // order, for --cache-to. Thread-safe.
  std::vector<std::string> used_cache_keys() const;

 private:
  void RecordUsedKey(const std::string& key);

  LocalWorker(ImageStore& images, exec::Executor& executor, registry::Client* registry, LocalWorkerOptions options);

  ImageStore& images_;
  exec::Executor& executor_;
  registry::Client* registry_;
  LocalWorkerOptions options_;
  std::string scratch_dir_;
  std::string empty_dir_;  // the lowerdir of a scratch-based rootfs
  // The store's hash cache, installed for HashPath while the worker lives.
  std::unique_ptr<solver::FileDigestCache> digest_cache_;
  mutable std::mutex keys_mu_;
  std::vector<std::string> used_keys_;  // GUARDED_BY(keys_mu_)
};

// Pulls `ref` into the store and records it as an image tagged `ref`.
Result<StoredImage> PullImage(ImageStore& images, registry::Client& client, const image::Reference& ref);

}  // namespace kiln::worker
