// Fuzzes the cache config an imported cache carries (a registry or a
// directory anyone may have written): decoding must never crash, and what
// decodes must encode and decode to the same records.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "worker/cache_export.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto records = kiln::worker::DecodeCacheConfig(text);
  if (!records) return 0;
  auto again = kiln::worker::DecodeCacheConfig(kiln::worker::EncodeCacheConfig(*records));
  if (!again || *again != *records) __builtin_trap();
  (void)kiln::worker::EncodeCacheManifest(*records, text);
  return 0;
}
