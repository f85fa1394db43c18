#pragma once

// Builds small images in memory for registry tests: a one-file layer tar,
// a config and a manifest, stored in a MemoryBlobStore.

#include <string>
#include <vector>

#include "image/oci.h"
#include "registry/blob.h"
#include "registry/client.h"

namespace kiln::registry::testing {

// A POSIX ustar archive holding one regular file `name` with `content`.
std::string TarWithFile(const std::string& name, const std::string& content);

struct TestImage {
  PushImage push;
  Digest manifest_digest;
  Digest config_digest;
  std::vector<Digest> layer_digests;
};

// An image whose layers hold one file each with the given contents, built
// for `platform`, stored (config and layers) in `store`. `media_family`
// picks OCI or Docker media types.
TestImage BuildImage(MemoryBlobStore& store, const std::vector<std::string>& layer_contents,
                     const image::Platform& platform = HostPlatform(),
                     image::MediaTypeFamily family = image::MediaTypeFamily::kOci);

}  // namespace kiln::registry::testing
