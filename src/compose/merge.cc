// Per-file normalisation, interpolation of the YAML tree and compose's merge
// rules for several files, extends and include.

#include <algorithm>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "compose/compose_internal.h"

namespace kiln::compose::internal {

std::string PathJoin(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return fmt::format("{}.{}", parent, key);
}

std::string PathIndex(std::string_view parent, size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

Error InvalidAt(const SourceLoc& loc, std::string_view path, std::string_view msg) {
  Error e = Error::Invalid(path.empty() ? std::string(msg) : fmt::format("{}: {}", path, msg));
  if (loc.known()) e.At(loc);
  return e;
}

namespace {

Result<void> InterpolateRec(Node& node, const std::string& path, const Lookup& lookup,
                            const std::function<void(const std::string&, const Pos&)>& on_unset) {
  switch (node.kind) {
    case Node::Kind::kScalar: {
      if (node.scalar.find('$') == std::string::npos) return Ok();
      auto v = Interpolate(node.scalar, lookup, [&](const std::string& name) { on_unset(name, node.loc); });
      if (!v) {
        Error e = Error::Syntax(node.loc, fmt::format("{}: {}", path, v.error().message));
        return Fail(std::move(e));
      }
      if (*v != node.scalar) {
        node.scalar = std::move(*v);
        // An interpolated value is a string, even if it now reads "1".
        node.plain = false;
      }
      return Ok();
    }
    case Node::Kind::kMap:
      for (auto& e : node.map) KILN_TRY(InterpolateRec(e.value, PathJoin(path, e.key), lookup, on_unset));
      return Ok();
    case Node::Kind::kSeq:
      for (size_t i = 0; i < node.seq.size(); ++i)
        KILN_TRY(InterpolateRec(node.seq[i], PathIndex(path, i), lookup, on_unset));
      return Ok();
    case Node::Kind::kNull:
      return Ok();
  }
  return Ok();
}

bool IsAbsolute(std::string_view p) { return !p.empty() && p[0] == '/'; }

std::string Resolve(const std::string& base, std::string_view p) {
  if (IsAbsolute(p)) return CleanPath(p);
  return CleanPath(JoinPath(base, p));
}

// "KEY=VAL" / "KEY" list entries into a map; values become strings.
Result<void> ListToMap(Node& n, const std::string& path, char sep = '=') {
  if (n.is_map()) {
    for (auto& e : n.map) {
      if (e.value.is_scalar()) {
        e.value.plain = false;
      } else if (!e.value.is_null()) {
        return Fail(InvalidAt(e.value.loc, PathJoin(path, e.key), "must be a string, number or boolean"));
      }
    }
    return Ok();
  }
  if (!n.is_seq()) return Ok();  // wrong types are reported by the model.
  Node m = Node::Map(n.loc);
  for (size_t i = 0; i < n.seq.size(); ++i) {
    Node& item = n.seq[i];
    if (!item.is_scalar())
      return Fail(InvalidAt(item.loc, PathIndex(path, i), "must be a string \"KEY=VALUE\""));
    Cut c = CutString(item.scalar, sep);
    std::string key(c.first);
    if (key.empty()) return Fail(InvalidAt(item.loc, PathIndex(path, i), "empty variable name"));
    if (c.found) {
      m.Set(key, Node::Scalar(std::string(c.second), item.loc, false), item.loc);
    } else {
      Node null;
      null.loc = item.loc;
      m.Set(key, std::move(null), item.loc);
    }
  }
  n = std::move(m);
  return Ok();
}

bool IsLocalPathLike(std::string_view s) {
  return StartsWith(s, "./") || StartsWith(s, "../") || s == "." || s == "..";
}

}  // namespace

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string lower = ToLower(word);
  int limit = std::max<int>(word.size() <= 2 ? 1 : 2, static_cast<int>(word.size()) / 3);
  int best = limit + 1;
  std::string found;
  for (const auto& c : candidates) {
    int d = EditDistance(lower, ToLower(c), limit);
    if (d < best) {
      best = d;
      found = c;
    }
  }
  if (found.empty() && word.size() >= 3) {
    for (const auto& c : candidates) {
      if (StartsWith(c, word)) {
        found = c;
        break;
      }
    }
  }
  return found.empty() ? std::string() : fmt::format(" (did you mean {}?)", Quote(found));
}

bool IsRemoteContext(std::string_view s) {
  return s.find("://") != std::string_view::npos || StartsWith(s, "git@") ||
         StartsWith(s, "github.com/");
}

Result<void> InterpolateTree(Node& node, std::string_view path, const Lookup& lookup,
                             Diagnostics& diag) {
  std::set<std::string> warned;
  std::function<void(const std::string&, const Pos&)> on_unset = [&](const std::string& name,
                                                                      const Pos& pos) {
    if (!warned.insert(name).second) return;
    diag.Warn(Warning{"ComposeVariableNotSet",
                      fmt::format("The \"{}\" variable is not set. Defaulting to a blank string.", name),
                      pos});
  };
  return InterpolateRec(node, std::string(path), lookup, on_unset);
}

Result<void> NormalizeFile(Node& root, const std::string& base_dir, bool default_context) {
  if (!root.is_map()) return Ok();
  if (Node* services = root.Find("services"); services && services->is_map()) {
    for (auto& se : services->map) {
      Node& svc = se.value;
      std::string sp = PathJoin("services", se.key);
      if (!svc.is_map()) continue;
      for (const char* key : {"environment", "labels", "annotations", "sysctls"})
        if (Node* n = svc.Find(key)) KILN_TRY(ListToMap(*n, PathJoin(sp, key)));
      if (Node* deps = svc.Find("depends_on"); deps && deps->is_seq()) {
        Node m = Node::Map(deps->loc);
        for (size_t i = 0; i < deps->seq.size(); ++i) {
          Node& d = deps->seq[i];
          if (!d.is_scalar())
            return Fail(InvalidAt(d.loc, PathIndex(PathJoin(sp, "depends_on"), i), "must be a service name"));
          Node cond = Node::Map(d.loc);
          cond.Set("condition", Node::Scalar("service_started", d.loc, true));
          cond.Set("required", Node::Scalar("true", d.loc, true));
          m.Set(d.scalar, std::move(cond), d.loc);
        }
        *deps = std::move(m);
      }
      if (Node* b = svc.Find("build")) {
        if (b->is_scalar()) {
          Node m = Node::Map(b->loc);
          m.Set("context", *b, b->loc);
          *b = std::move(m);
        }
        if (b->is_map()) {
          std::string bp = PathJoin(sp, "build");
          for (const char* key : {"args", "labels", "additional_contexts"})
            if (Node* n = b->Find(key)) KILN_TRY(ListToMap(*n, PathJoin(bp, key)));
          Node* ctx = b->Find("context");
          if (!ctx && default_context && !b->Find("dockerfile_inline") && b->tag.empty())
            b->Set("context", Node::Scalar(base_dir, b->loc, false));
          if (ctx && ctx->is_scalar() && !IsRemoteContext(ctx->scalar))
            ctx->scalar = Resolve(base_dir, ctx->scalar);
          if (Node* ac = b->Find("additional_contexts"); ac && ac->is_map()) {
            for (auto& e : ac->map) {
              if (!e.value.is_scalar()) continue;
              const std::string& v = e.value.scalar;
              if (IsRemoteContext(v) || v.find(':') != std::string::npos) continue;
              e.value.scalar = Resolve(base_dir, v);
            }
          }
        }
      }
      if (Node* ef = svc.Find("env_file")) {
        if (ef->is_scalar()) {
          ef->scalar = Resolve(base_dir, ef->scalar);
        } else if (ef->is_seq()) {
          for (auto& item : ef->seq) {
            if (item.is_scalar()) item.scalar = Resolve(base_dir, item.scalar);
            else if (Node* p = item.is_map() ? item.Find("path") : nullptr; p && p->is_scalar())
              p->scalar = Resolve(base_dir, p->scalar);
          }
        }
      }
      if (Node* vols = svc.Find("volumes"); vols && vols->is_seq()) {
        for (auto& v : vols->seq) {
          if (v.is_scalar()) {
            Cut c = CutString(v.scalar, ':');
            if (c.found && IsLocalPathLike(c.first))
              v.scalar = Resolve(base_dir, c.first) + ":" + std::string(c.second);
          } else if (v.is_map()) {
            Node* type = v.Find("type");
            Node* src = v.Find("source");
            if (type && type->is_scalar() && type->scalar == "bind" && src && src->is_scalar() &&
                !IsAbsolute(src->scalar) && !StartsWith(src->scalar, "~"))
              src->scalar = Resolve(base_dir, src->scalar);
          }
        }
      }
    }
  }
  for (const char* section : {"secrets", "configs"}) {
    Node* s = root.Find(section);
    if (!s || !s->is_map()) continue;
    for (auto& e : s->map) {
      if (!e.value.is_map()) continue;
      if (Node* f = e.value.Find("file"); f && f->is_scalar()) f->scalar = Resolve(base_dir, f->scalar);
    }
  }
  return Ok();
}

bool NodeEquals(const Node& a, const Node& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Node::Kind::kNull: return true;
    case Node::Kind::kScalar: return a.scalar == b.scalar;
    case Node::Kind::kSeq:
      if (a.seq.size() != b.seq.size()) return false;
      for (size_t i = 0; i < a.seq.size(); ++i)
        if (!NodeEquals(a.seq[i], b.seq[i])) return false;
      return true;
    case Node::Kind::kMap:
      if (a.map.size() != b.map.size()) return false;
      for (const auto& e : a.map) {
        const Node* o = b.Find(e.key);
        if (!o || !NodeEquals(e.value, *o)) return false;
      }
      return true;
  }
  return false;
}

