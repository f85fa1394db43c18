// RenderConfig: the normalised project as YAML, shaped like the output of
// `docker compose config` (keys in compose-go's order, maps sorted).

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "base/strings.h"
#include "compose/project.h"

namespace kiln::compose {
namespace {

// Length of the valid UTF-8 sequence at `s[i]`, or 0 if it is invalid.
size_t Utf8Len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
  if (n == 0 || (c >= 0xf0 && n != 4) || i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((b(i + k) & 0xc0) != 0x80) return 0;
  unsigned cp = n == 2 ? ((c & 0x1f) << 6) | (b(i + 1) & 0x3f)
              : n == 3 ? ((c & 0x0f) << 12) | ((b(i + 1) & 0x3f) << 6) | (b(i + 2) & 0x3f)
                       : ((c & 0x07) << 18) | ((b(i + 1) & 0x3f) << 12) | ((b(i + 2) & 0x3f) << 6) | (b(i + 3) & 0x3f);
  // Overlong forms, surrogates and out-of-range code points.
  if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

// Code points a YAML reader treats specially inside plain scalars: NEL,
// LINE/PARAGRAPH SEPARATOR and the byte order mark.
bool IsSpecialUnicode(std::string_view seq) {
  return seq == "\xc2\x85" || seq == "\xe2\x80\xa8" || seq == "\xe2\x80\xa9" || seq == "\xef\xbb\xbf";
}

// Whether `s` can be written as a literal block (`|`): printable text,
// tabs and newlines only.
bool SafeForLiteral(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) return false;
    size_t n = Utf8Len(s, i);
    if (n == 0 || (n > 1 && IsSpecialUnicode(s.substr(i, n)))) return false;
    i += n;
  }
  return true;
}

bool AllDigits(std::string_view s, std::string_view digits) {
  if (s.empty()) return false;
  for (char c : s)
    if (digits.find(c) == std::string_view::npos && c != '_') return false;
  return true;
}

// Whether a YAML 1.1/1.2 reader would take `s` for a bool, null or number.
bool LooksNonString(std::string_view s) {
  static const std::set<std::string> kWords = {"true", "false", "yes", "no", "on", "off", "null",
                                               "~", "y", "n", ".inf", "-.inf", "+.inf", ".nan"};
  if (kWords.count(ToLower(s))) return true;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  // YAML 1.1 reads "80:80" as a base-60 integer.
  if (s.find(':') != std::string_view::npos) {
    bool sexagesimal = true;
    for (const auto& part : Split(s, ':')) sexagesimal = sexagesimal && AllDigits(part, "0123456789");
    return sexagesimal;
  }
  if (StartsWith(s, "0x")) return AllDigits(s.substr(2), "0123456789abcdefABCDEF");
  if (StartsWith(s, "0o")) return AllDigits(s.substr(2), "01234567");
  // [digits][.digits][e[+-]digits] with at least one digit in the mantissa.
  size_t i = 0, mantissa = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i, ++mantissa;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++mantissa;
  }
  if (mantissa == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!AllDigits(s.substr(i), "0123456789")) return false;
    return true;
  }
  return i == s.size();
}

bool NeedsQuotes(std::string_view s, bool plain) {
  if (s.empty()) return true;
  if (!plain && LooksNonString(s)) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '\t') return true;
  if (std::string_view("-?:,[]{}#&*!|>'\"%@`").find(s.front()) != std::string_view::npos) {
    // "-x" and ":x" style values are fine plain unless followed by a space.
    if (!((s.front() == '-' || s.front() == '?' || s.front() == ':') && s.size() > 1 && s[1] != ' '))
      return true;
  }
  if (s.find(": ") != std::string_view::npos || s.find(" #") != std::string_view::npos) return true;
  if (s.back() == ':') return true;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    size_t n = Utf8Len(s, i);
    if (n == 0 || (n > 1 && IsSpecialUnicode(s.substr(i, n)))) return true;
    i += n;
  }
  return false;
}

// Invalid UTF-8 bytes become \xNN escapes (which YAML reads as U+00NN):
// the output stays valid YAML, at the price of changing such bytes.
std::string DoubleQuoted(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (static_cast<unsigned char>(c) >= 0x80) {
      size_t n = Utf8Len(s, i);
      if (n == 0) {
        out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      } else if (IsSpecialUnicode(s.substr(i, n))) {
        std::string_view seq = s.substr(i, n);
        out += seq == "\xc2\x85" ? "\\N" : seq == "\xe2\x80\xa8" ? "\\L" : seq == "\xe2\x80\xa9" ? "\\P" : "\\uFEFF";
        i += n - 1;
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else out += c;
    }
  }
  return out + "\"";
}

