#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln {

std::vector<std::string> Split(std::string_view s, char sep);
// Splits on the first `sep`; `second` is empty (and `found` false) if absent.
struct Cut {
  std::string_view first, second;
  bool found = false;
};
Cut CutString(std::string_view s, char sep);
// One CSV record as Go's encoding/csv reads it with default settings (the
// format of docker's --mount, --secret and --ssh values): fields split on
// ',', a field that starts with '"' is quoted and holds ',' freely, '""' in
// it is one '"'. Errors (kInvalid, in Go's words, for callers to wrap):
// `bare " in non-quoted-field`, `extraneous or missing " in quoted-field`.
[[nodiscard]] Result<std::vector<std::string>> SplitCsv(std::string_view record);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view TrimSpace(std::string_view s);
std::string ToLower(std::string_view s);
bool StartsWith(std::string_view s, std::string_view prefix);
bool EndsWith(std::string_view s, std::string_view suffix);
// Double-quoted with C-style escapes, for error messages: "a\"b".
std::string Quote(std::string_view s);
// `text` with the password of every URL's user info ("scheme://user:pw@host")
// replaced by "xxxxx", as BuildKit redacts remote sources in messages. A
// user name alone stays.
std::string RedactUrlPasswords(std::string_view text);
// Zeroes the string's bytes (explicit_bzero: the compiler may not drop it)
// and empties it, keeping its buffer. For kiln's own copies of secret
// values, such as a step's env holding RUN --mount=type=secret,env=.
void WipeString(std::string& s);
// WipeString on each, then clears the vector.
void WipeStrings(std::vector<std::string>& strings);

// Levenshtein distance, capped: returns max_distance + 1 once exceeded.
int EditDistance(std::string_view a, std::string_view b, int max_distance = 1 << 20);
// The candidate closest to `word` (case-insensitive) within a distance that
// grows with the word's length, or "" if none is close: drives every
// "did you mean ...?" (ninja's SpellcheckString).
std::string Spellcheck(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace kiln
