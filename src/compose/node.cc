#include "compose/node.h"

#include <yaml.h>

#include <map>
#include <memory>

#include "base/strings.h"

namespace kiln::compose {

Pos::operator SourceLoc() const {
  SourceLoc loc;
  if (!source) return loc;
  loc.file = source->name;
  loc.line = line;
  loc.col = col;
  if (line > 0 && line <= static_cast<int>(source->lines.size())) loc.line_text = source->lines[line - 1];
  return loc;
}

const MapEntry* Node::FindEntry(std::string_view key) const {
  for (const auto& e : map)
    if (e.key == key) return &e;
  return nullptr;
}

const Node* Node::Find(std::string_view key) const {
  const MapEntry* e = FindEntry(key);
  return e ? &e->value : nullptr;
}

Node* Node::Find(std::string_view key) {
  for (auto& e : map)
    if (e.key == key) return &e.value;
  return nullptr;
}

bool Node::Erase(std::string_view key) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->key == key) {
      map.erase(it);
      return true;
    }
  }
  return false;
}

void Node::Set(std::string key, Node value, Pos key_loc) {
  for (auto& e : map) {
    if (e.key == key) {
      e.value = std::move(value);
      return;
    }
  }
  map.push_back(MapEntry{std::move(key), std::move(key_loc), std::move(value)});
}

Node Node::Scalar(std::string text, Pos loc, bool plain) {
  Node n;
  n.kind = Kind::kScalar;
  n.scalar = std::move(text);
  n.plain = plain;
  n.loc = std::move(loc);
  return n;
}

Node Node::Map(Pos loc) {
  Node n;
  n.kind = Kind::kMap;
  n.loc = std::move(loc);
  return n;
}

Node Node::Seq(Pos loc) {
  Node n;
  n.kind = Kind::kSeq;
  n.loc = std::move(loc);
  return n;
}

namespace {

// Aliases are expanded into copies; these bounds stop "billion laughs"
// documents and deep nesting from exhausting memory or the stack.
constexpr int kMaxDepth = 200;
constexpr long kMaxNodes = 250'000;

long CountNodes(const Node& n) {
  long c = 1;
  for (const auto& e : n.map) c += CountNodes(e.value);
  for (const auto& i : n.seq) c += CountNodes(i);
  return c;
}

// One libyaml event, freed on destruction.
class Event {
 public:
  Event() = default;
  ~Event() {
    if (valid_) yaml_event_delete(&ev_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  yaml_event_t* get() { return &ev_; }
  const yaml_event_t& operator*() const { return ev_; }
  const yaml_event_t* operator->() const { return &ev_; }
  void set_valid() { valid_ = true; }

 private:
  yaml_event_t ev_{};
  bool valid_ = false;
};

// Builds a Node tree from libyaml's event stream. libyaml is used rather
// than yaml-cpp because it is about 25 times faster here (see
// bench/compose), and events give us styles, tags and marks directly.
class Builder {
 public:
  Builder(std::string_view file, std::string_view text) : text_(text) {
    auto source = std::make_shared<SourceText>();
    source->name = std::string(file);
    for (auto& line : Split(text, '\n')) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      source->lines.push_back(std::move(line));
    }
    source_ = std::move(source);
    yaml_parser_initialize(&parser_);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text_.data()),
                                 text_.size());
  }
  ~Builder() { yaml_parser_delete(&parser_); }
  Builder(const Builder&) = delete;
  Builder& operator=(const Builder&) = delete;

  Result<Node> Run() {
    Event ev;
    KILN_TRY(Next(ev));  // STREAM-START
    Event doc;
    KILN_TRY(Next(doc));
    if (doc->type == YAML_STREAM_END_EVENT) return Node::Map(At(doc->start_mark));
    Event first;
    KILN_TRY(Next(first));
    KILN_TRY_ASSIGN(Node root, Build(first, 0));
    Event end;
    KILN_TRY(Next(end));  // DOCUMENT-END
    Event more;
    KILN_TRY(Next(more));
    if (more->type == YAML_DOCUMENT_START_EVENT)
      return Fail(Error::Syntax(At(more->start_mark), "a compose file must hold a single YAML document"));
    if (root.is_null()) return Node::Map(root.loc);
    return root;
  }

 private:
  Pos At(const yaml_mark_t& m) const {
    Pos pos;
    pos.source = source_;
    pos.line = static_cast<int>(m.line) + 1;
    pos.col = static_cast<int>(m.column) + 1;
    return pos;
  }

  Result<void> Next(Event& ev) {
    if (!yaml_parser_parse(&parser_, ev.get())) {
      std::string msg = parser_.problem ? parser_.problem : "invalid YAML";
      if (parser_.context) msg = fmt::format("{} ({})", msg, parser_.context);
      return Fail(Error::Syntax(At(parser_.problem_mark), std::move(msg)));
    }
    ev.set_valid();
    return Ok();
  }

  static std::string Str(const yaml_char_t* s) {
    return s ? std::string(reinterpret_cast<const char*>(s)) : std::string();
  }

  Result<void> Count(long n, const yaml_mark_t& m) {
    count_ += n;
    if (count_ > kMaxNodes)
      return Fail(Error::Syntax(At(m), "YAML document expands to too many nodes"));
    return Ok();
  }

