// Node -> typed Instruction, following BuildKit's
// frontend/dockerfile/instructions/parse.go (argument shapes, flags and their
// error messages).

#include <algorithm>
#include <cctype>
#include <map>

#include "base/strings.h"
#include "dockerfile/parser.h"
#include "dockerfile/parser_internal.h"
#include "dockerfile/shell_internal.h"

namespace kiln::dockerfile {

std::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kFrom: return "FROM";
    case Kind::kRun: return "RUN";
    case Kind::kCmd: return "CMD";
    case Kind::kLabel: return "LABEL";
    case Kind::kMaintainer: return "MAINTAINER";
    case Kind::kExpose: return "EXPOSE";
    case Kind::kEnv: return "ENV";
    case Kind::kAdd: return "ADD";
    case Kind::kCopy: return "COPY";
    case Kind::kEntrypoint: return "ENTRYPOINT";
    case Kind::kVolume: return "VOLUME";
    case Kind::kUser: return "USER";
    case Kind::kWorkdir: return "WORKDIR";
    case Kind::kArg: return "ARG";
    case Kind::kOnbuild: return "ONBUILD";
    case Kind::kStopsignal: return "STOPSIGNAL";
    case Kind::kHealthcheck: return "HEALTHCHECK";
    case Kind::kShell: return "SHELL";
  }
  return "?";
}

namespace internal {

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

const std::vector<std::string>& InstructionNames() {
  static const std::vector<std::string> names = {
      "FROM", "RUN",     "CMD", "LABEL",   "MAINTAINER", "EXPOSE",      "ENV",   "ADD", "COPY",
      "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK",
      "SHELL"};
  return names;
}

bool KindFromKeyword(std::string_view word, Kind* kind) {
  std::string up = ToUpper(word);
  const auto& names = InstructionNames();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == up) {
      *kind = static_cast<Kind>(i);
      return true;
    }
  }
  return false;
}

std::vector<std::string> ParseWords(std::string_view rest, char escape) {
  std::vector<std::string> words;
  std::string word;
  enum { kInSpaces, kInWord, kInQuote } phase = kInSpaces;
  char quote = 0;
  bool blank_ok = false;
  for (size_t pos = 0; pos <= rest.size(); ++pos) {
    char ch = pos < rest.size() ? rest[pos] : '\0';
    if (phase == kInSpaces) {
      if (pos == rest.size()) break;
      if (IsSpace(ch)) continue;
      phase = kInWord;
    }
    if (pos == rest.size()) {
      if (blank_ok || !word.empty()) words.push_back(word);
      break;
    }
    if (phase == kInWord) {
      if (IsSpace(ch)) {
        phase = kInSpaces;
        if (blank_ok || !word.empty()) words.push_back(word);
        word.clear();
        blank_ok = false;
        continue;
      }
      if (ch == '\'' || ch == '"') {
        quote = ch;
        blank_ok = true;
        phase = kInQuote;
      }
      if (ch == escape) {
        if (pos + 1 == rest.size()) continue;
        word += ch;
        ch = rest[++pos];
      }
      word += ch;
      continue;
    }
    // kInQuote
    if (ch == quote) phase = kInWord;
    if (ch == escape && quote != '\'') {
      if (pos + 1 == rest.size()) {
        phase = kInWord;
        continue;
      }
      word += ch;
      ch = rest[++pos];
    }
    word += ch;
  }
  return words;
}

namespace {

// A tiny JSON reader: just enough to tell "array of strings", "valid JSON
// that is not an array of strings" and "not JSON" apart, like BuildKit's
// parseJSON.
class Json {
 public:
  explicit Json(std::string_view s) : s_(s) {}
  enum class Outcome { kStrings, kNotStrings, kInvalid };

