#pragma once

// Shared between parser.cc (lines -> logical nodes) and instructions.cc
// (node -> typed Instruction). Private to src/dockerfile/.

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "dockerfile/ast.h"

namespace kiln::dockerfile::internal {

// Maps offsets in a logical line (continuations joined) back to file
// positions, so errors can point a caret at the exact character.
struct LineMap {
  struct Segment {
    size_t offset;  // first offset in the logical line
    int line;       // 1-based file line
    int col;        // 1-based column of `offset` in that line
  };
  std::string file;
  std::vector<Segment> segments;
  const std::vector<std::string_view>* lines = nullptr;

  SourceLoc At(size_t offset) const;
};

struct RawFlag {
  std::string text;  // "mount=type=cache,target=/x" (after the "--")
  size_t offset;     // of the "--" in the logical line
};

// One logical instruction line before instruction-specific parsing.
struct Node {
  Kind kind = Kind::kRun;
  std::string keyword;
  size_t keyword_offset = 0;  // of `keyword` in `line`
  std::string line;        // logical line
  std::string args;        // after keyword and flags, trimmed
  size_t args_offset = 0;  // of `args` in `line`
  std::vector<RawFlag> flags;
  std::vector<Heredoc> heredocs;
  LineMap map;
  int end_line = 0;
  char escape = '\\';
};

// Looks a keyword up case-insensitively; false if unknown.
bool KindFromKeyword(std::string_view word, Kind* kind);
const std::vector<std::string>& InstructionNames();

// BuildKit's splitCommand + extractBuilderFlags on `line` (from `start`):
// fills keyword, flags, args, args_offset.
Result<void> SplitCommand(Node* node, size_t start);

// Turns a node into a typed Instruction (BuildKit's instructions.Parse*).
Result<Instruction> ParseInstruction(const Node& node);

// BuildKit's parseWords: whitespace-split, quotes and escapes kept.
std::vector<std::string> ParseWords(std::string_view rest, char escape);
// Parses `s` as a JSON array of strings; false if it is not one.
bool ParseJsonStringArray(std::string_view s, std::vector<std::string>* out);
bool IsSpace(char c);

// ParseMount with every value passed through `expand` first (BuildKit
// expands each key=value of a --mount).
using WordExpander = std::function<Result<std::string>(const std::string&)>;
Result<Mount> ParseMountWith(std::string_view spec, const SourceLoc& loc, const WordExpander* expand);
std::string ToUpper(std::string_view s);

}  // namespace kiln::dockerfile::internal