  // Builds the node that starts with `ev` (already read).
  Result<Node> Build(Event& ev, int depth) {
    if (depth > kMaxDepth) return Fail(Error::Syntax(At(ev->start_mark), "YAML nesting is too deep"));
    Node out;
    out.loc = At(ev->start_mark);
    std::string anchor;
    switch (ev->type) {
      case YAML_ALIAS_EVENT: {
        std::string name = Str(ev->data.alias.anchor);
        auto it = anchors_.find(name);
        if (it == anchors_.end())
          return Fail(Error::Syntax(out.loc, fmt::format("undefined alias {}", Quote(name))));
        KILN_TRY(Count(it->second.second, ev->start_mark));
        return it->second.first;
      }
      case YAML_SCALAR_EVENT: {
        KILN_TRY(Count(1, ev->start_mark));
        anchor = Str(ev->data.scalar.anchor);
        std::string tag = Str(ev->data.scalar.tag);
        if (tag == "!reset" || tag == "!override") out.tag = tag;
        out.kind = Node::Kind::kScalar;
        out.scalar.assign(reinterpret_cast<const char*>(ev->data.scalar.value), ev->data.scalar.length);
        out.plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && (tag.empty() || !out.tag.empty());
        if (out.plain && (out.scalar.empty() || out.scalar == "~" || out.scalar == "null" ||
                          out.scalar == "Null" || out.scalar == "NULL")) {
          out.kind = Node::Kind::kNull;
          out.scalar.clear();
        }
        break;
      }
      case YAML_SEQUENCE_START_EVENT: {
        KILN_TRY(Count(1, ev->start_mark));
        anchor = Str(ev->data.sequence_start.anchor);
        std::string tag = Str(ev->data.sequence_start.tag);
        if (tag == "!reset" || tag == "!override") out.tag = tag;
        out.kind = Node::Kind::kSeq;
        while (true) {
          Event item;
          KILN_TRY(Next(item));
          if (item->type == YAML_SEQUENCE_END_EVENT) break;
          KILN_TRY_ASSIGN(Node n, Build(item, depth + 1));
          out.seq.push_back(std::move(n));
        }
        break;
      }
      case YAML_MAPPING_START_EVENT: {
        KILN_TRY(Count(1, ev->start_mark));
        anchor = Str(ev->data.mapping_start.anchor);
        std::string tag = Str(ev->data.mapping_start.tag);
        if (tag == "!reset" || tag == "!override") out.tag = tag;
        out.kind = Node::Kind::kMap;
        KILN_TRY(BuildMap(out, depth));
        break;
      }
      default:
        return Fail(Error::Syntax(out.loc, "unexpected YAML event"));
    }
    if (!anchor.empty()) anchors_[anchor] = {out, CountNodes(out)};
    return out;
  }

  Result<void> BuildMap(Node& out, int depth) {
    std::vector<Node> merges;
    while (true) {
      Event key;
      KILN_TRY(Next(key));
      if (key->type == YAML_MAPPING_END_EVENT) break;
      Pos key_loc = At(key->start_mark);
      bool merge = key->type == YAML_SCALAR_EVENT && key->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
                   key->data.scalar.length == 2 &&
                   std::string_view(reinterpret_cast<const char*>(key->data.scalar.value), 2) == "<<";
      KILN_TRY_ASSIGN(Node k, Build(key, depth + 1));
      if (!k.is_scalar() && !k.is_null()) return Fail(Error::Syntax(key_loc, "mapping keys must be strings"));
      Event value;
      KILN_TRY(Next(value));
      KILN_TRY_ASSIGN(Node v, Build(value, depth + 1));
      if (merge) {
        if (v.is_map()) {
          merges.push_back(std::move(v));
        } else if (v.is_seq()) {
          for (auto& item : v.seq) {
            if (!item.is_map())
              return Fail(Error::Syntax(item.loc, "merge key \"<<\" needs a mapping or a list of mappings"));
            merges.push_back(std::move(item));
          }
        } else {
          return Fail(Error::Syntax(v.loc, "merge key \"<<\" needs a mapping or a list of mappings"));
        }
        continue;
      }
      if (out.FindEntry(k.scalar))
        return Fail(Error::Syntax(key_loc, fmt::format("duplicate key {}", Quote(k.scalar))));
      // A missing value (`key:`) points at the key.
      if (v.is_null() && v.scalar.empty() && v.loc.line == 0) v.loc = key_loc;
      out.map.push_back(MapEntry{std::move(k.scalar), key_loc, std::move(v)});
    }
    // Explicit keys win over merged ones; among merged maps the first wins.
    for (auto& m : merges) {
      for (auto& e : m.map) {
        if (!out.FindEntry(e.key)) out.map.push_back(std::move(e));
      }
    }
    return Ok();
  }

  std::string_view text_;
  std::shared_ptr<const SourceText> source_;
  yaml_parser_t parser_;
  std::map<std::string, std::pair<Node, long>> anchors_;
  long count_ = 0;
};

}  // namespace

Result<Node> ParseYaml(std::string_view file, std::string_view text) {
  Builder builder(file, text);
  return builder.Run();
}

}  // namespace kiln::compose
