#pragma once

// A plain YAML tree with source locations, the form every compose file is
// loaded into before it becomes a Project. yaml-cpp is used only to parse;
// anchors, aliases and merge keys (`<<`) are resolved here, tags `!reset` and
// `!override` are kept for the merge step.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln::compose {

struct MapEntry;

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
  SourceLoc loc;

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
  void Set(std::string key, Node value, SourceLoc key_loc = {});

  static Node Scalar(std::string text, SourceLoc loc = {}, bool plain = false);
  static Node Map(SourceLoc loc = {});
  static Node Seq(SourceLoc loc = {});
};

struct MapEntry {
  std::string key;
  SourceLoc key_loc;
  Node value;
};

// Parses one YAML document from `text`. `file` is the name shown in
// locations. Resolves aliases and merge keys (`<<: *a`, `<<: [*a, *b]`:
// explicit keys win, then earlier maps in the list). An empty document
// yields an empty map. Errors: kSyntax with file:line:col for malformed YAML,
// duplicate keys, non-scalar keys and bad merge values.
Result<Node> ParseYaml(std::string_view file, std::string_view text);

}  // namespace kiln::compose
