#include "compose/node.h"

#include <yaml-cpp/yaml.h>

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
// documents and alias cycles from exhausting memory or the stack.
constexpr int kMaxDepth = 200;
constexpr long kMaxNodes = 250'000;

class Converter {
 public:
  Converter(std::string_view file, std::string_view text) {
    auto source = std::make_shared<SourceText>();
    source->name = std::string(file);
    for (auto& line : Split(text, '\n')) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      source->lines.push_back(std::move(line));
    }
    source_ = std::move(source);
  }

  Pos Loc(const YAML::Mark& m) const {
    Pos pos;
    pos.source = source_;
    if (m.is_null()) return pos;
    pos.line = m.line + 1;
    pos.col = m.column + 1;
    return pos;
  }

  Result<Node> Convert(const YAML::Node& y, int depth) {
    if (depth > kMaxDepth) return Fail(Error::Syntax(Loc(y.Mark()), "YAML nesting is too deep"));
    if (++count_ > kMaxNodes)
      return Fail(Error::Syntax(Loc(y.Mark()), "YAML document expands to too many nodes"));
    Node out;
    out.loc = Loc(y.Mark());
    const std::string& tag = y.Tag();
    if (tag == "!reset" || tag == "!override") out.tag = tag;
    switch (y.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = Node::Kind::kNull;
        return out;
      case YAML::NodeType::Scalar:
        out.kind = Node::Kind::kScalar;
        out.scalar = y.Scalar();
        // yaml-cpp tags plain scalars "?" and quoted ones "!".
        out.plain = tag != "!";
        // yaml-cpp leaves a tagged plain `null` (`!reset null`) a scalar.
        if (!out.tag.empty() && (out.scalar == "null" || out.scalar == "~" || out.scalar.empty()))
          out.kind = Node::Kind::kNull;
        return out;
      case YAML::NodeType::Sequence:
        out.kind = Node::Kind::kSeq;
        for (const auto& item : y) {
          KILN_TRY_ASSIGN(Node n, Convert(item, depth + 1));
          out.seq.push_back(std::move(n));
        }
        return out;
      case YAML::NodeType::Map:
        out.kind = Node::Kind::kMap;
        return ConvertMap(y, std::move(out), depth);
    }
    return out;
  }

 private:
  Result<Node> ConvertMap(const YAML::Node& y, Node out, int depth) {
    std::vector<Node> merges;
    for (const auto& kv : y) {
      const YAML::Node& k = kv.first;
      Pos key_loc = Loc(k.Mark());
      if (!k.IsScalar()) return Fail(Error::Syntax(key_loc, "mapping keys must be strings"));
      if (k.Scalar() == "<<" && k.Tag() == "?") {
        KILN_TRY_ASSIGN(Node v, Convert(kv.second, depth + 1));
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
      if (out.FindEntry(k.Scalar()))
        return Fail(Error::Syntax(key_loc, fmt::format("duplicate key {}", Quote(k.Scalar()))));
      KILN_TRY_ASSIGN(Node v, Convert(kv.second, depth + 1));
      if (v.is_null() && kv.second.Mark().is_null()) v.loc = key_loc;
      out.map.push_back(MapEntry{k.Scalar(), key_loc, std::move(v)});
    }
    // Explicit keys win over merged ones; among merged maps the first wins.
    for (auto& m : merges) {
      for (auto& e : m.map) {
        if (!out.FindEntry(e.key)) out.map.push_back(std::move(e));
      }
    }
    return out;
  }

  std::shared_ptr<const SourceText> source_;
  long count_ = 0;
};

}  // namespace

Result<Node> ParseYaml(std::string_view file, std::string_view text) {
  Converter conv(file, text);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return Fail(Error::Syntax(conv.Loc(e.mark), e.msg));
  } catch (const std::exception& e) {
    return Fail(Error::Syntax(conv.Loc(YAML::Mark::null_mark()), e.what()));
  }
  try {
    KILN_TRY_ASSIGN(Node n, conv.Convert(root, 0));
    if (n.is_null()) {
      Node empty = Node::Map(n.loc);
      return empty;
    }
    return n;
  } catch (const YAML::Exception& e) {
    return Fail(Error::Syntax(conv.Loc(e.mark), e.msg));
  }
}

}  // namespace kiln::compose
