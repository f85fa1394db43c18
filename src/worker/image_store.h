#pragma once

// Image-level operations on the content store: reading an image's manifest
// and config, making sure every layer is unpacked as a snapshot, writing a
// built image, pulling from a registry into the store, and the blob
// adapters the registry client needs. Shared by the local worker (FROM,
// COPY --from) and the CLI verbs (pull, push, load, save, images, ...).
//
// Thread-safe: every method may be called from several threads; snapshot
// creation is serialised per layer with a store key lock.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "image/oci.h"
#include "image/reference.h"
#include "registry/blob.h"
#include "solver/worker.h"
#include "store/store.h"

namespace kiln::worker {

// A stored image, fully read.
struct StoredImage {
  store::ImageRecord record;
  image::Manifest manifest;
  std::string manifest_json;
  image::ImageConfig config;
  std::string config_json;
};

// The chain id of a layer on top of `parent` (OCI image spec): the diff id
// itself for the bottom layer, else sha256("<parent> <diff_id>").
Digest ChainId(const std::optional<Digest>& parent, const Digest& diff_id);

class ImageStore {
 public:
  explicit ImageStore(store::Store& store) : store_(store) {}

  store::Store& store() { return store_; }

  // Finds an image by name (normalized like docker) or ID prefix.
  // kNotFound `no such image: "x"`.
  Result<StoredImage> Find(std::string_view name_or_id);
  Result<StoredImage> Get(const Digest& manifest);

  // The image as the solver sees it, with every layer's snapshot unpacked.
  Result<solver::ImageState> Materialize(const StoredImage& image);

  // Unpacks layer `blob` (with `diff_id`) on top of `parent` unless its
  // snapshot exists; returns the snapshot path.
  Result<std::string> EnsureSnapshot(const Digest& blob, const Digest& diff_id, const Digest& chain_id,
                                     const std::optional<Digest>& parent);

  // Writes `state` as an OCI image (config + manifest blobs, image record)
  // and points each of `tags` (normalized names) at it. Returns it.
  Result<StoredImage> Commit(const solver::ImageState& state, const std::vector<std::string>& tags);

  // Records a manifest already in the blob store (pulled or loaded) as an
  // image, with its layers, and tags it.
  Result<StoredImage> Register(const std::string& manifest_json, const std::vector<std::string>& tags);

  // Adapters for the registry client.
  std::unique_ptr<registry::BlobTarget> NewBlobTarget();
  std::unique_ptr<registry::BlobSource> NewBlobSource();

 private:
  store::Store& store_;
};

}  // namespace kiln::worker
