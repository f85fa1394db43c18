// .dockerignore parsing and matching with moby/patternmatcher's semantics,
// reimplemented without regexps: patterns compile to tokens matched by a
// memoized backtracking matcher.

#include "dockerfile/dockerignore.h"

#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"
#include "dockerfile/dockerignore_internal.h"

namespace kiln::dockerfile {
namespace internal {

namespace {
IgnoreGlob::Token Tok(IgnoreGlob::Token::Type type, char c = 0) {
  IgnoreGlob::Token t;
  t.type = type;
  t.c = c;
  return t;
}
}  // namespace

Result<IgnoreGlob> CompileIgnoreGlob(std::string_view p) {
  using T = IgnoreGlob::Token::Type;
  IgnoreGlob g;
  if (p.substr(0, 2) == "**" && p.size() > 2 && p.find_first_of("*?[\\", 2) == std::string_view::npos) {
    g.suffix_match = true;
    g.suffix = std::string(p.substr(2));
    // "**/" eats the '/' in the regexp form only; the suffix keeps it.
  }
  auto bad = [] { return Fail(Error::Invalid("syntax error in pattern")); };
  bool regexp = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '*') {
      if (i + 1 < p.size() && p[i + 1] == '*') {
        ++i;
        if (i + 1 < p.size() && p[i + 1] == '/') ++i;
        if (i + 1 == p.size()) {
          g.tokens.push_back(Tok(T::kAnything));
        } else {
          g.tokens.push_back(Tok(T::kAnyDirs));
        }
      } else {
        g.tokens.push_back(Tok(T::kStar));
      }
      regexp = true;
    } else if (c == '?') {
      g.tokens.push_back(Tok(T::kAny));
      regexp = true;
    } else if (c == '\\') {
      if (i + 1 == p.size()) return bad();
      g.tokens.push_back(Tok(T::kLiteral, p[++i]));
    } else if (c == '[') {
      IgnoreGlob::Token t = Tok(T::kClass);
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') {
        t.negated = true;
        ++j;
      }
      bool closed = false;
      bool first = true;
      while (j < p.size()) {
        char lo = p[j];
        if (lo == ']' && !first) {
          closed = true;
          break;
        }
        first = false;
        if (lo == '\\') {
          if (j + 1 >= p.size()) return bad();
          lo = p[++j];
        }
        char hi = lo;
        if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
          hi = p[j + 2];
          if (hi == '\\') {
            if (j + 3 >= p.size()) return bad();
            hi = p[j + 3];
            ++j;
          }
          j += 2;
          if (hi < lo) return bad();
        }
        t.ranges.emplace_back(lo, hi);
        ++j;
      }
      if (!closed) return bad();
      g.tokens.push_back(std::move(t));
      i = j;
      regexp = true;
    } else if (c == ']') {
      return bad();
    } else {
      g.tokens.push_back(Tok(T::kLiteral, c));
    }
  }
  (void)regexp;
  return g;
}

bool MatchIgnoreGlob(const IgnoreGlob& g, std::string_view s) {
  using T = IgnoreGlob::Token::Type;
  if (g.suffix_match) {
    if (EndsWith(s, g.suffix)) return true;
    return g.suffix[0] == '/' && s == std::string_view(g.suffix).substr(1);
  }
  const size_t nt = g.tokens.size(), ns = s.size();
  // memo[ti * (ns + 1) + si]: 0 unknown, 1 false, 2 true.
  std::vector<char> memo((nt + 1) * (ns + 1), 0);
  // Iterative evaluation from the end: match(ti, si) depends only on larger
  // ti or (same ti, larger si), so fill ti descending, si descending.
  auto at = [&](size_t ti, size_t si) -> char& { return memo[ti * (ns + 1) + si]; };
  for (size_t si = 0; si <= ns; ++si) at(nt, si) = si == ns ? 2 : 1;
  for (size_t ti = nt; ti-- > 0;) {
    const auto& t = g.tokens[ti];
    for (size_t si = ns + 1; si-- > 0;) {
      bool m = false;
      switch (t.type) {
        case T::kLiteral: m = si < ns && s[si] == t.c && at(ti + 1, si + 1) == 2; break;
        case T::kAny: m = si < ns && s[si] != '/' && at(ti + 1, si + 1) == 2; break;
        case T::kClass: {
          if (si < ns) {
            bool in = false;
            for (auto [lo, hi] : t.ranges) in |= s[si] >= lo && s[si] <= hi;
            m = in != t.negated && at(ti + 1, si + 1) == 2;
          }
          break;
        }
        case T::kStar:
          // [^/]*: zero chars, or one non-slash char then the same token.
          m = at(ti + 1, si) == 2 || (si < ns && s[si] != '/' && at(ti, si + 1) == 2);
          break;
        case T::kAnything: m = true; break;
        case T::kAnyDirs: {
          // (.*/)?: nothing, or anything ending in '/'.
          m = at(ti + 1, si) == 2;
          for (size_t k = si; !m && k < ns; ++k)
            if (s[k] == '/' && at(ti + 1, k + 1) == 2) m = true;
          break;
        }
      }
      at(ti, si) = m ? 2 : 1;
    }
  }
  return at(0, 0) == 2;
}

}  // namespace internal

