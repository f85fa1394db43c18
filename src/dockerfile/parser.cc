// Lines -> logical instruction nodes, following BuildKit's
// frontend/dockerfile/parser: directives, comments, continuations and
// heredocs. Instruction-specific parsing lives in instructions.cc.

#include "dockerfile/parser.h"

#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "dockerfile/parser_internal.h"
#include "dockerfile/shell_internal.h"

namespace kiln::dockerfile {
namespace internal {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

SourceLoc LineMap::At(size_t offset) const {
  SourceLoc loc;
  loc.file = file;
  if (segments.empty()) return loc;
  const Segment* seg = &segments.front();
  for (const auto& s : segments) {
    if (s.offset <= offset) seg = &s;
    else break;
  }
  loc.line = seg->line;
  loc.col = seg->col + static_cast<int>(offset - seg->offset);
  if (lines && seg->line >= 1 && seg->line <= static_cast<int>(lines->size())) {
    loc.line_text = std::string((*lines)[seg->line - 1]);
    // Past the end of a line (e.g. at a continuation): point just after it.
    loc.col = std::min<int>(loc.col, static_cast<int>(loc.line_text.size()) + 1);
  }
  return loc;
}

Result<void> SplitCommand(Node* node, size_t start) {
  const std::string& line = node->line;
  size_t i = start;
  while (i < line.size() && IsSpace(line[i])) ++i;
  size_t kw_start = i;
  while (i < line.size() && !IsSpace(line[i])) ++i;
  node->keyword = line.substr(kw_start, i - kw_start);
  node->keyword_offset = kw_start;
  while (i < line.size() && IsSpace(line[i])) ++i;
  // extractBuilderFlags: leading words that start with "--".
  node->flags.clear();
  for (;;) {
    while (i < line.size() && IsSpace(line[i])) ++i;
    if (i + 1 >= line.size() || line[i] != '-' || line[i + 1] != '-') break;
    size_t word_start = i;
    std::string word;
    char quote = 0;
    bool blank_ok = false;
    while (i < line.size()) {
      char c = line[i];
      if (quote) {
        if (c == quote) {
          quote = 0;
          ++i;
          continue;
        }
      } else {
        if (IsSpace(c)) break;
        if (c == '\'' || c == '"') {
          quote = c;
          blank_ok = true;
          ++i;
          continue;
        }
      }
      if (c == '\\') {
        if (i + 1 == line.size()) {
          ++i;
          continue;
        }
        c = line[++i];
      }
      word += c;
      ++i;
    }
    if (word == "--") break;  // "--" ends the flags
    if (blank_ok || !word.empty()) node->flags.push_back({word.substr(2), word_start});
  }
  while (i < line.size() && IsSpace(line[i])) ++i;
  size_t end = line.size();
  while (end > i && IsSpace(line[end - 1])) --end;
  node->args_offset = i;
  node->args = line.substr(i, end - i);
  return Ok();
}

}  // namespace internal

namespace {

using internal::IsSpace;
using internal::LineMap;
using internal::Node;

bool IsComment(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && IsSpace(line[i])) ++i;
  return i < line.size() && line[i] == '#';
}

bool IsBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return IsSpace(c); });
}

// Strips a trailing escape char plus [ \t]*; true if it was there.
bool TrimContinuation(std::string_view* line, char escape) {
  size_t end = line->size();
  while (end > 0 && ((*line)[end - 1] == ' ' || (*line)[end - 1] == '\t')) --end;
  if (end > 0 && (*line)[end - 1] == escape) {
    *line = line->substr(0, end - 1);
    return true;
  }
  return false;
}

SourceLoc LocOfLine(const std::string& file, const std::vector<std::string_view>& lines, int line,
                    int col) {
  SourceLoc loc;
  loc.file = file;
  loc.line = line;
  loc.col = col;
  if (line >= 1 && line <= static_cast<int>(lines.size())) loc.line_text = std::string(lines[line - 1]);
  return loc;
}

// `# key=value` at the top of the file; see BuildKit's DirectiveParser.
bool MatchDirective(std::string_view line, std::string* key, std::string* value) {
  size_t i = 0;
  if (line.empty() || line[0] != '#') return false;
  ++i;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  size_t k = i;
  if (i >= line.size() || !std::isalpha(static_cast<unsigned char>(line[i]))) return false;
  while (i < line.size() && std::isalnum(static_cast<unsigned char>(line[i]))) ++i;
  *key = ToLower(line.substr(k, i - k));
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  if (i >= line.size() || line[i] != '=') return false;
  ++i;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  size_t end = line.size();
  while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t')) --end;
  if (end == i) return false;
  *value = std::string(line.substr(i, end - i));
  return true;
}

