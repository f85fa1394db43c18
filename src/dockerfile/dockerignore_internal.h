#pragma once

// The compiled form of one .dockerignore pattern. Private to src/dockerfile/.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace kiln::dockerfile::internal {

struct IgnoreGlob {
  struct Token {
    enum class Type {
      kLiteral,   // one byte
      kAny,       // '?': one byte except '/'
      kStar,      // '*': any run of bytes except '/'
      kAnyDirs,   // "**/" or inner "**": "(.*/)?"
      kAnything,  // trailing "**": ".*"
      kClass,     // "[a-z]", "[^/]"
    };
    Type type = Type::kLiteral;
    char c = 0;
    bool negated = false;
    std::vector<std::pair<char, char>> ranges;
  };
  std::vector<Token> tokens;
  // patternmatcher's suffixMatch: "**" followed only by literal bytes
  // matches any path ending in them ("**foo" matches "barfoo").
  bool suffix_match = false;
  std::string suffix;
};

// kInvalid "syntax error in pattern" for unclosed classes, bad ranges and a
// trailing backslash (Go's filepath.ErrBadPattern).
Result<IgnoreGlob> CompileIgnoreGlob(std::string_view pattern);
bool MatchIgnoreGlob(const IgnoreGlob& glob, std::string_view path);

}  // namespace kiln::dockerfile::internal
