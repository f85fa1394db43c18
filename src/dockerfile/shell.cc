#include "dockerfile/shell_internal.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace kiln::dockerfile::internal {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// BuildKit's wordsStruct: accumulates ProcessWords' field splitting.
struct Words {
  std::string word;
  std::vector<std::string> words;
  bool in_word = false;

  void AddChar(char c) {
    if (IsSpace(c) && in_word) {
      if (!word.empty()) {
        words.push_back(std::move(word));
        word.clear();
        in_word = false;
      }
    } else if (!IsSpace(c)) {
      AddRawChar(c);
    }
  }
  void AddRawChar(char c) { word += c; in_word = true; }
  void AddString(std::string_view s) { for (char c : s) AddChar(c); }
  void AddRawString(std::string_view s) { word += s; in_word = true; }
  std::vector<std::string> Take() {
    if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
      in_word = false;
    }
    return std::move(words);
  }
};

constexpr int kEof = -1;

class ShellWord {
 public:
  ShellWord(std::string_view src, const LexOptions& opts) : src_(src), opts_(opts) {}

  Result<LexResult> Process() {
    Words words;
    auto r = ProcessStopOn(kEof, opts_.raw_escapes, &words);
    if (!r) return Fail(Error::Invalid(fmt::format("failed to process {}: {}", Quote(src_), r.error())));
    return LexResult{std::move(*r), words.Take()};
  }

 private:
  // Errors inside the lexer are plain strings; Process() wraps them.
  using Str = tl::expected<std::string, std::string>;

  static std::string Quote(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  }