enum class KeyOrder { kSorted, kAsIs };

class Emitter {
 public:
  std::string Take() { return std::move(out_); }

  // "key: scalar" at `indent`.
  void Scalar(int indent, std::string_view key, std::string_view value, bool plain = false) {
    Key(indent, key);
    out_ += ' ';
    Value(indent, value, plain);
  }
  void Null(int indent, std::string_view key) {
    Key(indent, key);
    out_ += " null\n";
  }
  // "key:" opening a nested block.
  void Open(int indent, std::string_view key) {
    Key(indent, key);
    out_ += '\n';
  }
  void Item(int indent, std::string_view value, bool plain = false) {
    Pad(indent);
    out_ += "- ";
    Value(indent + 2, value, plain);
  }
  void StringList(int indent, std::string_view key, const std::vector<std::string>& items) {
    if (items.empty()) return;
    Open(indent, key);
    for (const auto& i : items) Item(indent + 2, i);
  }
  void StringMap(int indent, std::string_view key, const Pairs& pairs) {
    if (pairs.empty()) return;
    Open(indent, key);
    Pairs sorted = pairs;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [k, v] : sorted) Scalar(indent + 2, k, v);
  }

  // Any node; maps sorted by key like Go's encoder does for map types, or
  // kept in their order where they stand for Go structs.
  void Generic(int indent, std::string_view key, const Node& n, KeyOrder order = KeyOrder::kSorted) {
    switch (n.kind) {
      case Node::Kind::kNull:
        Null(indent, key);
        return;
      case Node::Kind::kScalar:
        Scalar(indent, key, n.scalar, n.plain);
        return;
      case Node::Kind::kSeq:
        if (n.seq.empty()) {
          Key(indent, key);
          out_ += " []\n";
          return;
        }
        Open(indent, key);
        for (const auto& item : n.seq) GenericItem(indent + 2, item, order);
        return;
      case Node::Kind::kMap:
        if (n.map.empty()) {
          Key(indent, key);
          out_ += " {}\n";
          return;
        }
        Open(indent, key);
        GenericMapBody(indent + 2, n, order);
        return;
    }
  }

  void GenericMapBody(int indent, const Node& n, KeyOrder order = KeyOrder::kSorted) {
    std::vector<const MapEntry*> entries;
    for (const auto& e : n.map) entries.push_back(&e);
    if (order == KeyOrder::kSorted)
      std::stable_sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->key < b->key; });
    for (const auto* e : entries) Generic(indent, e->key, e->value, order);
  }

  void GenericItem(int indent, const Node& n, KeyOrder order = KeyOrder::kSorted) {
    switch (n.kind) {
      case Node::Kind::kNull:
        Pad(indent);
        out_ += "- null\n";
        return;
      case Node::Kind::kScalar:
        Item(indent, n.scalar, n.plain);
        return;
      case Node::Kind::kSeq:
      case Node::Kind::kMap: {
        // Render the child at indent+2 and turn its first pad into "- ".
        size_t mark = out_.size();
        if (n.is_map()) {
          if (n.map.empty()) { Pad(indent); out_ += "- {}\n"; return; }
          GenericMapBody(indent + 2, n, order);
        } else {
          if (n.seq.empty()) { Pad(indent); out_ += "- []\n"; return; }
          for (const auto& item : n.seq) GenericItem(indent + 2, item, order);
        }
        out_[mark + indent] = '-';
        return;
      }
    }
  }

  // "- key: value", opening a mapping item.
  void ItemScalar(int indent, std::string_view key, std::string_view value) {
    Pad(indent);
    out_ += "- ";
    Key(0, key);
    out_ += ' ';
    Value(indent + 2, value, false);
  }

  void Pad(int indent) { out_.append(static_cast<size_t>(indent), ' '); }

 private:
  void Key(int indent, std::string_view key) {
    Pad(indent);
    out_ += NeedsQuotes(key, false) ? DoubleQuoted(key) : std::string(key);
    out_ += ':';
  }

  void Value(int indent, std::string_view raw, bool plain) {
    // Literal dollars are written as "$$" so the output is itself a valid
    // compose file, as docker compose config does.
    std::string escaped;
    if (raw.find('$') != std::string_view::npos) {
      for (char c : raw) {
        if (c == '$') escaped += '$';
        escaped += c;
      }
      raw = escaped;
    }
    std::string_view v = raw;
    bool multiline = v.find('\n') != std::string_view::npos;
    if (multiline && v.front() != ' ' && v.front() != '\n' && v.find("\n ") == std::string_view::npos &&
        SafeForLiteral(v)) {
      // A literal block, like yaml.v3 writes multi-line strings.
      std::string_view body = v;
      bool trailing = body.back() == '\n';
      if (trailing) body.remove_suffix(1);
      if (trailing && !body.empty() && body.back() == '\n') {
        out_ += DoubleQuoted(v);
        out_ += '\n';
        return;
      }
      out_ += trailing ? "|\n" : "|-\n";
      for (const auto& line : Split(body, '\n')) {
        if (!line.empty()) Pad(indent + 2);
        out_ += line;
        out_ += '\n';
      }
      return;
    }
    out_ += NeedsQuotes(v, plain) ? DoubleQuoted(v) : std::string(v);
    out_ += '\n';
  }

  std::string out_;
};