  Outcome ParseArray(std::vector<std::string>* out) {
    Ws();
    if (!Eat('[')) return Outcome::kInvalid;
    bool all_strings = true;
    Ws();
    if (!Eat(']')) {
      for (;;) {
        Ws();
        if (Peek() == '"') {
          std::string str;
          if (!String(&str)) return Outcome::kInvalid;
          if (out) out->push_back(std::move(str));
        } else {
          if (!Skip(0)) return Outcome::kInvalid;
          all_strings = false;
        }
        Ws();
        if (Eat(',')) continue;
        if (Eat(']')) break;
        return Outcome::kInvalid;
      }
    }
    Ws();
    if (pos_ != s_.size()) return Outcome::kInvalid;
    return all_strings ? Outcome::kStrings : Outcome::kNotStrings;
  }

 private:
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Eat(char c) {
    if (Peek() != c || pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  void Ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  static void Utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      *out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out += static_cast<char>(0xC0 | (cp >> 6));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *out += static_cast<char>(0xE0 | (cp >> 12));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      *out += static_cast<char>(0xF0 | (cp >> 18));
      *out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      *out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      *out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool Hex4(uint32_t* v) {
    if (pos_ + 4 > s_.size()) return false;
    *v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      *v <<= 4;
      if (c >= '0' && c <= '9') *v |= c - '0';
      else if (c >= 'a' && c <= 'f') *v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') *v |= c - 'A' + 10;
      else return false;
    }
    return true;
  }
  bool String(std::string* out) {
    if (!Eat('"')) return false;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        *out += c;
        continue;
      }
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      switch (e) {
        case '"': *out += '"'; break;
        case '\\': *out += '\\'; break;
        case '/': *out += '/'; break;
        case 'b': *out += '\b'; break;
        case 'f': *out += '\f'; break;
        case 'n': *out += '\n'; break;
        case 'r': *out += '\r'; break;
        case 't': *out += '\t'; break;
        case 'u': {
          uint32_t cp;
          if (!Hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
            size_t save = pos_;
            pos_ += 2;
            uint32_t lo;
            if (Hex4(&lo) && lo >= 0xDC00 && lo < 0xE000) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              pos_ = save;
              cp = 0xFFFD;
            }
          } else if (cp >= 0xD800 && cp < 0xE000) {
            cp = 0xFFFD;
          }
          Utf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }
  bool Skip(int depth) {
    if (depth > 64) return false;
    Ws();
    char c = Peek();
    if (c == '"') {
      std::string ignored;
      return String(&ignored);
    }
    if (c == '[' || c == '{') {
      char close = c == '[' ? ']' : '}';
      ++pos_;
      Ws();
      if (Eat(close)) return true;
      for (;;) {
        if (c == '{') {
          std::string key;
          Ws();
          if (!String(&key)) return false;
          Ws();
          if (!Eat(':')) return false;
        }
        if (!Skip(depth + 1)) return false;
        Ws();
        if (Eat(',')) continue;
        return Eat(close);
      }
    }
    for (std::string_view lit : {"true", "false", "null"}) {
      if (s_.substr(pos_, lit.size()) == lit) {
        pos_ += lit.size();
        return true;
      }
    }
    size_t start = pos_;
    if (Peek() == '-') ++pos_;
    while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.' ||
                                s_[pos_] == 'e' || s_[pos_] == 'E' || s_[pos_] == '+' || s_[pos_] == '-'))
      ++pos_;
    return pos_ > start && std::isdigit(static_cast<unsigned char>(s_[pos_ - 1]));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

bool ParseJsonStringArray(std::string_view s, std::vector<std::string>* out) {
  return Json(s).ParseArray(out) == Json::Outcome::kStrings;
}

namespace {

enum class FlagType { kBool, kString, kStrings };
struct FlagSpec {
  std::string_view name;
  FlagType type;
};

struct FlagValues {
  std::map<std::string, std::vector<std::string>, std::less<>> values;
  std::map<std::string, SourceLoc, std::less<>> locs;
  std::string Get(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() || it->second.empty() ? std::string() : it->second.back();
  }
  bool Bool(std::string_view name) const { return Get(name) == "true"; }
  bool Has(std::string_view name) const { return values.count(name) > 0; }
  std::vector<std::string> All(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

std::vector<FlagSpec> FlagsFor(Kind kind) {
  using T = FlagType;
  switch (kind) {
    case Kind::kFrom: return {{"platform", T::kString}};
    case Kind::kRun: return {{"mount", T::kStrings}, {"network", T::kString}, {"security", T::kString}};
    case Kind::kCopy:
      return {{"from", T::kString},   {"chown", T::kString},  {"chmod", T::kString},
              {"link", T::kBool},     {"parents", T::kBool},  {"exclude", T::kStrings}};
    case Kind::kAdd:
      return {{"chown", T::kString}, {"chmod", T::kString},       {"link", T::kBool},
              {"checksum", T::kString}, {"keep-git-dir", T::kBool}, {"exclude", T::kStrings}};
    case Kind::kHealthcheck:
      return {{"interval", T::kString},       {"timeout", T::kString}, {"start-period", T::kString},
              {"start-interval", T::kString}, {"retries", T::kString}};
    default: return {};
  }
}

class InstructionParser {
 public:
  explicit InstructionParser(const Node& node) : node_(node) {}

  Result<Instruction> Run() {
    ins_.kind = node_.kind;
    ins_.keyword = node_.keyword;
    ins_.loc = node_.map.At(KeywordOffset());
    ins_.end_line = node_.end_line;
    ins_.original = node_.line.substr(KeywordOffset());
    ins_.escape = node_.escape;
    KILN_TRY(ParseFlags());
    switch (node_.kind) {
      case Kind::kFrom: KILN_TRY(From()); break;
      case Kind::kRun: KILN_TRY(RunInstr()); break;
      case Kind::kCmd: {
        CmdArgs a;
        KILN_TRY_ASSIGN(a.command, MaybeJson(node_.args));
        ins_.args = std::move(a);
        break;
      }
      case Kind::kEntrypoint: {
        EntrypointArgs a;
        KILN_TRY_ASSIGN(a.command, MaybeJson(node_.args));
        ins_.args = std::move(a);
        break;
      }
      case Kind::kLabel:
      case Kind::kEnv: KILN_TRY(NameVal()); break;
      case Kind::kMaintainer: {
        KILN_TRY(ExactlyOne());
        ins_.args = MaintainerArgs{node_.args};
        break;
      }
      case Kind::kExpose: {
        ExposeArgs a;
        a.ports = Whitespace(node_.args);
        if (a.ports.empty()) return Err(AtLeastOne());
        ins_.args = std::move(a);
        break;
      }
      case Kind::kAdd:
      case Kind::kCopy: KILN_TRY(Copy()); break;
      case Kind::kVolume: {
        VolumeArgs a;
        KILN_TRY(JsonOrList(&a.paths, &a.json_form));
        if (a.paths.empty()) return Err(AtLeastOne());
        for (const auto& p : a.paths) {
          if (TrimSpace(p).empty()) return Err("VOLUME specified can not be an empty string");
        }
        ins_.args = std::move(a);
        break;
      }
      case Kind::kUser:
        KILN_TRY(ExactlyOne());
        ins_.args = UserArgs{node_.args};
        break;
      case Kind::kWorkdir:
        KILN_TRY(ExactlyOne());
        ins_.args = WorkdirArgs{node_.args};
        break;
      case Kind::kStopsignal:
        KILN_TRY(ExactlyOne());
        ins_.args = StopsignalArgs{node_.args};
        break;
      case Kind::kArg: KILN_TRY(Arg()); break;
      case Kind::kOnbuild: KILN_TRY(Onbuild()); break;
      case Kind::kHealthcheck: KILN_TRY(Healthcheck()); break;
      case Kind::kShell: {
        std::vector<std::string> shell;
        Json::Outcome o = Json(node_.args).ParseArray(&shell);
        if (o != Json::Outcome::kStrings) return Err("SHELL requires the arguments to be in JSON form");
        if (shell.empty()) return Err(AtLeastOne());
        ins_.args = ShellArgs{std::move(shell)};
        break;
      }
    }
    return std::move(ins_);
  }

 private:
  size_t KeywordOffset() const { return node_.keyword_offset; }
  std::string Name() const { return std::string(KindName(node_.kind)); }
  tl::unexpected<Error> Err(std::string msg) const { return Fail(Error::Syntax(ins_.loc, std::move(msg))); }
  tl::unexpected<Error> ErrAt(size_t offset, std::string msg) const {
    return Fail(Error::Syntax(node_.map.At(offset), std::move(msg)));
  }
  std::string AtLeastOne() const { return Name() + " requires at least one argument"; }

  Result<void> ExactlyOne() {
    if (node_.args.empty()) return Err(Name() + " requires exactly one argument");
    return Ok();
  }

  Result<void> ParseFlags() {
    std::vector<FlagSpec> specs = FlagsFor(node_.kind);
    for (const auto& raw : node_.flags) {
      SourceLoc loc = node_.map.At(raw.offset);
      Cut kv = CutString(raw.text, '=');
      std::string name(kv.first);
      auto spec = std::find_if(specs.begin(), specs.end(), [&](const FlagSpec& s) { return s.name == name; });
      if (spec == specs.end()) {
        std::vector<std::string> names;
        for (const auto& s : specs) names.push_back("--" + std::string(s.name));
        std::string msg = specs.empty()
                              ? fmt::format("unknown flag {} ({} takes no flags)", Quote("--" + name), Name())
                              : fmt::format("unknown flag {} for {}", Quote("--" + name), Name());
        std::string sugg = Spellcheck("--" + name, names);
        if (!sugg.empty()) msg += fmt::format(" (did you mean {}?)", Quote(sugg));
        return Fail(Error::Syntax(loc, msg));
      }
      if (flags_.Has(name) && spec->type != FlagType::kStrings) {
        return Fail(Error::Syntax(loc, fmt::format("duplicate flag specified: --{}", name)));
      }
      std::string value(kv.second);
      switch (spec->type) {
        case FlagType::kBool: {
          if (kv.found && value.empty()) {
            return Fail(Error::Syntax(loc, fmt::format("missing a value on flag: --{}", name)));
          }
          std::string lv = ToLower(value);
          if (lv == "true" || lv.empty()) value = "true";
          else if (lv == "false") value = "false";
          else {
            return Fail(Error::Syntax(
                loc, fmt::format("expecting boolean value for flag --{}, not: {}", name, value)));
          }
          break;
        }
        case FlagType::kString:
        case FlagType::kStrings:
          if (!kv.found) return Fail(Error::Syntax(loc, fmt::format("missing a value on flag: --{}", name)));
          break;
      }
      flags_.values[name].push_back(value);
      flags_.locs[name] = loc;
      ins_.flags.push_back(Flag{name, std::string(kv.second), kv.found, loc});
    }
    return Ok();
  }

  static std::vector<std::string> Whitespace(std::string_view s) {
    std::vector<std::string> out;
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\v' || s[i] == '\f' || s[i] == '\r')) ++i;
      size_t start = i;
      while (i < s.size() && !(s[i] == ' ' || s[i] == '\t' || s[i] == '\v' || s[i] == '\f' || s[i] == '\r')) ++i;
      if (i > start) out.emplace_back(s.substr(start, i - start));
    }
    return out;
  }

  Result<Command> MaybeJson(const std::string& rest) {
    Command c;
    c.heredocs = node_.heredocs;
    if (rest.empty()) return c;
    std::vector<std::string> arr;
    Json::Outcome o = Json(rest).ParseArray(&arr);
    if (o == Json::Outcome::kNotStrings) {
      return Err("when using JSON array syntax, arrays must be comprised of strings only");
    }
    if (o == Json::Outcome::kStrings) {
      c.form = Command::Form::kExec;
      c.args = std::move(arr);
      c.heredocs.clear();
      return c;
    }
    c.args = {rest};
    return c;
  }

  Result<void> JsonOrList(std::vector<std::string>* out, bool* json) {
    Json::Outcome o = Json(node_.args).ParseArray(out);
    if (o == Json::Outcome::kNotStrings) {
      return Err("when using JSON array syntax, arrays must be comprised of strings only");
    }
    *json = o == Json::Outcome::kStrings;
    if (!*json) {
      out->clear();
      *out = Whitespace(node_.args);
    }
    return Ok();
  }

  Result<void> From() {
    FromArgs a;
    std::vector<std::string> args = Whitespace(node_.args);
    if (args.size() == 3 && ToLower(args[1]) == "as") {
      a.name_as_written = args[2];
      a.name = ToLower(args[2]);
      a.as_keyword = args[1];
      bool valid = !a.name.empty() && a.name[0] >= 'a' && a.name[0] <= 'z';
      for (char c : a.name) {
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
              c == '-' || c == '_' || c == '.'))
          valid = false;
      }
      if (!valid) {
        return ErrAt(node_.args_offset + node_.args.rfind(args[2]),
                     fmt::format("invalid name for build stage: {}, name can't start with a number or "
                                 "contain symbols",
                                 Quote(args[2])));
      }
    } else if (args.size() != 1) {
      return Err("FROM requires either one or three arguments");
    }
    a.image = args[0];
    a.platform = flags_.Get("platform");
    ins_.args = std::move(a);
    return Ok();
  }

