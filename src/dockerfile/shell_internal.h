#pragma once

// BuildKit's shell lexer (frontend/dockerfile/shell/lex.go), used by
// expand.cc for word expansion and by the parser to find heredoc markers.
// Private to src/dockerfile/.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "dockerfile/expand.h"

namespace kiln::dockerfile::internal {

struct LexOptions {
  char escape = '\\';
  bool raw_quotes = false;   // keep quote characters in the output
  bool raw_escapes = false;  // keep escape characters in the output
  bool skip_quotes = false;  // quotes are plain characters (BuildKit's SkipProcessQuotes)
  const Lookup* lookup = nullptr;  // null: every variable is unset
  std::vector<std::string>* unset_names = nullptr;
};

struct LexResult {
  std::string word;                // ProcessWord's result
  std::vector<std::string> words;  // ProcessWords' result
};

// Processes `src` like BuildKit's shellWord.process. Errors are kInvalid with
// BuildKit's text, e.g. `failed to process "${X": syntax error: missing '}'`.
Result<LexResult> Lex(std::string_view src, const LexOptions& opts);

// Shell-pattern matching used by ${V#p}, ${V%p} and ${V/p/r}: `*`, `?` and
// escapes. Exposed for tests.
struct ShellPattern {
  struct Token {
    enum class Type { kLiteral, kAny, kStar };
    Type type;
    char c = 0;
  };
  std::vector<Token> tokens;
};
Result<ShellPattern> CompileShellPattern(std::string_view pattern);
bool MatchShellPattern(const ShellPattern& p, std::string_view s);
// ends[k] is true when s[0, k) matches the whole pattern; size |s| + 1.
std::vector<bool> MatchShellPrefixes(const ShellPattern& p, std::string_view s);
// The longest k for which s[0, k) matches, if any.
std::optional<size_t> LongestShellPrefix(const ShellPattern& p, std::string_view s);

}  // namespace kiln::dockerfile::internal