void RenderSecretRefs(Emitter& em, int indent, std::string_view key, const std::vector<SecretRef>& refs) {
  if (refs.empty()) return;
  em.Open(indent, key);
  for (const auto& r : refs) {
    em.ItemScalar(indent + 2, "source", r.source);
    if (r.target != r.source) em.Scalar(indent + 4, "target", r.target);
    if (r.uid) em.Scalar(indent + 4, "uid", *r.uid);
    if (r.gid) em.Scalar(indent + 4, "gid", *r.gid);
    if (r.mode) em.Scalar(indent + 4, "mode", fmt::format("0{:o}", *r.mode), true);
  }
}

void RenderBuild(Emitter& em, int indent, const BuildSpec& b) {
  em.Open(indent, "build");
  int i = indent + 2;
  em.Scalar(i, "context", b.context);
  if (!b.dockerfile.empty()) em.Scalar(i, "dockerfile", b.dockerfile);
  if (!b.dockerfile_inline.empty()) em.Scalar(i, "dockerfile_inline", b.dockerfile_inline);
  em.StringList(i, "entitlements", b.entitlements);
  em.StringMap(i, "args", b.args);
  em.StringList(i, "ssh", b.ssh);
  em.StringMap(i, "labels", b.labels);
  em.StringList(i, "cache_from", b.cache_from);
  em.StringList(i, "cache_to", b.cache_to);
  if (b.no_cache) em.Scalar(i, "no_cache", "true", true);
  em.StringMap(i, "additional_contexts", b.additional_contexts);
  if (b.pull) em.Scalar(i, "pull", "true", true);
  em.StringList(i, "extra_hosts", b.extra_hosts);
  if (!b.network.empty()) em.Scalar(i, "network", b.network);
  if (!b.target.empty()) em.Scalar(i, "target", b.target);
  RenderSecretRefs(em, i, "secrets", b.secrets);
  if (!b.shm_size.empty()) em.Scalar(i, "shm_size", b.shm_size, true);
  em.StringList(i, "tags", b.tags);
  if (!b.ulimits.empty()) {
    em.Open(i, "ulimits");
    std::vector<Ulimit> sorted = b.ulimits;
    std::sort(sorted.begin(), sorted.end(), [](const auto& x, const auto& y) { return x.name < y.name; });
    for (const auto& u : sorted) {
      if (u.single) {
        em.Scalar(i + 2, u.name, std::to_string(u.soft), true);
      } else {
        em.Open(i + 2, u.name);
        em.Scalar(i + 4, "soft", std::to_string(u.soft), true);
        em.Scalar(i + 4, "hard", std::to_string(u.hard), true);
      }
    }
  }
  em.StringList(i, "platforms", b.platforms);
  if (b.privileged) em.Scalar(i, "privileged", "true", true);
}

bool UsesDefaultNetwork(const Service& s) {
  for (const auto& e : s.other)
    if (e.key == "networks" || e.key == "network_mode") return false;
  return true;
}

