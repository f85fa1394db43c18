#pragma once

// What kiln sends to a registry for a stored image: built layers are stored
// uncompressed (docs/formats/store.md "Layer compression"), so every plain
// tar layer is replaced by a gzip blob made at push time. The gzip blob is
// written into the store and recorded with Store::PutLayer under the same
// diff id, which is the uncompressed -> compressed mapping a later push
// reuses. The compression options are fixed, so the same layer always gives
// the same gzip bytes, even after GC removed the blob and it is made again.
//
// Thread-safety: as ImageStore (the store serialises metadata; two callers
// compressing the same layer write the same blob, which the store keeps once).

#include <string_view>

#include "base/digest.h"
#include "base/error.h"
#include "image/oci.h"
#include "registry/client.h"
#include "worker/image_store.h"

namespace kiln::worker {

// The descriptor to push for `layer` (a stored blob whose tar has `diff_id`):
// `layer` itself unless its media type is an uncompressed tar (OCI or
// Docker), else the gzip blob of it, with media type `gzip_media_type` and
// the gzip blob's digest and size. Annotations are kept. Errors: kNotFound
// when the layer blob is missing; kDigestMismatch when its bytes do not hash
// to `diff_id`; kIo from the store.
[[nodiscard]] Result<image::Descriptor> PushableLayer(store::Store& store, const image::Descriptor& layer,
                                                      const Digest& diff_id,
                                                      std::string_view gzip_media_type);

// The push request for `image`: its manifest bytes as stored when no layer
// needs compressing (so pulled images keep their digest), else the manifest
// re-encoded with PushableLayer's descriptors (kDockerLayerGzip in a Docker
// schema2 manifest, kOciLayerGzip otherwise), and an inline cache
// annotation's records pointed at the gzip blobs. The config is unchanged:
// its diff ids are the uncompressed digests. Errors as PushableLayer, and
// kInvalid when the config and manifest disagree on the number of layers or
// the inline cache does not decode.
[[nodiscard]] Result<registry::PushImage> PushRequest(ImageStore& images, const StoredImage& image);

}  // namespace kiln::worker
