#pragma once

// `.env` files and `${VAR}` interpolation, with docker compose's syntax.
// See docs/formats/compose.md.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace kiln::compose {

// Variables in definition order; later duplicates replace earlier values.
using EnvList = std::vector<std::pair<std::string, std::string>>;
using Environment = std::map<std::string, std::string>;

// Returns the value of a variable, or nullopt if it is unset.
using Lookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses `.env` syntax: `KEY=VAL`, `export KEY=VAL`, comments and blank
// lines; single-quoted values are literal, double-quoted values know the
// escapes \n \t \r \" \\ \$ and are interpolated, unquoted values are trimmed,
// lose an inline ` #comment` and are interpolated. Both quote styles may span
// lines. A bare `KEY` takes its value from `lookup` and is skipped if unset.
// Interpolation sees `lookup` first (the process environment wins), then the
// variables defined earlier in the file. `file` names the file in errors
// (kSyntax with file:line).
Result<EnvList> ParseDotEnv(std::string_view file, std::string_view text, const Lookup& lookup);

// Why an interpolation failed; the caller adds the location and key path.
struct InterpolationError {
  std::string message;
};

// Expands `$V`, `${V}`, `${V:-x}`, `${V-x}`, `${V:?e}`, `${V?e}`, `${V:+x}`,
// `${V+x}` (defaults and alternatives are expanded recursively) and `$$`.
// `on_unset` is called with the name of each variable that is unset and has
// no default (it then expands to ""). Errors: an invalid template, or a
// `?` form whose variable is unset (or empty, for `:?`): "required variable
// V is missing a value: e".
tl::expected<std::string, InterpolationError> Interpolate(
    std::string_view text, const Lookup& lookup,
    const std::function<void(const std::string&)>& on_unset = {});

}  // namespace kiln::compose