  Result<void> RunInstr() {
    RunArgs a;
    KILN_TRY_ASSIGN(a.command, MaybeJson(node_.args));
    if (a.command.args.empty()) return Err(AtLeastOne());
    for (const auto& spec : flags_.All("mount")) {
      // Each --mount flag has its own location.
      SourceLoc loc = ins_.loc;
      for (const auto& f : ins_.flags)
        if (f.name == "mount" && f.value == spec) loc = f.loc;
      KILN_TRY_ASSIGN(Mount m, ParseMount(spec, loc));
      // BuildKit's parseMount: stages are linked before any ARG has a value.
      size_t dollar = m.from.find('$');
      if (dollar != std::string::npos && dollar + 1 != m.from.size()) {
        return Fail(Error::Syntax(loc, "'from' doesn't support variable expansion, define alias stage instead"));
      }
      a.mounts.push_back(std::move(m));
    }
    if (flags_.Has("network")) {
      std::string n = flags_.Get("network");
      if (n == "default") a.network = Network::kDefault;
      else if (n == "none") a.network = Network::kNone;
      else if (n == "host") a.network = Network::kHost;
      else {
        return Fail(Error::Syntax(flags_.locs["network"], fmt::format("unsupported network mode {}", Quote(n))));
      }
    }
    if (flags_.Has("security")) {
      std::string s = flags_.Get("security");
      if (s == "sandbox") a.security = Security::kSandbox;
      else if (s == "insecure") a.security = Security::kInsecure;
      else {
        return Fail(Error::Syntax(flags_.locs["security"], fmt::format("unsupported security mode {}", Quote(s))));
      }
    }
    ins_.args = std::move(a);
    return Ok();
  }

