#include "registry/testing/image_builder.h"

#include <cstring>

#include "image/codec.h"

namespace kiln::registry::testing {

std::string TarWithFile(const std::string& name, const std::string& content) {
  char h[512] = {0};
  std::snprintf(h, 100, "%s", name.c_str());
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011o", static_cast<unsigned>(content.size()));
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  std::memcpy(h + 263, "00", 2);
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h + 148, 8, "%06o", sum);
  std::string out(h, 512);
  out += content;
  out.append((512 - content.size() % 512) % 512, '\0');
  out.append(1024, '\0');
  return out;
}

TestImage BuildImage(MemoryBlobStore& store, const std::vector<std::string>& layer_contents,
                     const image::Platform& platform, image::MediaTypeFamily family) {
  bool oci = family == image::MediaTypeFamily::kOci;
  TestImage t;
  image::Manifest m;
  m.media_type = oci ? image::kOciManifest : image::kDockerManifest;
  image::ImageConfig config;
  config.architecture = platform.architecture;
  config.os = platform.os;
  config.variant = platform.variant;
  config.created = "2024-01-02T03:04:05Z";
  config.config.cmd = {"/bin/sh"};
  for (size_t i = 0; i < layer_contents.size(); ++i) {
    std::string tar = TarWithFile("file" + std::to_string(i), layer_contents[i]);
    image::Descriptor d;
    d.media_type = oci ? image::kOciLayer : image::kDockerLayer;
    d.size = static_cast<int64_t>(tar.size());
    d.digest = store.Put(tar);
    config.rootfs.diff_ids.push_back(d.digest);
    t.layer_digests.push_back(d.digest);
    m.layers.push_back(d);
  }
  std::string config_json = image::EncodeImageConfig(config);
  m.config.media_type = oci ? image::kOciConfig : image::kDockerConfig;
  m.config.size = static_cast<int64_t>(config_json.size());
  m.config.digest = store.Put(config_json);
  t.config_digest = m.config.digest;
  t.push.manifest_bytes = image::EncodeManifest(m);
  t.push.media_type = m.media_type;
  t.manifest_digest = Digest::Of(t.push.manifest_bytes);
  return t;
}

}  // namespace kiln::registry::testing