  int Peek() const { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_]) : kEof; }
  int Next() { return pos_ < src_.size() ? static_cast<unsigned char>(src_[pos_++]) : kEof; }

  Str ProcessStopOn(int stop, bool raw_escapes, Words* words) {
    std::string result;
    while (Peek() != kEof) {
      int ch = Peek();
      if (stop != kEof && ch == stop) {
        Next();
        return result;
      }
      if (ch == '$' || (!opts_.skip_quotes && (ch == '\'' || ch == '"'))) {
        Str tmp = ch == '\'' ? ProcessSingleQuote() : ch == '"' ? ProcessDoubleQuote() : ProcessDollar();
        if (!tmp) return tmp;
        result += *tmp;
        if (words) {
          if (ch == '$') words->AddString(*tmp);
          else words->AddRawString(*tmp);
        }
        continue;
      }
      ch = Next();
      if (ch == static_cast<unsigned char>(opts_.escape)) {
        if (raw_escapes) {
          if (words) words->AddRawChar(static_cast<char>(ch));
          result += static_cast<char>(ch);
        }
        ch = Next();
        if (ch == kEof) break;
        if (words) words->AddRawChar(static_cast<char>(ch));
      } else if (words) {
        words->AddChar(static_cast<char>(ch));
      }
      result += static_cast<char>(ch);
    }
    if (stop != kEof) {
      return tl::unexpected(fmt::format("unexpected end of statement while looking for matching {}",
                                        static_cast<char>(stop)));
    }
    return result;
  }

  Str ProcessSingleQuote() {
    std::string result;
    Next();
    if (opts_.raw_quotes) result += '\'';
    for (;;) {
      int ch = Next();
      if (ch == kEof) {
        return tl::unexpected(std::string(
            "unexpected end of statement while looking for matching single-quote"));
      }
      if (ch == '\'') {
        if (opts_.raw_quotes) result += '\'';
        return result;
      }
      result += static_cast<char>(ch);
    }
  }

  Str ProcessDoubleQuote() {
    std::string result;
    Next();
    if (opts_.raw_quotes) result += '"';
    for (;;) {
      int ch = Peek();
      if (ch == kEof) {
        return tl::unexpected(std::string(
            "unexpected end of statement while looking for matching double-quote"));
      }
      if (ch == '"') {
        Next();
        if (opts_.raw_quotes) result += '"';
        return result;
      }
      if (ch == '$') {
        Str v = ProcessDollar();
        if (!v) return v;
        result += *v;
        continue;
      }
      ch = Next();
      if (ch == static_cast<unsigned char>(opts_.escape)) {
        int next = Peek();
        if (next == kEof) continue;  // a lone escape at the end is dropped
        if (next == '"' || next == '$' || next == static_cast<unsigned char>(opts_.escape)) {
          if (opts_.raw_escapes) result += static_cast<char>(ch);
          ch = Next();
        }
      }
      result += static_cast<char>(ch);
    }
  }

  static bool IsSpecialParam(int c) {
    return c == '@' || c == '*' || c == '#' || c == '?' || c == '-' || c == '$' || c == '!' ||
           c == '0';
  }

  std::string ProcessName() {
    std::string name;
    while (Peek() != kEof) {
      int ch = Peek();
      if (name.empty() && std::isdigit(ch)) {
        while (Peek() != kEof && std::isdigit(Peek())) name += static_cast<char>(Next());
        return name;
      }
      if (name.empty() && IsSpecialParam(ch)) {
        name += static_cast<char>(Next());
        return name;
      }
      if (!std::isalnum(ch) && ch != '_') break;
      name += static_cast<char>(Next());
    }
    return name;
  }

  // `report` is false where the word itself handles the unset case
  // (${V-x}, ${V+x}, ${V?x}), so UndefinedVar does not flag it.
  std::optional<std::string> GetEnv(const std::string& name, bool report = true) {
    std::optional<std::string> v;
    if (opts_.lookup && *opts_.lookup) v = (*opts_.lookup)(name);
    if (!v && report && opts_.unset_names) opts_.unset_names->push_back(name);
    return v;
  }

  Str ProcessDollar() {
    Next();
    if (Peek() != '{') {
      std::string name = ProcessName();
      if (name.empty()) return std::string("$");
      return GetEnv(name).value_or("");
    }
    Next();
    switch (Peek()) {
      case kEof: return tl::unexpected(std::string("syntax error: missing '}'"));
      case '{': case '}': case ':':
        return tl::unexpected(std::string("syntax error: bad substitution"));
    }
    std::string name = ProcessName();
    int ch = Next();
    std::string chs = ch == kEof ? std::string() : std::string(1, static_cast<char>(ch));
    bool null_is_unset = false;
    switch (ch) {
      case kEof:
        return tl::unexpected(std::string("syntax error: missing '}'"));
      case '}':
        return GetEnv(name).value_or("");
      case ':':
        null_is_unset = true;
        ch = Next();
        if (ch != kEof) chs += static_cast<char>(ch);
        [[fallthrough]];
      case '+': case '-': case '?': case '#': case '%': {
        bool raw = ch == '#' || ch == '%';
        if (null_is_unset && raw) {
          return tl::unexpected(fmt::format("unsupported modifier ({}) in substitution", chs));
        }
        Str word = ProcessStopOn('}', raw, nullptr);
        if (!word) {
          if (Peek() == kEof) return tl::unexpected(std::string("syntax error: missing '}'"));
          return word;
        }
        std::optional<std::string> value = GetEnv(name, ch == '#' || ch == '%');
        bool set = value.has_value();
        std::string v = value.value_or("");
        switch (ch) {
          case '-':
            if (!set || (null_is_unset && v.empty())) return *word;
            return v;
          case '+':
            if (!set || (null_is_unset && v.empty())) return std::string();
            return *word;
          case '?':
            if (!set) {
              return tl::unexpected(fmt::format(
                  "{}: {}", name, word->empty() ? "is not allowed to be unset" : *word));
            }
            if (null_is_unset && v.empty()) {
              return tl::unexpected(fmt::format(
                  "{}: {}", name, word->empty() ? "is not allowed to be empty" : *word));
            }
            return v;
          case '%': case '#': {
            bool greedy = false;
            std::string w = *word;
            if (!w.empty() && w[0] == static_cast<char>(ch)) {
              greedy = true;
              w.erase(0, 1);
            }
            return Trim(w, v, greedy, ch == '#');
          }
          default:
            return tl::unexpected(fmt::format("unsupported modifier ({}) in substitution", chs));
        }
      }
      case '/': {
        bool all = Peek() == '/';
        if (all) Next();
        Str pattern = ProcessStopOn('/', true, nullptr);
        if (!pattern) {
          if (Peek() == kEof) return tl::unexpected(std::string("syntax error: missing '/' in ${}"));
          return pattern;
        }
        Str repl = ProcessStopOn('}', true, nullptr);
        if (!repl) {
          if (Peek() == kEof) return tl::unexpected(std::string("syntax error: missing '}'"));
          return repl;
        }
        std::string v = GetEnv(name).value_or("");
        return Replace(*pattern, *repl, v, all);
      }
      default:
        return tl::unexpected(fmt::format("unsupported modifier ({}) in substitution", chs));
    }
  }

  static Str Trim(const std::string& pattern, const std::string& value, bool greedy, bool prefix) {
    auto p = CompileShellPattern(pattern);
    if (!p) {
      return tl::unexpected(fmt::format("invalid pattern ({}) in substitution: {}", pattern,
                                        p.error().message()));
    }
    size_t n = value.size();
    if (prefix) {
      std::vector<bool> ends = MatchShellPrefixes(*p, value);
      if (greedy) {
        for (size_t len = n + 1; len-- > 0;)
          if (ends[len]) return value.substr(len);
      } else {
        for (size_t len = 0; len <= n; ++len)
          if (ends[len]) return value.substr(len);
      }
      return value;
    }
    // Suffixes: match the reversed pattern against the reversed value.
    ShellPattern rp = *p;
    std::reverse(rp.tokens.begin(), rp.tokens.end());
    std::string rv(value.rbegin(), value.rend());
    std::vector<bool> ends = MatchShellPrefixes(rp, rv);
    if (greedy) {
      for (size_t len = n + 1; len-- > 0;)
        if (ends[len]) return value.substr(0, n - len);
    } else {
      for (size_t len = 0; len <= n; ++len)
        if (ends[len]) return value.substr(0, n - len);
    }
    return value;
  }

  static Str Replace(const std::string& pattern, const std::string& repl, const std::string& value,
                     bool all) {
    auto p = CompileShellPattern(pattern);
    if (!p) {
      return tl::unexpected(fmt::format("invalid pattern ({}) in substitution: {}", pattern,
                                        p.error().message()));
    }
    std::string out;
    size_t i = 0, n = value.size();
    bool prev_nonempty_end = false;
    while (i <= n) {
      // Leftmost, longest (greedy) match starting at i.
      std::optional<size_t> found = LongestShellPrefix(*p, std::string_view(value).substr(i));
      if (found && !(*found == 0 && prev_nonempty_end)) {
        out += repl;
        if (!all) {
          out += value.substr(i + *found);
          return out;
        }
        if (*found > 0) {
          i += *found;
          prev_nonempty_end = true;
          continue;
        }
      }
      prev_nonempty_end = false;
      if (i < n) out += value[i];
      ++i;
    }
    return out;
  }

  std::string_view src_;
  const LexOptions& opts_;
  size_t pos_ = 0;
};

}  // namespace