  Result<void> NameVal() {
    KeyValueArgs a;
    std::vector<std::string> words = ParseWords(node_.args, node_.escape);
    if (words.empty()) return Err(AtLeastOne());
    if (words[0].find('=') == std::string::npos) {
      // Legacy "KEY name value": split the raw text once on whitespace.
      std::string_view rest = node_.args;
      size_t i = 0;
      while (i < rest.size() && !IsSpace(rest[i])) ++i;
      size_t j = i;
      while (j < rest.size() && IsSpace(rest[j])) ++j;
      if (j >= rest.size()) return Err(Name() + " must have two arguments");
      a.pairs.push_back({std::string(rest.substr(0, i)), std::string(rest.substr(j))});
      a.legacy = true;
    } else {
      for (const auto& w : words) {
        size_t eq = w.find('=');
        if (eq == std::string::npos) {
          return Err(fmt::format("Syntax error - can't find = in {}. Must be of the form: name=value", Quote(w)));
        }
        a.pairs.push_back({w.substr(0, eq), w.substr(eq + 1)});
      }
    }
    for (const auto& kv : a.pairs) {
      if (kv.key.empty()) return Err(Name() + " names can not be blank");
    }
    ins_.args = std::move(a);
    return Ok();
  }

  Result<void> Copy() {
    CopyArgs a;
    std::vector<std::string> args;
    KILN_TRY(JsonOrList(&args, &a.json_form));
    if (args.size() < 2) {
      return Err(Name() + " requires at least two arguments, but only one was provided. Destination could not be determined.");
    }
    a.dest = args.back();
    args.pop_back();
    auto heredoc_name = [](const std::string& w) -> std::optional<std::string> {
      size_t i = 0;
      while (i < w.size() && std::isdigit(static_cast<unsigned char>(w[i]))) ++i;
      if (w.compare(i, 2, "<<") != 0) return std::nullopt;
      i += 2;
      if (i < w.size() && w[i] == '-') ++i;
      std::string rest = w.substr(i);
      if (rest.empty() || rest.find('<') != std::string::npos) return std::nullopt;
      std::string name;
      for (char c : rest)
        if (c != '\'' && c != '"') name += c;
      return name;
    };
    if (!a.json_form && heredoc_name(a.dest)) {
      return Err(Name() + " cannot accept a heredoc as a destination");
    }
    for (auto& s : args) {
      auto h = a.json_form ? std::nullopt : heredoc_name(s);
      a.sources.push_back(s);  // heredoc markers ("<<EOF") stay in place
      if (!h) continue;
      auto it = std::find_if(node_.heredocs.begin(), node_.heredocs.end(),
                             [&](const Heredoc& d) { return d.name == *h; });
      if (it == node_.heredocs.end()) {
        Heredoc empty;
        empty.name = *h;
        a.heredocs.push_back(empty);
      } else {
        a.heredocs.push_back(*it);
      }
    }
    if (node_.kind == Kind::kCopy) {
      a.from = flags_.Get("from");
      // BuildKit resolves --from before any stage runs, so a variable there
      // could only ever be unset: it refuses the word outright.
      LexOptions plain;
      plain.escape = node_.escape;
      auto lexed = Lex(a.from, plain);
      if (!lexed || lexed->word != a.from) {
        return Fail(Error::Syntax(flags_.locs["from"],
                                  "variable expansion is not supported for --from, define a new stage with "
                                  "FROM using ARG from global scope as a workaround"));
      }
      a.parents = flags_.Bool("parents");
    } else {
      a.checksum = flags_.Get("checksum");
      a.keep_git_dir = flags_.Bool("keep-git-dir");
    }
    a.chown = flags_.Get("chown");
    a.chmod = flags_.Get("chmod");
    a.link = flags_.Bool("link");
    a.excludes = flags_.All("exclude");
    ins_.args = std::move(a);
    return Ok();
  }

