#pragma once

// Parsing of the two server-controlled texts the auth layer reads: the
// WWW-Authenticate header (RFC 7235) and the registry's JSON error body
// (distribution spec "errors" array). Both are fuzzed (fuzz_registry_auth).

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln::registry {

// One challenge: `scheme` lowercased ("bearer", "basic"), parameter names
// lowercased, values unquoted.
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;

  // The parameter `name` or "".
  std::string Param(const std::string& name) const;
};

// Parses a WWW-Authenticate value, which may hold several challenges
// ("Basic realm=\"x\", Bearer realm=\"y\",service=\"z\""). Quoted values may
// contain commas and backslash escapes. Returns kInvalid (naming the offset)
// for malformed input and for a header with no challenge.
Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view header);

// One entry of a registry error body:
// {"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":...}]}
struct RegistryErrorEntry {
  std::string code;
  std::string message;
};

// Parses a registry error body. Returns an empty list for bodies that are not
// JSON or have no "errors" array (many proxies answer with HTML); never fails.
std::vector<RegistryErrorEntry> ParseRegistryErrors(std::string_view body);

// Turns a non-2xx response into an Error: the message is the registry's
// error messages joined with "; " (or the HTTP reason when there are none)
// followed by " (<status>)", e.g. "manifest unknown (404)". Codes: 401/403
// -> kAuth with a `kiln login` hint naming `registry`, 404 -> kNotFound,
// 408/429/5xx -> kNetwork, 416 -> kInvalid, others kInvalid.
Error HttpStatusError(int status, std::string_view body, std::string_view registry);

}  // namespace kiln::registry
