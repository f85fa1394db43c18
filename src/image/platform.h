#pragma once

// Platforms ("linux/amd64", "linux/arm64/v8"): parsing, normalization as
// containerd does it, the host platform, and choosing a manifest from an
// index. See docs/formats/image-platform.md.

#include <string>
#include <string_view>

#include "base/error.h"
#include "image/oci.h"

namespace kiln::image {

// Canonical spelling: os lowercased ("macos" -> "darwin"), architecture
// aliases folded (x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7,
// armel -> arm/v6, i386 -> 386), default variants dropped (amd64/v1 ->
// amd64, arm64/v8 -> arm64) and arm variants spelled "vN" ("7" -> "v7").
// os.version and os.features are kept as they are.
Platform NormalizePlatform(Platform p);

// Parses "os[/arch[/variant]]" and normalizes it. A lone architecture
// ("arm64") means linux. Returns kInvalid for empty parts or more than
// three parts: `invalid platform "linux//v7": empty architecture`.
[[nodiscard]] Result<Platform> ParsePlatform(std::string_view text);

// "os/arch" or "os/arch/variant", as docker prints platforms.
std::string FormatPlatform(const Platform& p);

// The platform of this machine: "linux" and the normalized uname(2)
// machine (linux/amd64 on x86_64 hosts).
Platform HostPlatform();

// How well an image for `have` runs on `want` (both normalized by the
// caller or not; they are normalized here): 0 = not at all; higher is
// better. Equal os/arch/variant scores highest; an older variant of the
// same arch (amd64 v2 on a v3 want, arm v6 on a v7 want) scores less the
// further it is; any variant scores lowest when `want` has none.
int PlatformMatchScore(const Platform& want, const Platform& have);
inline bool PlatformMatches(const Platform& want, const Platform& have) {
  return PlatformMatchScore(want, have) > 0;
}

// Picks the manifest for `want` from `index`: the best-scoring manifest
// (first one on ties), skipping attestation manifests
// (vnd.docker.reference.type=attestation-manifest). Entries without a
// platform match anything, below any explicit match. Returns kNotFound
// "no matching manifest for linux/s390x in the manifest list entries" with
// a hint listing the available platforms.
[[nodiscard]] Result<Descriptor> SelectManifest(const Index& index, const Platform& want);

}  // namespace kiln::image
