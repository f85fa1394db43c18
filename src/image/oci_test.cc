#include "image/oci.h"

#include <gtest/gtest.h>

namespace kiln::image {
namespace {

TEST(OciTest, ConvertMediaTypesBothWays) {
  EXPECT_EQ(ConvertMediaType(kOciManifest, MediaTypeFamily::kDocker), kDockerManifest);
  EXPECT_EQ(ConvertMediaType(kOciIndex, MediaTypeFamily::kDocker), kDockerManifestList);
  EXPECT_EQ(ConvertMediaType(kOciConfig, MediaTypeFamily::kDocker), kDockerConfig);
  EXPECT_EQ(ConvertMediaType(kOciLayerGzip, MediaTypeFamily::kDocker), kDockerLayerGzip);
  EXPECT_EQ(ConvertMediaType(kOciLayer, MediaTypeFamily::kDocker), kDockerLayer);
  EXPECT_EQ(ConvertMediaType(kOciLayerNondistributableGzip, MediaTypeFamily::kDocker), kDockerLayerForeignGzip);
  EXPECT_EQ(ConvertMediaType(kDockerManifest, MediaTypeFamily::kOci), kOciManifest);
  EXPECT_EQ(ConvertMediaType(kDockerManifestList, MediaTypeFamily::kOci), kOciIndex);
  EXPECT_EQ(ConvertMediaType(kDockerConfig, MediaTypeFamily::kOci), kOciConfig);
  EXPECT_EQ(ConvertMediaType(kDockerLayerGzip, MediaTypeFamily::kOci), kOciLayerGzip);
  // No Docker equivalent: unchanged.
  EXPECT_EQ(ConvertMediaType(kOciLayerZstd, MediaTypeFamily::kDocker), kOciLayerZstd);
  EXPECT_EQ(ConvertMediaType("application/x-other", MediaTypeFamily::kOci), "application/x-other");
  // Already in the family: unchanged.
  EXPECT_EQ(ConvertMediaType(kOciConfig, MediaTypeFamily::kOci), kOciConfig);
  EXPECT_EQ(ConvertMediaType(kDockerConfig, MediaTypeFamily::kDocker), kDockerConfig);
}

TEST(OciTest, MediaTypePredicates) {
  EXPECT_TRUE(IsManifestMediaType(kDockerManifest));
  EXPECT_FALSE(IsManifestMediaType(kOciIndex));
  EXPECT_TRUE(IsIndexMediaType(kDockerManifestList));
  EXPECT_TRUE(IsConfigMediaType(kOciConfig));
  EXPECT_TRUE(IsLayerMediaType(kDockerLayerForeignGzip));
  EXPECT_FALSE(IsLayerMediaType(kOciConfig));
  EXPECT_EQ(LayerCompression(kOciLayer), Compression::kNone);
  EXPECT_EQ(LayerCompression(kOciLayerGzip), Compression::kGzip);
  EXPECT_EQ(LayerCompression(kDockerLayerGzip), Compression::kGzip);
  EXPECT_EQ(LayerCompression(kOciLayerZstd), Compression::kZstd);
}

TEST(OciTest, ConvertManifestKeepsBlobs) {
  Manifest m;
  m.media_type = std::string(kOciManifest);
  m.config = {.media_type = std::string(kOciConfig), .digest = Digest::Of("c"), .size = 1};
  m.layers = {{.media_type = std::string(kOciLayerGzip), .digest = Digest::Of("l"), .size = 2}};
  Manifest d = ConvertManifest(m, MediaTypeFamily::kDocker);
  EXPECT_EQ(d.media_type, kDockerManifest);
  EXPECT_EQ(d.config.media_type, kDockerConfig);
  EXPECT_EQ(d.config.digest, m.config.digest);
  EXPECT_EQ(d.layers[0].media_type, kDockerLayerGzip);
  EXPECT_EQ(d.layers[0].digest, m.layers[0].digest);
  EXPECT_EQ(ConvertManifest(d, MediaTypeFamily::kOci), m);

  Index index;
  index.manifests = {{.media_type = std::string(kDockerManifest), .digest = Digest::Of("m"), .size = 3}};
  Index oci = ConvertIndex(index, MediaTypeFamily::kOci);
  EXPECT_EQ(oci.media_type, kOciIndex);
  EXPECT_EQ(oci.manifests[0].media_type, kOciManifest);
}

TEST(OciTest, BuildManifest) {
  Descriptor layer{.media_type = std::string(kOciLayerGzip), .digest = Digest::Of("l"), .size = 1};
  Manifest oci = BuildManifest("{}", {layer});
  EXPECT_EQ(oci.media_type, kOciManifest);
  EXPECT_EQ(oci.config.media_type, kOciConfig);
  EXPECT_EQ(oci.config.digest, Digest::Of("{}"));
  EXPECT_EQ(oci.config.size, 2);
  EXPECT_EQ(oci.layers, std::vector<Descriptor>{layer});
  Manifest docker = BuildManifest("{}", {layer}, MediaTypeFamily::kDocker);
  EXPECT_EQ(docker.media_type, kDockerManifest);
  EXPECT_EQ(docker.config.media_type, kDockerConfig);
  EXPECT_EQ(docker.layers[0].media_type, kDockerLayerGzip);
}

}  // namespace
}  // namespace kiln::image
