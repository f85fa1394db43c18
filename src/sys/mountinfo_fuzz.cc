// libFuzzer target: ParseMountInfo must never crash, and every parsed
// mount point must round-trip through the octal escapes.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sys/mounts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto mounts = kiln::sys::ParseMountInfo(text);
  if (mounts) {
    for (const auto& m : *mounts) {
      // A parsed field never contains the separator it was split on.
      if (m.fstype.find('\n') != std::string::npos && text.find("\\012") == std::string_view::npos)
        __builtin_trap();
    }
  }
  return 0;
}