namespace {

enum class SeqRule { kAppendUnique, kReplace, kByVolumeTarget, kBySource };

SeqRule RuleFor(const std::string& path) {
  if (path == "services.*.command" || path == "services.*.entrypoint" ||
      path == "services.*.healthcheck.test")
    return SeqRule::kReplace;
  if (path == "services.*.volumes") return SeqRule::kByVolumeTarget;
  if (path == "services.*.secrets" || path == "services.*.configs" ||
      path == "services.*.build.secrets")
    return SeqRule::kBySource;
  return SeqRule::kAppendUnique;
}

std::string VolumeTarget(const Node& v) {
  if (v.is_scalar()) {
    std::vector<std::string> parts = Split(v.scalar, ':');
    return parts.size() >= 2 ? parts[1] : parts[0];
  }
  if (const Node* t = v.is_map() ? v.Find("target") : nullptr; t && t->is_scalar()) return t->scalar;
  return {};
}

std::string SecretSource(const Node& v) {
  if (v.is_scalar()) return v.scalar;
  if (const Node* s = v.is_map() ? v.Find("source") : nullptr; s && s->is_scalar()) return s->scalar;
  return {};
}

void MergeSeq(Node& base, Node over, SeqRule rule) {
  if (rule == SeqRule::kReplace) {
    base = std::move(over);
    return;
  }
  for (auto& item : over.seq) {
    bool replaced = false;
    for (auto& existing : base.seq) {
      bool same = false;
      if (rule == SeqRule::kByVolumeTarget) same = VolumeTarget(existing) == VolumeTarget(item);
      else if (rule == SeqRule::kBySource) same = SecretSource(existing) == SecretSource(item);
      else same = NodeEquals(existing, item);
      if (same) {
        existing = item;
        replaced = true;
        break;
      }
    }
    if (!replaced) base.seq.push_back(std::move(item));
  }
}

}  // namespace

void MergeInto(Node& base, Node over, const std::string& path) {
  if (over.tag == "!override" || base.kind != over.kind || over.is_scalar() || over.is_null()) {
    over.tag.clear();
    base = std::move(over);
    return;
  }
  if (over.is_seq()) {
    MergeSeq(base, std::move(over), RuleFor(path));
    return;
  }
  for (auto& e : over.map) {
    std::string child = path == "services" ? "services.*" : PathJoin(path, e.key);
    if (e.value.tag == "!reset") {
      base.Erase(e.key);
      continue;
    }
    Node* existing = base.Find(e.key);
    if (!existing) {
      Node v = std::move(e.value);
      if (v.tag == "!override") v.tag.clear();
      base.map.push_back(MapEntry{e.key, e.key_loc, std::move(v)});
      continue;
    }
    MergeInto(*existing, std::move(e.value), child);
  }
}

}  // namespace kiln::compose::internal
