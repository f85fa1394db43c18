#include "worker/image_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <span>

#include "archive/layer.h"
#include "base/strings.h"
#include "image/codec.h"

namespace kiln::worker {

Digest ChainId(const std::optional<Digest>& parent, const Digest& diff_id) {
  if (!parent || parent->empty()) return diff_id;
  return Digest::Of(parent->str() + " " + diff_id.str());
}

namespace {

// Reads a stored blob as an archive byte source, verifying it as it goes.
class BlobByteSource : public archive::ByteSource {
 public:
  explicit BlobByteSource(store::BlobReader reader) : reader_(std::move(reader)) {}
  Result<size_t> Read(std::span<char> buf) override { return reader_.Read(buf.data(), buf.size()); }

 private:
  store::BlobReader reader_;
};

class StoreBlobWriter : public registry::BlobWriter {
 public:
  explicit StoreBlobWriter(store::BlobWriter w) : w_(std::move(w)) {}
  Result<void> Write(std::string_view data) override {
    written_ += data.size();
    return w_.Write(data);
  }
  uint64_t written() const override { return written_; }
  Result<void> Commit(const Digest& expected, uint64_t expected_size) override {
    KILN_TRY(w_.Commit(expected, static_cast<int64_t>(expected_size)));
    return Ok();
  }

 private:
  store::BlobWriter w_;
  uint64_t written_ = 0;
};

class StoreBlobTarget : public registry::BlobTarget {
 public:
  explicit StoreBlobTarget(store::Store& s) : store_(s) {}
  bool Has(const Digest& d) override { return store_.HasBlob(d); }
  Result<std::unique_ptr<registry::BlobWriter>> Begin(const Digest&, uint64_t) override {
    KILN_TRY_ASSIGN(store::BlobWriter w, store_.blobs().Create());
    return std::unique_ptr<registry::BlobWriter>(std::make_unique<StoreBlobWriter>(std::move(w)));
  }

 private:
  store::Store& store_;
};

class StoreBlobReader : public registry::BlobReader {
 public:
  explicit StoreBlobReader(store::BlobReader r) : r_(std::move(r)) {}
  Result<std::string> Read(size_t max) override {
    std::string buf(max, '\0');
    KILN_TRY_ASSIGN(size_t n, r_.Read(buf.data(), max));
    buf.resize(n);
    return buf;
  }
  uint64_t size() const override { return static_cast<uint64_t>(r_.size()); }

 private:
  store::BlobReader r_;
};

class StoreBlobSource : public registry::BlobSource {
 public:
  explicit StoreBlobSource(store::Store& s) : store_(s) {}
  Result<std::unique_ptr<registry::BlobReader>> Open(const Digest& d) override {
    KILN_TRY_ASSIGN(store::BlobReader r, store_.OpenBlob(d));
    return std::unique_ptr<registry::BlobReader>(std::make_unique<StoreBlobReader>(std::move(r)));
  }

 private:
  store::Store& store_;
};

}  // namespace

std::unique_ptr<registry::BlobTarget> ImageStore::NewBlobTarget() { return std::make_unique<StoreBlobTarget>(store_); }
std::unique_ptr<registry::BlobSource> ImageStore::NewBlobSource() { return std::make_unique<StoreBlobSource>(store_); }

Result<StoredImage> ImageStore::Get(const Digest& manifest) {
  StoredImage out;
  KILN_TRY_ASSIGN(out.record, store_.GetImage(manifest));
  KILN_TRY_ASSIGN(out.manifest_json, store_.blobs().Read(manifest));
  KILN_TRY_ASSIGN(out.manifest, image::DecodeManifest(out.manifest_json));
  KILN_TRY_ASSIGN(out.config_json, store_.blobs().Read(out.manifest.config.digest));
  KILN_TRY_ASSIGN(out.config, image::DecodeImageConfig(out.config_json));
  return out;
}

Result<StoredImage> ImageStore::Find(std::string_view name_or_id) {
  // A name is normalized first ("busybox" -> docker.io/library/busybox:latest);
  // what does not parse as a name may still be an ID prefix.
  auto ref = image::Reference::Parse(name_or_id);
  if (ref) {
    auto rec = store_.ResolveImage(ref->String());
    if (rec) return Get(rec->manifest);
  }
  auto rec = store_.ResolveImage(name_or_id);
  if (!rec) {
    if (rec.error().code() == ErrorCode::kNotFound)
      return Fail(Error::NotFound(fmt::format("no such image: {}", Quote(name_or_id))));
    return Fail(std::move(rec).error());
  }
  return Get(rec->manifest);
}

Result<std::string> ImageStore::EnsureSnapshot(const Digest& blob, const Digest& diff_id, const Digest& chain_id,
                                               const std::optional<Digest>& parent) {
  if (auto s = store_.GetSnapshot(chain_id)) return s->path;
  KILN_TRY_ASSIGN(store::FileLock lock, store_.LockKey("snapshot/" + chain_id.hex()));
  if (auto s = store_.GetSnapshot(chain_id)) return s->path;
  KILN_TRY_ASSIGN(store::SnapshotStaging staging, store_.PrepareSnapshot(chain_id, parent));
  auto fill = [&]() -> Result<void> {
    KILN_TRY_ASSIGN(store::BlobReader reader, store_.OpenBlob(blob));
    BlobByteSource source(std::move(reader));
    archive::ApplyOptions opt;
    opt.whiteout_mode = archive::WhiteoutMode::kOverlay;
    opt.label = "layer " + blob.str();
    KILN_TRY_ASSIGN(archive::ApplyInfo info, archive::ApplyLayer(source, staging.path, opt));
    if (info.diff_id != diff_id)
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("layer {}: uncompressed digest {} does not match the config's diff id {}",
                                    blob.str(), info.diff_id.str(), diff_id.str())));
    return Ok();
  };
  if (auto r = fill(); !r) {
    (void)store_.AbortSnapshot(staging);
    return Fail(std::move(r).error());
  }
  KILN_TRY_ASSIGN(store::SnapshotInfo info, store_.CommitSnapshot(staging));
  return info.path;
}

