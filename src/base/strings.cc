#include "base/strings.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace kiln {

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.emplace_back(s.substr(start));
      return out;
    }
    out.emplace_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

Cut CutString(std::string_view s, char sep) {
  size_t pos = s.find(sep);
  if (pos == std::string_view::npos) return {s, {}, false};
  return {s.substr(0, pos), s.substr(pos + 1), true};
}

Result<std::vector<std::string>> SplitCsv(std::string_view record) {
  std::vector<std::string> fields;
  size_t i = 0;
  for (;;) {
    std::string field;
    if (i < record.size() && record[i] == '"') {
      ++i;
      bool closed = false;
      while (i < record.size()) {
        if (record[i] != '"') {
          field += record[i++];
        } else if (i + 1 < record.size() && record[i + 1] == '"') {
          field += '"';
          i += 2;
        } else {
          ++i;
          closed = true;
          break;
        }
      }
      // Unterminated, or something other than ',' after the closing quote.
      if (!closed || (i < record.size() && record[i] != ','))
        return Fail(Error::Invalid("extraneous or missing \" in quoted-field"));
    } else {
      while (i < record.size() && record[i] != ',') {
        if (record[i] == '"') return Fail(Error::Invalid("bare \" in non-quoted-field"));
        field += record[i++];
      }
    }
    fields.push_back(std::move(field));
    if (i >= record.size()) return fields;
    ++i;  // the ','
  }
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.starts_with(prefix); }
bool EndsWith(std::string_view s, std::string_view suffix) { return s.ends_with(suffix); }

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

int EditDistance(std::string_view a, std::string_view b, int max_distance) {
  std::vector<int> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = static_cast<int>(j);
  for (size_t i = 1; i <= a.size(); ++i) {
    int prev = row[0];
    row[0] = static_cast<int>(i);
    int best = row[0];
    for (size_t j = 1; j <= b.size(); ++j) {
      int cur = row[j];
      int cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + cost});
      prev = cur;
      best = std::min(best, row[j]);
    }
    if (best > max_distance) return max_distance + 1;
  }
  return row[b.size()];
}

std::string Spellcheck(std::string_view word, const std::vector<std::string>& candidates) {
  std::string lower = ToLower(word);
  int limit = std::max<int>(1, static_cast<int>(word.size()) / 3);
  int best = limit + 1;
  std::string found;
  for (const auto& c : candidates) {
    int d = EditDistance(lower, ToLower(c), limit);
    if (d < best) {
      best = d;
      found = c;
    }
  }
  return found;
}

void WipeString(std::string& s) {
  explicit_bzero(s.data(), s.size());
  s.clear();
}

void WipeStrings(std::vector<std::string>& strings) {
  for (auto& s : strings) WipeString(s);
  strings.clear();
}

std::string RedactUrlPasswords(std::string_view text) {
  std::string out;
  size_t pos = 0;
  for (size_t scheme; (scheme = text.find("://", pos)) != std::string_view::npos;) {
    size_t start = scheme + 3;
    size_t end = text.find_first_of("/?# \t\n\"'", start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view authority = text.substr(start, end - start);
    size_t at = authority.rfind('@');
    size_t colon = at == std::string_view::npos ? at : authority.substr(0, at).find(':');
    if (colon == std::string_view::npos) {
      out.append(text.substr(pos, end - pos));
    } else {
      out.append(text.substr(pos, start + colon + 1 - pos));
      out += "xxxxx";
      out.append(text.substr(start + at, end - start - at));
    }
    pos = end;
  }
  out.append(text.substr(pos));
  return out;
}

}  // namespace kiln
