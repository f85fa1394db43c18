// Fuzzes the JSON decoders and the reference parser with arbitrary bytes.
// Decoded values must re-encode and decode to the same value.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "image/codec.h"
#include "image/platform.h"
#include "image/reference.h"

namespace {

template <typename T>
void CheckRoundTrip(const kiln::Result<T>& decoded, std::string (*encode)(const T&),
                    kiln::Result<T> (*decode)(std::string_view)) {
  if (!decoded) return;
  std::string again = encode(*decoded);
  auto redecoded = decode(again);
  if (!redecoded || encode(*redecoded) != again) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kiln::image;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckRoundTrip<Manifest>(DecodeManifest(text), EncodeManifest, DecodeManifest);
  CheckRoundTrip<Index>(DecodeIndex(text), EncodeIndex, DecodeIndex);
  CheckRoundTrip<ImageConfig>(DecodeImageConfig(text), EncodeImageConfig, DecodeImageConfig);
  CheckRoundTrip<Descriptor>(DecodeDescriptor(text), EncodeDescriptor, DecodeDescriptor);
  (void)DetectManifestMediaType(text);
  if (size < 1024) {
    auto ref = Reference::Parse(text);
    if (ref) {
      // Normalized output must parse back to the same reference.
      auto again = Reference::Parse(ref->String());
      if (!again || !(*again == *ref)) abort();
      auto familiar = Reference::Parse(ref->FamiliarString());
      if (!familiar || !(*familiar == *ref)) abort();
    }
    (void)ParsePlatform(text);
  }
  return 0;
}
