#pragma once

// A small docker-style flag parser: `--name value`, `--name=value`, `-n
// value`, `-nVALUE`, boolean flags, repeatable flags, `--` ends flags, and a
// lone `-` is a positional argument. Unknown flags are usage errors with a
// "did you mean" suggestion.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln::cli {

enum class FlagKind { kBool, kValue, kRepeated };

struct FlagSpec {
  std::string name;   // long name without dashes, e.g. "file"
  char short_name;    // 0 if none
  FlagKind kind;
  std::string help;
  std::string value_name = "VALUE";
};

enum class Interspersed { kAllowed, kStopAtFirstArg };

// Parsed flags. Accessors take the long name.
class ParsedFlags {
 public:
  bool Has(const std::string& name) const { return values_.count(name) > 0; }
  bool Bool(const std::string& name) const;
  // The last value given, or `fallback`.
  std::string Value(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> All(const std::string& name) const;
  const std::vector<std::string>& args() const { return args_; }

 private:
  friend Result<ParsedFlags> ParseFlags(const std::vector<FlagSpec>&, const std::vector<std::string>&,
                                        std::string_view, Interspersed);
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> args_;
};

// Parses `argv` (the words after the verb). `command` names the verb in
// errors ("kiln build"). kUsage errors carry a hint pointing at --help.
// With kStopAtFirstArg, everything from the first positional on is
// returned as positional, so a parent command can hand it to a sub-verb.
Result<ParsedFlags> ParseFlags(const std::vector<FlagSpec>& specs, const std::vector<std::string>& argv,
                               std::string_view command,
                               Interspersed mode = Interspersed::kAllowed);

// A `--secret` value with kiln's own `cache=` field taken out: `cache=value`
// makes the secret's value part of the cache key of the steps that mount it
// (as an HMAC, docs/secrets.md "Change-aware cache"); `cache=id`, the
// default, keys them by the secret's id only, as BuildKit does. `spec` is
// the rest, for secrets::ParseSecretFlag. kUsage for another cache= value
// or malformed CSV.
struct SecretFlag {
  std::string spec;
  bool value_keyed = false;
};
Result<SecretFlag> SplitSecretCacheField(std::string_view flag);

// "  -f, --file FILE   Name of the Dockerfile" lines for --help.
std::string FlagHelp(const std::vector<FlagSpec>& specs);

}  // namespace kiln::cli
