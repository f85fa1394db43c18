#pragma once

// Snapshot types: an unpacked layer directory under <root>/snapshots/<id>/,
// used read-only as an overlayfs lowerdir. <id> is the hex of the layer's
// chain id. The store only moves directories and records their state;
// filling a staging directory is the caller's job (the archive library).
// See docs/formats/store.md for the state machine and crash argument.

#include <cstdint>
#include <optional>
#include <string>

#include "base/digest.h"

namespace kiln::store {

// A directory being filled for `chain_id`, returned by
// Store::PrepareSnapshot. It lives in the store's private tmp/ area until
// Store::CommitSnapshot moves it into snapshots/. Plain value; if it is never
// committed, Store::AbortSnapshot or the next Open() cleans it up.
struct SnapshotStaging {
  Digest chain_id;
  std::optional<Digest> parent;  // chain id of the layer below, if any
  std::string path;              // absolute directory to populate
  // The sizes of its regular files, when the caller knows them; else
  // CommitSnapshot walks the tree for them.
  std::optional<int64_t> size;
};

// A ready snapshot.
struct SnapshotInfo {
  Digest chain_id;
  std::optional<Digest> parent;
  std::string path;  // <root>/snapshots/<chain hex>
  int64_t size = 0;  // sum of regular file sizes, in bytes
  int64_t created = 0;  // unix seconds
};

}  // namespace kiln::store
