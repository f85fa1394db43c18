#include "image/oci.h"

#include <array>
#include <utility>

namespace kiln::image {
namespace {

// OCI type <-> Docker type pairs. kOciLayer maps to the (unofficial but
// widely used) uncompressed Docker layer type.
constexpr std::array<std::pair<std::string_view, std::string_view>, 6> kEquivalents = {{
    {kOciManifest, kDockerManifest},
    {kOciIndex, kDockerManifestList},
    {kOciConfig, kDockerConfig},
    {kOciLayer, kDockerLayer},
    {kOciLayerGzip, kDockerLayerGzip},
    {kOciLayerNondistributableGzip, kDockerLayerForeignGzip},
}};

Descriptor ConvertDescriptor(Descriptor d, MediaTypeFamily family) {
  d.media_type = ConvertMediaType(d.media_type, family);
  return d;
}

}  // namespace

bool IsManifestMediaType(std::string_view t) { return t == kOciManifest || t == kDockerManifest; }
bool IsIndexMediaType(std::string_view t) { return t == kOciIndex || t == kDockerManifestList; }
bool IsConfigMediaType(std::string_view t) { return t == kOciConfig || t == kDockerConfig; }

bool IsLayerMediaType(std::string_view t) {
  return t.starts_with("application/vnd.oci.image.layer.") ||
         t.starts_with("application/vnd.docker.image.rootfs.");
}

Compression LayerCompression(std::string_view t) {
  if (t.ends_with("+gzip") || t.ends_with(".tar.gzip")) return Compression::kGzip;
  if (t.ends_with("+zstd")) return Compression::kZstd;
  return Compression::kNone;
}

std::string ConvertMediaType(std::string_view media_type, MediaTypeFamily family) {
  for (const auto& [oci, docker] : kEquivalents) {
    if (family == MediaTypeFamily::kDocker && media_type == oci) return std::string(docker);
    if (family == MediaTypeFamily::kOci && media_type == docker) return std::string(oci);
  }
  return std::string(media_type);
}

Manifest ConvertManifest(const Manifest& m, MediaTypeFamily family) {
  Manifest out = m;
  out.media_type = std::string(family == MediaTypeFamily::kOci ? kOciManifest : kDockerManifest);
  out.config = ConvertDescriptor(out.config, family);
  for (Descriptor& layer : out.layers) layer = ConvertDescriptor(std::move(layer), family);
  return out;
}

Manifest BuildManifest(std::string_view config_json, std::vector<Descriptor> layers, MediaTypeFamily family) {
  Manifest m;
  m.media_type = std::string(kOciManifest);
  m.config = {.media_type = std::string(kOciConfig),
              .digest = Digest::Of(config_json),
              .size = static_cast<int64_t>(config_json.size())};
  m.layers = std::move(layers);
  return ConvertManifest(m, family);
}

Index ConvertIndex(const Index& index, MediaTypeFamily family) {
  Index out = index;
  out.media_type = std::string(family == MediaTypeFamily::kOci ? kOciIndex : kDockerManifestList);
  for (Descriptor& d : out.manifests) d = ConvertDescriptor(std::move(d), family);
  return out;
}

}  // namespace kiln::image
