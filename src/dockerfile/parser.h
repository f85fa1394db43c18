#pragma once

// Dockerfile text -> ast.h model, following BuildKit's parser and
// instruction rules (parser directives, comments, continuations, heredocs,
// JSON vs shell form, every instruction and flag).

#include <string_view>

#include "base/error.h"
#include "dockerfile/ast.h"

namespace kiln::dockerfile {

// Parses a whole Dockerfile. `file` names it in locations ("Dockerfile").
// Errors are kSyntax with a SourceLoc (file:line:col plus the line text) and,
// for misspelt instructions, flags, mount options, a "did you mean" suffix:
//   Dockerfile:3:1: unknown instruction "RUNN" (did you mean "RUN"?)
// Pure function; thread-safe.
[[nodiscard]] Result<Dockerfile> Parse(std::string_view text, std::string_view file = "Dockerfile");

// Parses one `--mount` value (as written, or already expanded) into a Mount
// with BuildKit's defaults. `loc` is attached to errors. kSyntax on unknown
// keys (with suggestion), bad values or invalid combinations.
[[nodiscard]] Result<Mount> ParseMount(std::string_view spec, const SourceLoc& loc);

// Parses a Go-style duration ("30s", "1m30s", "1.5h", "0") into nanoseconds.
// kInvalid on malformed input.
[[nodiscard]] Result<int64_t> ParseDuration(std::string_view text);

}  // namespace kiln::dockerfile