Result<ShellPattern> CompileShellPattern(std::string_view pattern) {
  ShellPattern p;
  using T = ShellPattern::Token::Type;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '*') {
      p.tokens.push_back({T::kStar});
    } else if (c == '?') {
      p.tokens.push_back({T::kAny});
    } else if (c == '\\') {
      char next = i + 1 < pattern.size() ? pattern[i + 1] : '\0';
      if (next == '}' || next == '/') continue;  // the escape is not part of the pattern
      if (next != '*' && next != '?' && next != '\\') {
        return Fail(Error::Invalid(fmt::format("invalid escape '\\{}'", next)));
      }
      p.tokens.push_back({T::kLiteral, next});
      ++i;
    } else {
      p.tokens.push_back({T::kLiteral, c});
    }
  }
  return p;
}

namespace {

// NFA simulation over token positions: O(|s| * |tokens|). Calls
// `on_match(k)` for every k where s[0, k) matches, in increasing order.
template <typename F>
void RunShellNfa(const ShellPattern& p, std::string_view s, F on_match) {
  using T = ShellPattern::Token::Type;
  const auto& tk = p.tokens;
  const size_t m = tk.size();
  std::vector<char> cur(m + 1, 0), next(m + 1, 0);
  auto close = [&](std::vector<char>& set) {
    for (size_t t = 0; t < m; ++t)
      if (set[t] && tk[t].type == T::kStar) set[t + 1] = 1;
  };
  cur[0] = 1;
  close(cur);
  for (size_t i = 0;; ++i) {
    if (cur[m]) on_match(i);
    if (i == s.size()) break;
    std::fill(next.begin(), next.end(), 0);
    bool any = false;
    for (size_t t = 0; t < m; ++t) {
      if (!cur[t]) continue;
      const auto& tok = tk[t];
      if (tok.type == T::kStar) {
        next[t] = 1;
        any = true;
      } else if (tok.type == T::kAny || tok.c == s[i]) {
        next[t + 1] = 1;
        any = true;
      }
    }
    if (!any) break;
    close(next);
    cur.swap(next);
  }
}

}  // namespace

std::vector<bool> MatchShellPrefixes(const ShellPattern& p, std::string_view s) {
  std::vector<bool> ends(s.size() + 1, false);
  RunShellNfa(p, s, [&](size_t k) { ends[k] = true; });
  return ends;
}

std::optional<size_t> LongestShellPrefix(const ShellPattern& p, std::string_view s) {
  std::optional<size_t> longest;
  RunShellNfa(p, s, [&](size_t k) { longest = k; });
  return longest;
}

bool MatchShellPattern(const ShellPattern& p, std::string_view s) {
  // Classic wildcard matching with single-star backtracking: linear-ish and
  // free of recursion, so fuzzed input cannot blow the stack.
  using T = ShellPattern::Token::Type;
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  const auto& tk = p.tokens;
  while (si < s.size()) {
    if (pi < tk.size() && tk[pi].type == T::kStar) {
      star_p = pi++;
      star_s = si;
    } else if (pi < tk.size() &&
               (tk[pi].type == T::kAny || (tk[pi].type == T::kLiteral && tk[pi].c == s[si]))) {
      ++pi;
      ++si;
    } else if (star_p != std::string_view::npos) {
      pi = star_p + 1;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (pi < tk.size() && tk[pi].type == T::kStar) ++pi;
  return pi == tk.size();
}

Result<LexResult> Lex(std::string_view src, const LexOptions& opts) {
  return ShellWord(src, opts).Process();
}

}  // namespace kiln::dockerfile::internal