namespace {

// A pattern's literal prefix: the part before the first wildcard.
std::string_view LiteralPrefix(std::string_view p) {
  size_t i = p.find_first_of("*?[\\");
  return i == std::string_view::npos ? p : p.substr(0, i);
}

}  // namespace

Result<Matcher> Matcher::Parse(std::string_view text, std::string_view file) {
  Matcher m;
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  int line_no = 0;
  for (size_t pos = 0; pos <= text.size();) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty() && line[0] == '#') continue;
    std::string_view p = TrimSpace(line);
    if (p.empty()) {
      if (nl == std::string_view::npos) break;
      continue;
    }
    IgnorePattern ip;
    ip.line = line_no;
    ip.exclusion = p[0] == '!';
    if (ip.exclusion) p = TrimSpace(p.substr(1));
    SourceLoc loc;
    loc.file = std::string(file);
    loc.line = line_no;
    loc.line_text = std::string(line);
    if (p.empty()) return Fail(Error::Syntax(loc, "illegal exclusion pattern: \"!\""));
    std::string cleaned = CleanPath(p);
    if (cleaned.size() > 1 && cleaned[0] == '/') cleaned.erase(0, 1);
    auto glob = internal::CompileIgnoreGlob(cleaned);
    if (!glob) {
      return Fail(Error::Syntax(loc, fmt::format("{}: {}", glob.error().message(), Quote(cleaned))));
    }
    ip.pattern = cleaned;
    m.patterns_.push_back(std::move(ip));
    m.globs_.push_back(std::move(*glob));
    if (nl == std::string_view::npos) break;
  }
  return m;
}

bool Matcher::Matches(std::string_view path) const {
  std::string file = CleanPath(path);
  if (file.size() > 1 && file[0] == '/') file.erase(0, 1);
  std::string parent = Dirname(file);
  std::vector<std::string> parent_dirs = Split(parent, '/');
  bool matched = false;
  for (size_t i = 0; i < patterns_.size(); ++i) {
    if (patterns_[i].exclusion != matched) continue;
    const auto& glob = globs_[i];
    bool match = internal::MatchIgnoreGlob(glob, file);
    if (!match && parent != ".") {
      std::string prefix;
      for (size_t j = 0; j < parent_dirs.size() && !match; ++j) {
        prefix += (j ? "/" : "") + parent_dirs[j];
        match = internal::MatchIgnoreGlob(glob, prefix);
      }
    }
    if (match) matched = !patterns_[i].exclusion;
  }
  return matched;
}

bool Matcher::CanSkipDir(std::string_view dir) const {
  if (!Matches(dir)) return false;
  std::string d = CleanPath(dir);
  if (d.size() > 1 && d[0] == '/') d.erase(0, 1);
  std::string dir_slash = d + "/";
  for (const auto& p : patterns_) {
    if (!p.exclusion) continue;
    std::string_view lit = LiteralPrefix(p.pattern);
    // The exclusion could re-include something under `dir` if its fixed
    // prefix and `dir/` agree as far as both go.
    std::string_view a = lit, b = dir_slash;
    size_t n = std::min(a.size(), b.size());
    if (a.substr(0, n) == b.substr(0, n)) return false;
  }
  return true;
}

Result<Matcher> LoadIgnoreFile(const std::string& context_dir, const std::string& dockerfile_path) {
  std::vector<std::string> candidates;
  if (!dockerfile_path.empty()) candidates.push_back(dockerfile_path + ".dockerignore");
  candidates.push_back(JoinPath(context_dir, ".dockerignore"));
  for (const auto& path : candidates) {
    auto text = ReadFile(path);
    if (!text) {
      if (text.error().code() == ErrorCode::kNotFound) continue;
      return Fail(std::move(text).error().Wrap("reading ignore file {}", path));
    }
    return Matcher::Parse(*text, path);
  }
  return Matcher();
}

}  // namespace kiln::dockerfile
