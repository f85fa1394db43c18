#pragma once

// Options and reports for Store::Prune, Store::DiskUsage and Store::Check
// (`kiln prune`, `kiln system df`). Semantics in docs/formats/store.md.

#include <cstdint>
#include <string>
#include <vector>

#include "base/digest.h"

namespace kiln::store {

enum class PruneImages {
  kNone,      // keep every image record
  kDangling,  // remove images with no tag (docker image prune)
  kAll,       // remove every image and tag (docker system prune -a; kiln has no containers)
};

// Defaults match `docker system prune`: dangling images and all build cache,
// but not cache mounts (those need `kiln prune --all`, like
// `docker builder prune --all`).
struct PruneOptions {
  PruneImages images = PruneImages::kDangling;
  // Remove build cache entries...
  bool build_cache = true;
  // ...but only those last used at least this many seconds ago (0: all),
  // like `--filter until=`.
  int64_t cache_unused_for = 0;
  // Also delete every RUN --mount=type=cache directory.
  bool cache_mounts = false;
};

// What Prune removed. Lists are sorted.
struct PruneReport {
  std::vector<Digest> images;  // manifest digests of removed image records
  std::vector<std::string> tags;
  std::vector<std::string> cache_entries;  // cache keys
  std::vector<Digest> snapshots;           // chain ids
  std::vector<Digest> blobs;
  std::vector<std::string> cache_mounts;  // ids
  int64_t reclaimed = 0;  // bytes of blobs, snapshots and cache mounts deleted
};

struct UsageRow {
  int64_t count = 0;
  int64_t size = 0;         // bytes, each object counted once per row
  int64_t reclaimable = 0;  // bytes a default Prune() would free
};

// `kiln system df`.
struct DiskUsage {
  UsageRow images;        // image records; size = their unique blobs
  UsageRow snapshots;     // ready snapshots; size = their files
  UsageRow build_cache;   // cache entries; size = blobs + snapshots they hold
  UsageRow cache_mounts;  // cache-mounts/ dirs (reclaimable only with --all)
};

enum class CheckMode { kReport, kRepair };

// Problems found by Store::Check, one readable line each (e.g.
// "blob sha256:...: blob digest mismatch: expected ..., got ...").
struct CheckReport {
  std::vector<std::string> problems;
};

}  // namespace kiln::store