Result<solver::ImageState> ImageStore::Materialize(const StoredImage& img) {
  solver::ImageState state;
  state.config = img.config;
  state.source = img.record.manifest;
  const auto& diff_ids = img.config.rootfs.diff_ids;
  if (diff_ids.size() != img.manifest.layers.size())
    return Fail(Error::Invalid(fmt::format("image {}: the config lists {} layers but the manifest {}",
                                           img.record.manifest.str(), diff_ids.size(), img.manifest.layers.size())));
  std::optional<Digest> parent;
  for (size_t i = 0; i < diff_ids.size(); ++i) {
    const auto& desc = img.manifest.layers[i];
    solver::LayerRef layer;
    layer.diff_id = diff_ids[i];
    layer.chain_id = ChainId(parent, diff_ids[i]);
    layer.blob = desc.digest;
    layer.media_type = desc.media_type;
    layer.blob_size = desc.size;
    KILN_TRY_ASSIGN(layer.snapshot, EnsureSnapshot(desc.digest, diff_ids[i], layer.chain_id, parent));
    parent = layer.chain_id;
    state.layers.push_back(std::move(layer));
  }
  return state;
}

Result<StoredImage> ImageStore::Commit(const solver::ImageState& state, const std::vector<std::string>& tags) {
  image::ImageConfig config = state.config;
  config.rootfs.type = "layers";
  config.rootfs.diff_ids.clear();
  image::Manifest manifest;
  manifest.schema_version = 2;
  manifest.media_type = std::string(image::kOciManifest);
  for (const auto& l : state.layers) {
    config.rootfs.diff_ids.push_back(l.diff_id);
    image::Descriptor d;
    d.media_type = l.media_type.empty() ? std::string(image::kOciLayerGzip) : l.media_type;
    d.digest = l.blob;
    d.size = l.blob_size;
    manifest.layers.push_back(d);
  }
  std::string config_json = image::EncodeImageConfig(config);
  KILN_TRY_ASSIGN(Digest config_digest, store_.blobs().Put(config_json));
  manifest.config.media_type = std::string(image::kOciConfig);
  manifest.config.digest = config_digest;
  manifest.config.size = static_cast<int64_t>(config_json.size());
  std::string manifest_json = image::EncodeManifest(manifest);
  KILN_TRY_ASSIGN(Digest manifest_digest, store_.blobs().Put(manifest_json));
  (void)manifest_digest;
  return Register(manifest_json, tags);
}

Result<StoredImage> ImageStore::Register(const std::string& manifest_json, const std::vector<std::string>& tags) {
  KILN_TRY_ASSIGN(image::Manifest manifest, image::DecodeManifest(manifest_json));
  Digest manifest_digest = Digest::Of(manifest_json);
  if (!store_.blobs().Has(manifest_digest)) KILN_TRY(store_.blobs().Put(manifest_json));
  KILN_TRY_ASSIGN(std::string config_json, store_.blobs().Read(manifest.config.digest));
  KILN_TRY_ASSIGN(image::ImageConfig config, image::DecodeImageConfig(config_json));
  std::vector<store::Ref> refs = {{store::RefKind::kBlob, manifest.config.digest}};
  int64_t size = 0;
  const auto& diff_ids = config.rootfs.diff_ids;
  if (diff_ids.size() != manifest.layers.size())
    return Fail(Error::Invalid(fmt::format("image {}: the config lists {} layers but the manifest {}",
                                           manifest_digest.str(), diff_ids.size(), manifest.layers.size())));
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    const auto& l = manifest.layers[i];
    refs.push_back({store::RefKind::kBlob, l.digest});
    size += l.size;
    store::LayerRecord rec{l.digest, diff_ids[i], l.media_type, l.size};
    KILN_TRY(store_.PutLayer(rec));
  }
  store::ImageRecord record;
  record.manifest = manifest_digest;
  record.config = manifest.config.digest;
  record.media_type = manifest.media_type.empty() ? std::string(image::kOciManifest) : manifest.media_type;
  record.size = size;
  record.created = 0;
  if (!config.created.empty()) {
    std::tm tm{};
    if (strptime(config.created.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) record.created = timegm(&tm);
  }
  KILN_TRY(store_.PutImage(record, refs));
  for (const auto& t : tags) KILN_TRY(store_.SetTag(t, manifest_digest));
  return Get(manifest_digest);
}

}  // namespace kiln::worker
