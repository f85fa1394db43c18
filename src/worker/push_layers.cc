#include "worker/push_layers.h"

#include <map>
#include <vector>

#include "archive/compression.h"
#include "image/codec.h"
#include "store/blob_sink.h"
#include "worker/cache_export.h"

namespace kiln::worker {

namespace {

bool IsUncompressedTar(std::string_view media_type) {
  return media_type == image::kOciLayer || media_type == image::kDockerLayer;
}

bool IsGzipTar(std::string_view media_type) {
  return media_type == image::kOciLayerGzip || media_type == image::kDockerLayerGzip;
}

// A stored gzip blob of the tar with `diff_id`, when a push (or a pull) left
// one. The lowest digest wins, so the choice does not depend on order.
Result<std::optional<store::LayerRecord>> FindGzip(store::Store& store, const Digest& diff_id) {
  KILN_TRY_ASSIGN(std::vector<store::LayerRecord> layers, store.FindLayersByDiffId(diff_id));
  for (const auto& l : layers)
    if (IsGzipTar(l.media_type) && store.HasBlob(l.blob)) return std::optional<store::LayerRecord>(l);
  return std::optional<store::LayerRecord>();
}

// Compresses blob `blob` into a new store blob with the fixed options that
// make the output deterministic, checking that the tar is `diff_id`.
Result<archive::BlobDigests> Compress(store::Store& store, const Digest& blob, const Digest& diff_id) {
  KILN_TRY_ASSIGN(store::BlobReader reader, store.OpenBlob(blob));
  KILN_TRY_ASSIGN(store::BlobWriter writer, store.blobs().Create());
  store::BlobSink out(writer);
  archive::CompressionOptions options;  // the defaults: gzip, level 1, 1 MiB members
  KILN_TRY_ASSIGN(std::unique_ptr<archive::CompressingSink> gzip,
                  archive::CompressingSink::Create(out, options));
  std::vector<char> buf(1 << 20);
  for (;;) {
    KILN_TRY_ASSIGN(size_t n, reader.Read(buf.data(), buf.size()));
    if (n == 0) break;
    KILN_TRY(gzip->Write(std::string_view(buf.data(), n)));
  }
  KILN_TRY_ASSIGN(archive::BlobDigests digests, gzip->Close());
  if (digests.diff_id != diff_id)
    return Fail(Error(ErrorCode::kDigestMismatch,
                      fmt::format("layer {}: uncompressed digest {} does not match the config's diff id {}",
                                  blob.str(), digests.diff_id.str(), diff_id.str())));
  KILN_TRY(writer.Commit(digests.digest, static_cast<int64_t>(digests.size)));
  return digests;
}

}  // namespace

Result<image::Descriptor> PushableLayer(store::Store& store, const image::Descriptor& layer,
                                        const Digest& diff_id, std::string_view gzip_media_type) {
  if (!IsUncompressedTar(layer.media_type)) return layer;
  image::Descriptor out = layer;
  out.media_type = std::string(gzip_media_type);
  KILN_TRY_ASSIGN(std::optional<store::LayerRecord> found, FindGzip(store, diff_id));
  if (found) {
    out.digest = found->blob;
    out.size = found->size;
    return out;
  }
  auto digests = Compress(store, layer.digest, diff_id);
  if (!digests)
    return Fail(std::move(digests).error().Wrap("compressing layer {} for push", layer.digest.str()));
  out.digest = digests->digest;
  out.size = static_cast<int64_t>(digests->size);
  KILN_TRY(store.PutLayer(store::LayerRecord{out.digest, diff_id, out.media_type, out.size}));
  return out;
}

Result<registry::PushImage> PushRequest(ImageStore& images, const StoredImage& image) {
  registry::PushImage push;
  push.manifest_bytes = image.manifest_json;
  push.media_type =
      image.manifest.media_type.empty() ? std::string(image::kOciManifest) : image.manifest.media_type;
  const auto& diff_ids = image.config.rootfs.diff_ids;
  if (diff_ids.size() != image.manifest.layers.size())
    return Fail(Error::Invalid(fmt::format("image {}: the config lists {} layers but the manifest {}",
                                           image.record.manifest.str(), diff_ids.size(),
                                           image.manifest.layers.size())));
  std::string_view gzip_type =
      push.media_type == image::kDockerManifest ? image::kDockerLayerGzip : image::kOciLayerGzip;
  image::Manifest manifest = image.manifest;
  std::map<Digest, image::Descriptor> replaced;  // stored blob -> what is pushed instead
  for (size_t i = 0; i < manifest.layers.size(); ++i) {
    KILN_TRY_ASSIGN(image::Descriptor d,
                    PushableLayer(images.store(), manifest.layers[i], diff_ids[i], gzip_type));
    if (d != manifest.layers[i]) replaced[manifest.layers[i].digest] = d;
    manifest.layers[i] = std::move(d);
  }
  if (replaced.empty()) return push;
  // An inline cache names the image's layer blobs: it must name the pushed
  // ones, or an import from the registry finds its layers missing.
  auto inline_cache = manifest.annotations.find(std::string(kInlineCacheAnnotation));
  if (inline_cache != manifest.annotations.end()) {
    KILN_TRY_ASSIGN(std::vector<CacheRecord> records, DecodeCacheConfig(inline_cache->second));
    for (auto& r : records) {
      auto it = r.empty ? replaced.end() : replaced.find(r.blob);
      if (it == replaced.end()) continue;
      r.blob = it->second.digest;
      r.media_type = it->second.media_type;
      r.blob_size = it->second.size;
    }
    inline_cache->second = EncodeCacheConfig(records);
  }
  push.manifest_bytes = image::EncodeManifest(manifest);
  return push;
}

}  // namespace kiln::worker
