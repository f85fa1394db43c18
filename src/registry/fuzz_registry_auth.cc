// Fuzzes the two server-controlled texts the auth layer parses: the
// WWW-Authenticate header and the registry JSON error body.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "registry/challenge.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto challenges = kiln::registry::ParseWwwAuthenticate(text);
  if (challenges) {
    for (const auto& c : *challenges) {
      if (c.scheme.empty()) __builtin_trap();
      (void)c.Param("realm");
    }
  }
  (void)kiln::registry::ParseRegistryErrors(text);
  (void)kiln::registry::HttpStatusError(404, text, "example.com");
  return 0;
}