Result<CheckDirective> ParseCheckDirective(std::string_view value, const SourceLoc& loc) {
  CheckDirective cd;
  for (const auto& part : Split(value, ';')) {
    std::string_view p = TrimSpace(part);
    if (p.empty()) continue;
    Cut kv = CutString(p, '=');
    std::string key = ToLower(TrimSpace(kv.first));
    std::string_view v = TrimSpace(kv.second);
    if (!kv.found) {
      return Fail(Error::Syntax(loc, fmt::format("invalid check directive: {}", Quote(p))));
    }
    if (key == "skip") {
      for (const auto& name : Split(v, ',')) {
        std::string_view n = TrimSpace(name);
        if (!n.empty()) cd.skip.emplace_back(n);
      }
    } else if (key == "error") {
      std::string lv = ToLower(v);
      if (lv == "true" || lv == "1") cd.error = true;
      else if (lv == "false" || lv == "0") cd.error = false;
      else return Fail(Error::Syntax(loc, fmt::format("invalid check directive: error={}", v)));
    } else {
      return Fail(Error::Syntax(loc, fmt::format("invalid check directive: {}", Quote(p))));
    }
  }
  return cd;
}

// BuildKit's heredocsFromLine + ParseHeredoc.
Result<std::vector<Heredoc>> HeredocsFromLine(std::string_view args, char escape) {
  internal::LexOptions raw;
  raw.escape = '\\';
  raw.raw_quotes = true;
  raw.raw_escapes = true;
  (void)escape;
  auto lexed = internal::Lex(args, raw);
  if (!lexed) return std::vector<Heredoc>{};
  std::vector<Heredoc> docs;
  for (const std::string& w : lexed->words) {
    // ^(\d*)<<(-?)([^<]*)$
    size_t i = 0;
    while (i < w.size() && std::isdigit(static_cast<unsigned char>(w[i]))) ++i;
    std::string fd = w.substr(0, i);
    if (w.compare(i, 2, "<<") != 0) continue;
    i += 2;
    bool chomp = i < w.size() && w[i] == '-';
    if (chomp) ++i;
    std::string rest = w.substr(i);
    if (rest.empty() || rest.find('<') != std::string::npos) continue;
    internal::LexOptions plain;
    auto unquoted = internal::Lex(rest, plain);
    if (!unquoted || unquoted->words.size() != 1) continue;
    internal::LexOptions rq;
    rq.raw_quotes = true;
    auto rawq = internal::Lex(rest, rq);
    if (!rawq || rawq->words.size() != 1) continue;
    auto quotes = [](const std::string& s) {
      return std::count(s.begin(), s.end(), '\'') + std::count(s.begin(), s.end(), '"');
    };
    Heredoc h;
    h.name = unquoted->words[0];
    h.expand = quotes(unquoted->words[0]) == quotes(rawq->words[0]);
    h.chomp = chomp;
    h.fd = fd.empty() || fd.size() > 9 ? 0 : std::stoi(fd);
    docs.push_back(std::move(h));
  }
  return docs;
}

}  // namespace

