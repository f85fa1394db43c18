#include "compose/env.h"

#include <fmt/format.h>

#include "base/strings.h"

namespace kiln::compose {
namespace {

bool IsNameStart(char c) { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

class Interpolator {
 public:
  Interpolator(std::string_view text, const Lookup& lookup,
               const std::function<void(const std::string&)>& on_unset)
      : text_(text), lookup_(lookup), on_unset_(on_unset) {}

  tl::expected<std::string, InterpolationError> Run() {
    size_t i = 0;
    auto out = Parse(i, /*in_braces=*/false, /*eval=*/true);
    if (!out) return out;
    return out;
  }

 private:
  tl::unexpected<InterpolationError> Invalid() const {
    return tl::unexpected(InterpolationError{
        fmt::format("invalid interpolation format in {} (write a literal $ as $$)", Quote(text_))});
  }

  // Reads up to the end of text (or the `}` closing the current `${`, which
  // is left unconsumed). With `eval` false only the syntax is checked.
  tl::expected<std::string, InterpolationError> Parse(size_t& i, bool in_braces, bool eval) {
    std::string out;
    while (i < text_.size()) {
      char c = text_[i];
      if (in_braces && c == '}') return out;
      if (c != '$') {
        out += c;
        ++i;
        continue;
      }
      ++i;
      if (i >= text_.size()) return Invalid();
      c = text_[i];
      if (c == '$') {
        out += '$';
        ++i;
      } else if (IsNameStart(c)) {
        size_t start = i;
        while (i < text_.size() && IsNameChar(text_[i])) ++i;
        if (eval) out += Value(std::string(text_.substr(start, i - start)));
      } else if (c == '{') {
        ++i;
        auto v = Braced(i, eval);
        if (!v) return v;
        out += *v;
      } else {
        return Invalid();
      }
    }
    if (in_braces) return Invalid();
    return out;
  }

  // After "${": NAME [op word] "}".
  tl::expected<std::string, InterpolationError> Braced(size_t& i, bool eval) {
    size_t start = i;
    if (i >= text_.size() || !IsNameStart(text_[i])) return Invalid();
    while (i < text_.size() && IsNameChar(text_[i])) ++i;
    std::string name(text_.substr(start, i - start));
    if (i >= text_.size()) return Invalid();
    if (text_[i] == '}') {
      ++i;
      return eval ? Value(name) : std::string();
    }
    bool colon = false;
    if (text_[i] == ':') {
      colon = true;
      ++i;
      if (i >= text_.size()) return Invalid();
    }
    char op = text_[i];
    if (op != '-' && op != '?' && op != '+') return Invalid();
    ++i;
    std::optional<std::string> value = eval ? lookup_(name) : std::nullopt;
    bool set = value.has_value() && (!colon || !value->empty());
    // Only the branch that is taken is evaluated, so an unused default
    // cannot fail or warn.
    bool use_word = eval && (op == '+' ? set : !set);
    auto word = Parse(i, /*in_braces=*/true, use_word);
    if (!word) return word;
    if (i >= text_.size()) return Invalid();
    ++i;  // '}'
    if (!eval) return std::string();
    switch (op) {
      case '-':
        return set ? *value : *word;
      case '+':
        return set ? *word : std::string();
      default:  // '?'
        if (set) return *value;
        if (word->empty())
          return tl::unexpected(
              InterpolationError{fmt::format("required variable {} is missing a value", name)});
        return tl::unexpected(
            InterpolationError{fmt::format("required variable {} is missing a value: {}", name, *word)});
    }
  }

  std::string Value(const std::string& name) {
    std::optional<std::string> v = lookup_(name);
    if (v) return *v;
    if (on_unset_) on_unset_(name);
    return "";
  }

  std::string_view text_;
  const Lookup& lookup_;
  const std::function<void(const std::string&)>& on_unset_;
};

bool IsKeyChar(char c) { return IsNameChar(c) || c == '.' || c == '-'; }

}  // namespace

tl::expected<std::string, InterpolationError> Interpolate(
    std::string_view text, const Lookup& lookup,
    const std::function<void(const std::string&)>& on_unset) {
  if (text.find('$') == std::string_view::npos) return std::string(text);
  return Interpolator(text, lookup, on_unset).Run();
}

Result<EnvList> ParseDotEnv(std::string_view file, std::string_view text, const Lookup& lookup) {
  EnvList out;
  Lookup combined = [&](const std::string& name) -> std::optional<std::string> {
    if (auto v = lookup ? lookup(name) : std::nullopt) return v;
    for (auto it = out.rbegin(); it != out.rend(); ++it)
      if (it->first == name) return it->second;
    return std::nullopt;
  };
  auto fail = [&](int line, std::string msg) {
    SourceLoc loc;
    loc.file = std::string(file);
    loc.line = line;
    return Fail(Error::Syntax(std::move(loc), std::move(msg)));
  };
  auto set = [&](std::string key, std::string value) {
    for (auto& kv : out) {
      if (kv.first == key) {
        kv.second = std::move(value);
        return;
      }
    }
    out.emplace_back(std::move(key), std::move(value));
  };

  size_t i = 0;
  int line = 1;
  while (i < text.size()) {
    // One logical line per iteration.
    int line_start = line;
    auto skip_blanks = [&] {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) ++i;
    };
    auto skip_to_eol = [&] {
      while (i < text.size() && text[i] != '\n') ++i;
      if (i < text.size()) {
        ++i;
        ++line;
      }
    };
    skip_blanks();
    if (i >= text.size()) break;
    if (text[i] == '\n' || text[i] == '#') {
      skip_to_eol();
      continue;
    }
    if (text.substr(i, 7) == "export " || text.substr(i, 7) == "export\t") {
      i += 7;
      skip_blanks();
    }
    size_t key_start = i;
    while (i < text.size() && IsKeyChar(text[i])) ++i;
    std::string key(text.substr(key_start, i - key_start));
    if (key.empty())
      return fail(line_start, fmt::format("invalid variable name starting at {}",
                                          Quote(text.substr(key_start, 1))));
    skip_blanks();
    if (i >= text.size() || text[i] == '\n' || text[i] == '#') {
      // A bare name passes the variable through from the environment.
      if (auto v = lookup ? lookup(key) : std::nullopt) set(key, *v);
      skip_to_eol();
      continue;
    }
    if (text[i] != '=')
      return fail(line_start, fmt::format("unexpected character {} after variable name {}",
                                          Quote(text.substr(i, 1)), Quote(key)));
    ++i;
    skip_blanks();
    std::string value;
    if (i < text.size() && (text[i] == '\'' || text[i] == '"')) {
      char q = text[i++];
      std::string raw;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i];
        if (c == '\n') ++line;
        if (c == q) {
          closed = true;
          ++i;
          break;
        }
        if (q == '"' && c == '\\' && i + 1 < text.size()) {
          char n = text[i + 1];
          i += 2;
          switch (n) {
            case 'n': raw += '\n'; break;
            case 't': raw += '\t'; break;
            case 'r': raw += '\r'; break;
            case '"': raw += '"'; break;
            case '\\': raw += '\\'; break;
            // Keep "$$" so interpolation turns it into one literal "$".
            case '$': raw += "$$"; break;
            default: raw += '\\'; raw += n; break;
          }
          continue;
        }
        raw += c;
        ++i;
      }
      if (!closed)
        return fail(line_start, fmt::format("unterminated quoted value for {}", Quote(key)));
      if (q == '"') {
        auto v = Interpolate(raw, combined);
        if (!v) return fail(line_start, fmt::format("{}: {}", key, v.error().message));
        value = std::move(*v);
      } else {
        value = std::move(raw);
      }
      // Only a comment may follow the closing quote.
      skip_blanks();
      if (i < text.size() && text[i] != '\n' && text[i] != '#')
        return fail(line, fmt::format("unexpected text after the quoted value of {}", Quote(key)));
      skip_to_eol();
    } else {
      size_t start = i;
      while (i < text.size() && text[i] != '\n') {
        // " #" starts an inline comment in an unquoted value.
        if (text[i] == '#' && i > start && (text[i - 1] == ' ' || text[i - 1] == '\t')) break;
        ++i;
      }
      std::string raw(TrimSpace(text.substr(start, i - start)));
      auto v = Interpolate(raw, combined);
      if (!v) return fail(line_start, fmt::format("{}: {}", key, v.error().message));
      value = std::move(*v);
      skip_to_eol();
    }
    set(std::move(key), std::move(value));
  }
  return out;
}

}  // namespace kiln::compose