  Result<void> Arg() {
    ArgArgs a;
    std::vector<std::string> words = ParseWords(node_.args, node_.escape);
    if (words.empty()) return Err(AtLeastOne());
    for (const auto& w : words) {
      ArgDecl d;
      size_t eq = w.find('=');
      if (eq == std::string::npos) {
        d.name = w;
      } else {
        d.name = w.substr(0, eq);
        d.value = w.substr(eq + 1);
      }
      if (d.name.empty()) return Err("ARG names can not be blank");
      a.args.push_back(std::move(d));
    }
    ins_.args = std::move(a);
    return Ok();
  }

  Result<void> Onbuild() {
    if (node_.args.empty()) return Err(AtLeastOne());
    Node sub;
    sub.line = node_.line;
    sub.map = node_.map;
    sub.escape = node_.escape;
    sub.end_line = node_.end_line;
    sub.heredocs = node_.heredocs;
    KILN_TRY(SplitCommand(&sub, node_.args_offset));
    size_t kw = node_.args_offset;
    if (!KindFromKeyword(sub.keyword, &sub.kind)) {
      std::string sugg = Spellcheck(ToUpper(sub.keyword), InstructionNames());
      std::string msg = fmt::format("unknown instruction {}", Quote(ToUpper(sub.keyword)));
      if (!sugg.empty()) msg += fmt::format(" (did you mean {}?)", Quote(sugg));
      return ErrAt(kw, msg);
    }
    if (sub.kind == Kind::kOnbuild) return ErrAt(kw, "ONBUILD ONBUILD isn't allowed");
    if (sub.kind == Kind::kFrom) return ErrAt(kw, "FROM isn't allowed as an ONBUILD trigger");
    if (sub.kind == Kind::kMaintainer) return ErrAt(kw, "MAINTAINER isn't allowed as an ONBUILD trigger");
    InstructionParser inner(sub);
    KILN_TRY(inner.Run());
    ins_.args = OnbuildArgs{node_.args, sub.kind, node_.heredocs};
    return Ok();
  }

