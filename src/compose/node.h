#pragma once

// A plain YAML tree with source locations, the form every compose file is
// loaded into before it becomes a Project. libyaml only tokenises; anchors,
// aliases and merge keys (`<<`) are resolved here, tags `!reset` and
// `!override` are kept for the merge step.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln::compose {

struct MapEntry;

// The text of a parsed file, shared by the positions that point into it.
struct SourceText {
  std::string name;
  std::vector<std::string> lines;
};

// A cheap-to-copy position in a SourceText; converts to the SourceLoc that
// errors carry (with the line's text filled in).
struct Pos {
  std::shared_ptr<const SourceText> source;
  int line = 0;  // 1-based; 0 = unknown
  int col = 0;   // 1-based

  operator SourceLoc() const;  // NOLINT: implicit on purpose
};

struct Node {
  enum class Kind { kNull, kScalar, kMap, kSeq };

  Kind kind = Kind::kNull;
  // The scalar's text (kScalar only).
  std::string scalar;
  // True if the scalar was written without quotes, so `1.0` or `true` may be
  // a number or a bool rather than a string.
  bool plain = true;
  // "!reset", "!override" or empty.
  std::string tag;
  std::vector<MapEntry> map;  // kMap, in source order, keys unique
  std::vector<Node> seq;      // kSeq
  // Where the value starts (for kNull from a missing value: the key).
  Pos loc;

  bool is_map() const { return kind == Kind::kMap; }
  bool is_seq() const { return kind == Kind::kSeq; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_null() const { return kind == Kind::kNull; }
  // The entry for `key`, or nullptr. Only meaningful for maps.
  const Node* Find(std::string_view key) const;
  Node* Find(std::string_view key);
  const MapEntry* FindEntry(std::string_view key) const;
  // Removes `key` if present; returns whether it was.
  bool Erase(std::string_view key);
  // Sets `key` to `value`, replacing in place or appending.
  void Set(std::string key, Node value, Pos key_loc = {});

  static Node Scalar(std::string text, Pos loc = {}, bool plain = false);
  static Node Map(Pos loc = {});
  static Node Seq(Pos loc = {});
};

struct MapEntry {
  std::string key;
  Pos key_loc;
  Node value;
};

// Parses one YAML document from `text`. `file` is the name shown in
// locations. Resolves aliases and merge keys (`<<: *a`, `<<: [*a, *b]`:
// explicit keys win, then earlier maps in the list). An empty document
// yields an empty map. Errors: kSyntax with file:line:col for malformed YAML,
// duplicate keys, non-scalar keys and bad merge values.
Result<Node> ParseYaml(std::string_view file, std::string_view text);

}  // namespace kiln::compose
