#pragma once

// JSON encoding and decoding of the types in image/oci.h.
//
// Encoding is deterministic: object keys sorted, no whitespace, fields that
// are empty omitted as Go's `omitempty` does (see oci.h for the fields that
// are always present), so the digest of an encoded manifest is stable.
//
// Decoding treats its input as untrusted: inputs larger than the limits below
// are rejected, and type or value errors name the field path, e.g.
//   manifest.layers[2].digest: invalid digest "sha256:xyz": want 64 lowercase hex digits
// Unknown fields are ignored. All decoders return kInvalid on error.
// All functions are thread-safe.

#include <cstddef>
#include <string>
#include <string_view>

#include "base/error.h"
#include "image/oci.h"

namespace kiln::image {

// Largest manifest or index accepted (containerd's limit).
inline constexpr size_t kMaxManifestBytes = 4 << 20;
// Largest image config accepted.
inline constexpr size_t kMaxConfigBytes = 8 << 20;

std::string EncodePlatform(const Platform& p);
std::string EncodeDescriptor(const Descriptor& d);
std::string EncodeManifest(const Manifest& m);
std::string EncodeIndex(const Index& index);
std::string EncodeImageConfig(const ImageConfig& config);

[[nodiscard]] Result<Platform> DecodePlatform(std::string_view json);
[[nodiscard]] Result<Descriptor> DecodeDescriptor(std::string_view json);
[[nodiscard]] Result<Manifest> DecodeManifest(std::string_view json);
[[nodiscard]] Result<Index> DecodeIndex(std::string_view json);
[[nodiscard]] Result<ImageConfig> DecodeImageConfig(std::string_view json);

// The media type of a manifest-or-index document: its "mediaType" field if
// set, else kOciIndex when it has "manifests", else kOciManifest when it
// has "layers" or "config". Returns kInvalid for non-JSON or anything else.
[[nodiscard]] Result<std::string> DetectManifestMediaType(std::string_view json);

}  // namespace kiln::image