void RenderService(Emitter& em, const Service& s) {
  int i = 4;
  // Modelled keys and the rest, in one alphabetical order.
  std::map<std::string, std::function<void()>> parts;
  if (s.build) parts["build"] = [&] { RenderBuild(em, i, *s.build); };
  if (!s.depends_on.empty()) {
    parts["depends_on"] = [&] {
      em.Open(i, "depends_on");
      std::vector<Dependency> deps = s.depends_on;
      std::sort(deps.begin(), deps.end(), [](const auto& a, const auto& b) { return a.service < b.service; });
      for (const auto& d : deps) {
        em.Open(i + 2, d.service);
        em.Scalar(i + 4, "condition", d.condition);
        if (d.restart) em.Scalar(i + 4, "restart", "true", true);
        em.Scalar(i + 4, "required", d.required ? "true" : "false", true);
      }
    };
  }
  if (!s.environment.empty()) {
    parts["environment"] = [&] {
      em.Open(i, "environment");
      auto env = s.environment;
      std::stable_sort(env.begin(), env.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      for (const auto& [k, v] : env) {
        if (v) em.Scalar(i + 2, k, *v);
        else em.Null(i + 2, k);
      }
    };
  }
  if (!s.image.empty()) parts["image"] = [&] { em.Scalar(i, "image", s.image); };
  if (!s.labels.empty()) parts["labels"] = [&] { em.StringMap(i, "labels", s.labels); };
  if (UsesDefaultNetwork(s)) {
    parts["networks"] = [&] {
      em.Open(i, "networks");
      em.Null(i + 2, "default");
    };
  }
  if (!s.profiles.empty()) parts["profiles"] = [&] { em.StringList(i, "profiles", s.profiles); };
  if (!s.secrets.empty()) parts["secrets"] = [&] { RenderSecretRefs(em, i, "secrets", s.secrets); };
  for (const auto& e : s.other) {
    if (StartsWith(e.key, "x-")) continue;
    // The loader wrote ports and volumes with compose-go's field order.
    KeyOrder order = e.key == "ports" || e.key == "volumes" ? KeyOrder::kAsIs : KeyOrder::kSorted;
    parts[e.key] = [&em, &e, i, order] { em.Generic(i, e.key, e.value, order); };
  }
  for (auto& [k, fn] : parts) fn();
}

// Top-level networks/volumes with compose's default names added.
void RenderResources(Emitter& em, std::string_view section, const Node& defined,
                     const std::string& project, bool add_default) {
  Node n = defined.is_map() ? defined : Node::Map();
  if (add_default && !n.Find("default")) n.Set("default", Node::Map());
  if (n.map.empty()) return;
  for (auto& e : n.map) {
    if (e.value.is_null()) e.value = Node::Map();
    if (!e.value.is_map()) continue;
    const Node* ext = e.value.Find("external");
    bool external = ext && ext->is_scalar() && ToLower(ext->scalar) == "true";
    if (!e.value.Find("name"))
      e.value.Set("name", Node::Scalar(external ? e.key : project + "_" + e.key));
  }
  em.Open(0, section);
  std::vector<const MapEntry*> entries;
  for (const auto& e : n.map) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->key < b->key; });
  for (const auto* e : entries) {
    em.Open(2, e->key);
    // "name" first, like compose-go's struct order.
    if (const Node* nm = e->value.Find("name")) em.Generic(4, "name", *nm);
    Node rest = e->value;
    rest.Erase("name");
    em.GenericMapBody(4, rest);
  }
}

}  // namespace

std::string RenderConfig(const Project& project) {
  Emitter em;
  em.Scalar(0, "name", project.name);
  std::vector<const Service*> services;
  for (const auto& s : project.services) services.push_back(&s);
  std::sort(services.begin(), services.end(), [](auto* a, auto* b) { return a->name < b->name; });
  bool default_net = false;
  if (!services.empty()) {
    em.Open(0, "services");
    for (const auto* s : services) {
      em.Open(2, s->name);
      RenderService(em, *s);
      if (UsesDefaultNetwork(*s)) default_net = true;
    }
  }
  RenderResources(em, "networks", project.networks, project.name, default_net);
  RenderResources(em, "volumes", project.volumes, project.name, false);
  if (!project.secrets.empty()) {
    em.Open(0, "secrets");
    std::vector<const SecretDef*> secrets;
    for (const auto& s : project.secrets) secrets.push_back(&s);
    std::sort(secrets.begin(), secrets.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const auto* s : secrets) {
      em.Open(2, s->name);
      std::string name = !s->name_override.empty() ? s->name_override
                         : s->external             ? s->name
                                                   : project.name + "_" + s->name;
      em.Scalar(4, "name", name);
      if (!s->file.empty()) em.Scalar(4, "file", s->file);
      if (!s->environment.empty()) em.Scalar(4, "environment", s->environment);
      if (s->external) em.Scalar(4, "external", "true", true);
    }
  }
  RenderResources(em, "configs", project.configs, project.name, false);
  return em.Take();
}

std::string RenderServiceNames(const Project& project) {
  std::vector<std::string> names;
  for (const auto& s : project.services) names.push_back(s.name);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const auto& n : names) out += n + "\n";
  return out;
}

}  // namespace kiln::compose