  Result<void> Healthcheck() {
    HealthcheckArgs a;
    if (node_.args.empty()) return Err(AtLeastOne());
    size_t i = 0;
    while (i < node_.args.size() && !IsSpace(node_.args[i])) ++i;
    std::string type = ToUpper(node_.args.substr(0, i));
    std::string rest(TrimSpace(std::string_view(node_.args).substr(i)));
    if (type == "NONE") {
      if (!rest.empty()) return Err("HEALTHCHECK NONE takes no arguments");
      if (!node_.flags.empty()) return Err("HEALTHCHECK NONE takes no arguments");
      a.none = true;
      ins_.args = std::move(a);
      return Ok();
    }
    if (type != "CMD") {
      return Err(fmt::format("Unknown type {} in HEALTHCHECK (try CMD)", Quote(node_.args.substr(0, i))));
    }
    KILN_TRY_ASSIGN(a.command, MaybeJson(rest));
    if (a.command.args.empty()) return Err("Missing command after HEALTHCHECK CMD");
    struct D { const char* name; std::optional<int64_t>* out; };
    for (D d : {D{"interval", &a.interval}, D{"timeout", &a.timeout}, D{"start-period", &a.start_period},
                D{"start-interval", &a.start_interval}}) {
      if (!flags_.Has(d.name)) continue;
      std::string v = flags_.Get(d.name);
      SourceLoc loc = flags_.locs[d.name];
      if (v.empty()) {
        *d.out = 0;
        continue;
      }
      auto ns = ParseDuration(v);
      if (!ns) return Fail(Error::Syntax(loc, ns.error().message()));
      if (*ns != 0 && *ns < 1000000) {
        return Fail(Error::Syntax(loc, fmt::format("Interval {} cannot be less than 1ms", Quote(d.name))));
      }
      *d.out = *ns;
    }
    if (flags_.Has("retries")) {
      std::string v = flags_.Get("retries");
      SourceLoc loc = flags_.locs["retries"];
      char* end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n > 1000000000L || n < -1000000000L) {
        return Fail(Error::Syntax(loc, fmt::format("invalid value for --retries: {}", Quote(v))));
      }
      if (n < 0) return Fail(Error::Syntax(loc, fmt::format("--retries cannot be negative ({})", n)));
      a.retries = static_cast<int>(n);
    }
    ins_.args = std::move(a);
    return Ok();
  }

  const Node& node_;
  Instruction ins_;
  FlagValues flags_;
};

}  // namespace

Result<Instruction> ParseInstruction(const Node& node) { return InstructionParser(node).Run(); }

}  // namespace internal
}  // namespace kiln::dockerfile