Result<Dockerfile> Parse(std::string_view text, std::string_view file) {
  Dockerfile df;
  df.file = std::string(file);
  // Split into lines without their terminators; a "\r\n" loses the '\r'.
  std::vector<std::string_view> lines;
  std::vector<std::string_view> full_lines;  // with "\n", for heredoc bodies
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl;
    size_t next = nl == std::string_view::npos ? text.size() : nl + 1;
    std::string_view l = text.substr(pos, end - pos);
    full_lines.push_back(text.substr(pos, next - pos));
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    lines.push_back(l);
    pos = next;
  }

  // Parser directives: leading `# key=value` lines.
  char escape = '\\';
  size_t first = 0;
  {
    std::vector<std::string> seen;
    for (; first < lines.size(); ++first) {
      std::string_view l = lines[first];
      size_t ws = 0;
      while (ws < l.size() && IsSpace(l[ws])) ++ws;
      std::string key, value;
      if (!MatchDirective(l.substr(ws), &key, &value)) break;
      if (key != "syntax" && key != "escape" && key != "check") break;
      SourceLoc loc = LocOfLine(df.file, lines, static_cast<int>(first) + 1, static_cast<int>(ws) + 1);
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
        return Fail(Error::Syntax(loc, fmt::format("only one {} parser directive can be used", key)));
      }
      seen.push_back(key);
      if (key == "syntax") {
        df.directives.syntax = value;
      } else if (key == "escape") {
        if (value != "\\" && value != "`") {
          return Fail(Error::Syntax(
              loc, fmt::format("invalid escape token '{}' does not match ` or \\", value)));
        }
        escape = value[0];
        df.directives.escape = escape;
      } else {
        KILN_TRY_ASSIGN(df.directives.check, ParseCheckDirective(value, loc));
      }
    }
  }

  bool saw_instruction = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view raw = lines[i];
    if (IsComment(raw)) continue;
    size_t ws = 0;
    while (ws < raw.size() && IsSpace(raw[ws])) ++ws;
    std::string_view first_part = raw.substr(ws);
    bool cont = TrimContinuation(&first_part, escape);
    if (!cont && first_part.empty()) continue;

    Node node;
    node.escape = escape;
    node.map.file = df.file;
    node.map.lines = &lines;
    node.map.segments.push_back({0, static_cast<int>(i) + 1, static_cast<int>(ws) + 1});
    node.line = std::string(first_part);
    int start_line = static_cast<int>(i) + 1;
    bool empty_continuation = false;
    while (cont && i + 1 < lines.size()) {
      std::string_view next = lines[++i];
      if (IsComment(next)) continue;
      if (IsBlank(next)) {
        empty_continuation = true;
        continue;
      }
      cont = TrimContinuation(&next, escape);
      node.map.segments.push_back({node.line.size(), static_cast<int>(i) + 1, 1});
      node.line += next;
    }
    node.end_line = static_cast<int>(i) + 1;
    KILN_TRY(internal::SplitCommand(&node, 0));
    SourceLoc loc = node.map.At(0);
    if (!internal::KindFromKeyword(node.keyword, &node.kind)) {
      std::string suggestion = Spellcheck(internal::ToUpper(node.keyword), internal::InstructionNames());
      std::string msg = fmt::format("unknown instruction {}", Quote(internal::ToUpper(node.keyword)));
      if (!suggestion.empty()) msg += fmt::format(" (did you mean {}?)", Quote(suggestion));
      return Fail(Error::Syntax(loc, msg));
    }
    if (empty_continuation) df.empty_continuations.push_back(loc);
    // Heredocs: RUN, COPY and ADD in shell form.
    // (also `ONBUILD RUN <<EOF`, whose trigger keeps the heredoc bodies).
    std::string_view heredoc_args = node.args;
    Kind heredoc_kind = node.kind;
    if (node.kind == Kind::kOnbuild) {
      size_t sp = 0;
      while (sp < heredoc_args.size() && !IsSpace(heredoc_args[sp])) ++sp;
      if (!internal::KindFromKeyword(heredoc_args.substr(0, sp), &heredoc_kind)) heredoc_kind = Kind::kOnbuild;
      heredoc_args = TrimSpace(heredoc_args.substr(sp));
    }
    bool heredoc_ok = heredoc_kind == Kind::kRun || heredoc_kind == Kind::kCopy || heredoc_kind == Kind::kAdd;
    if (heredoc_ok && heredoc_args.find("<<") != std::string::npos &&
        !(!heredoc_args.empty() && heredoc_args.front() == '[' &&
          internal::ParseJsonStringArray(heredoc_args, nullptr))) {
      KILN_TRY_ASSIGN(auto docs, HeredocsFromLine(heredoc_args, escape));
      for (auto& doc : docs) {
        bool terminated = false;
        while (i + 1 < lines.size()) {
          ++i;
          std::string_view candidate = lines[i];
          if (doc.chomp) {
            while (!candidate.empty() && candidate.front() == '\t') candidate.remove_prefix(1);
          }
          if (candidate == doc.name) {
            terminated = true;
            break;
          }
          std::string_view body = full_lines[i];
          if (doc.chomp) {
            while (!body.empty() && body.front() == '\t') body.remove_prefix(1);
          }
          doc.content += body;
          if (body.empty() || body.back() != '\n') doc.content += '\n';
        }
        if (!terminated) {
          return Fail(Error::Syntax(loc, fmt::format("unterminated heredoc {}", Quote(doc.name))));
        }
        node.heredocs.push_back(std::move(doc));
      }
      node.end_line = static_cast<int>(i) + 1;
    }
    (void)start_line;
    KILN_TRY_ASSIGN(Instruction ins, internal::ParseInstruction(node));
    saw_instruction = true;
    if (ins.kind == Kind::kFrom) {
      Stage st;
      st.index = static_cast<int>(df.stages.size());
      st.name = ins.As<FromArgs>().name;
      st.from = std::move(ins);
      df.stages.push_back(std::move(st));
    } else if (df.stages.empty()) {
      if (ins.kind != Kind::kArg) {
        return Fail(Error::Syntax(
            ins.loc, fmt::format("{} must come after a FROM instruction: no build stage in current context",
                                 KindName(ins.kind))));
      }
      df.meta_args.push_back(std::move(ins));
    } else {
      df.stages.back().instructions.push_back(std::move(ins));
    }
  }
  if (!saw_instruction) {
    SourceLoc loc;
    loc.file = df.file;
    return Fail(Error::Syntax(loc, "file with no instructions"));
  }
  if (df.stages.empty()) {
    SourceLoc loc;
    loc.file = df.file;
    return Fail(Error::Syntax(loc, "dockerfile contains no stages to build"));
  }
  return df;
}

}  // namespace kiln::dockerfile
