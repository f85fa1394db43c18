// services.*.ports and services.*.volumes in docker compose's long syntax,
// as `docker compose config` prints them. The short forms follow the
// docker CLI's rules: "[ip:][host[-range]:]container[-range][/proto]" for
// ports, "[source:]target[:options]" for volumes.

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "base/fs.h"
#include "base/strings.h"
#include "compose/compose_internal.h"

namespace kiln::compose::internal {
namespace {

Node Plain(std::string s, const Pos& loc) { return Node::Scalar(std::move(s), loc, /*plain=*/true); }
Node Quoted(std::string s, const Pos& loc) { return Node::Scalar(std::move(s), loc, /*plain=*/false); }

struct PortRange {
  unsigned start = 0, end = 0;
};

// "80" or "8000-8010".
bool ParseRange(std::string_view s, PortRange& out) {
  auto number = [](std::string_view n, unsigned& v) {
    if (n.empty()) return false;
    auto [p, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
    return ec == std::errc() && p == n.data() + n.size() && v <= 65535;
  };
  Cut c = CutString(s, '-');
  if (!number(c.first, out.start)) return false;
  out.end = out.start;
  if (c.found && !number(c.second, out.end)) return false;
  return out.end >= out.start;
}

bool ValidIp(const std::string& ip) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, ip.c_str(), buf) == 1 || inet_pton(AF_INET6, ip.c_str(), buf) == 1;
}

Result<void> ShortPort(const Node& item, const std::string& path, Node& out) {
  const std::string& spec = item.scalar;
  auto bad = [&](std::string msg) { return Fail(InvalidAt(item.loc, path, msg)); };
  // ip:host:container, where ip may itself hold colons (IPv6).
  std::vector<std::string> parts = Split(spec, ':');
  std::string container = parts.back(), host, ip;
  if (parts.size() >= 2) host = parts[parts.size() - 2];
  if (parts.size() >= 3) ip = Join(std::vector<std::string>(parts.begin(), parts.end() - 2), ":");
  std::string proto = "tcp";
  if (Cut c = CutString(container, '/'); c.found) {
    if (!c.second.empty()) proto = ToLower(c.second);
    container = std::string(c.first);
  }
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  if (!ip.empty() && !ValidIp(ip))
    return bad(fmt::format("invalid IP address {} in port {}", Quote(ip), Quote(spec)));
  if (container.empty()) return bad(fmt::format("no container port in {}", Quote(spec)));
  PortRange target, published;
  if (!ParseRange(container, target)) return bad(fmt::format("invalid container port {}", Quote(container)));
  if (!host.empty() && !ParseRange(host, published))
    return bad(fmt::format("invalid host port {}", Quote(host)));
  bool target_range = target.end != target.start;
  if (!host.empty() && target_range && published.end - published.start != target.end - target.start)
    return bad(fmt::format("port ranges {} and {} differ in length", Quote(host), Quote(container)));
  if (proto != "tcp" && proto != "udp" && proto != "sctp")
    return bad(fmt::format("invalid protocol {} (want tcp, udp or sctp)", Quote(proto)));
  // One entry per container port. Like docker compose, entries are sorted
  // as the strings "port/proto" (so 100 comes before 99).
  std::vector<std::pair<std::string, Node>> entries;
  for (unsigned i = 0; i <= target.end - target.start; ++i) {
    Node m = Node::Map(item.loc);
    m.Set("mode", Plain("ingress", item.loc));
    if (!ip.empty()) m.Set("host_ip", Quoted(ip, item.loc));
    m.Set("target", Plain(std::to_string(target.start + i), item.loc));
    if (!host.empty()) {
      // A host range with a single container port is a range to pick from.
      std::string pub = target_range || published.start == published.end
                            ? std::to_string(published.start + i)
                            : fmt::format("{}-{}", published.start, published.end);
      m.Set("published", Quoted(pub, item.loc));
    }
    m.Set("protocol", Plain(proto, item.loc));
    entries.emplace_back(fmt::format("{}/{}", target.start + i, proto), std::move(m));
  }
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [key, m] : entries) out.seq.push_back(std::move(m));
  return Ok();
}

// A mapping's entries in `order` first, then the rest as written; values of
// the keys in `flags` that read "false" are dropped (Go's omitempty).
Node Ordered(const Node& n, const std::vector<std::string>& order,
             const std::vector<std::string>& flags = {}) {
  Node out = Node::Map(n.loc);
  auto add = [&](const MapEntry& e) {
    bool flag = std::find(flags.begin(), flags.end(), e.key) != flags.end();
    if (flag && e.value.is_scalar() && ToLower(e.value.scalar) == "false") return;
    out.map.push_back(e);
  };
  for (const auto& k : order)
    if (const MapEntry* e = n.FindEntry(k)) add(*e);
  for (const auto& e : n.map)
    if (std::find(order.begin(), order.end(), e.key) == order.end()) add(e);
  return out;
}

Result<void> CheckMapKeys(const Node& n, const std::string& path, const std::vector<std::string>& known) {
  for (const auto& e : n.map) {
    if (StartsWith(e.key, "x-") || std::find(known.begin(), known.end(), e.key) != known.end()) continue;
    return Fail(
        InvalidAt(e.key_loc, path, fmt::format("unknown key {}{}", Quote(e.key), DidYouMean(e.key, known))));
  }
  return Ok();
}

const std::vector<std::string> kPortKeys = {"name",      "mode",     "host_ip",     "target",
                                            "published", "protocol", "app_protocol"};
const std::vector<std::string> kVolumeKeys = {"type", "source", "target", "read_only", "consistency",
                                              "bind", "volume", "tmpfs",  "image"};
const std::vector<std::string> kVolumeTypes = {"bind", "volume", "tmpfs", "image", "npipe", "cluster"};

Result<void> LongPort(const Node& item, const std::string& path, Node& out) {
  KILN_TRY(CheckMapKeys(item, path, kPortKeys));
  const Node* target = item.Find("target");
  if (!target) return Fail(InvalidAt(item.loc, path, "missing \"target\""));
  PortRange r;
  if (!target->is_scalar() || !ParseRange(target->scalar, r) || r.start != r.end)
    return Fail(InvalidAt(target->loc, PathJoin(path, "target"), "must be a port number"));
  Node m = item;
  m.Find("target")->plain = true;
  if (!m.Find("mode")) m.Set("mode", Plain("ingress", item.loc));
  if (!m.Find("protocol")) m.Set("protocol", Plain("tcp", item.loc));
  // published is a string ("8080" or "8000-8010") however it is written.
  if (Node* p = m.Find("published"); p && p->is_scalar()) p->plain = false;
  out.seq.push_back(Ordered(m, kPortKeys));
  return Ok();
}

std::string ExpandHome(const std::string& path, const Environment& env) {
  if (path != "~" && !StartsWith(path, "~/")) return path;
  auto home = env.find("HOME");
  if (home == env.end() || home->second.empty()) return path;
  return CleanPath(home->second + path.substr(1));
}

Result<void> ShortVolume(const Node& item, const std::string& path, const Environment& env, Node& out) {
  const std::string& spec = item.scalar;
  auto bad = [&](std::string msg) { return Fail(InvalidAt(item.loc, path, msg)); };
  if (spec.empty()) return bad("empty volume");
  if (spec.size() <= 2) {
    // As docker compose does: a one- or two-character spec is a target.
    Node m = Node::Map(item.loc);
    m.Set("type", Plain("volume", item.loc));
    m.Set("target", Quoted(spec, item.loc));
    out.seq.push_back(std::move(m));
    return Ok();
  }
  std::string source, target, options;
  std::vector<std::string> parts = Split(spec, ':');
  if (parts.size() > 3) return bad(fmt::format("too many colons in {}", Quote(spec)));
  for (const auto& p : parts)
    if (p.empty()) return bad(fmt::format("empty section between colons in {}", Quote(spec)));
  if (parts.size() == 1)
    target = parts[0];
  else
    source = parts[0], target = parts[1];
  if (parts.size() == 3) options = parts[2];
  source = ExpandHome(source, env);
  bool bind = !source.empty() && (source[0] == '.' || source[0] == '/' || source[0] == '~');
  bool read_only = false, nocopy = false;
  std::string propagation, selinux;
  for (const auto& o : Split(options, ',')) {
    if (o == "ro")
      read_only = true;
    else if (o == "rw")
      read_only = false;
    else if (o == "nocopy")
      nocopy = true;
    else if (o == "z" || o == "Z")
      selinux = o;
    else if (o == "rprivate" || o == "private" || o == "rshared" || o == "shared" || o == "rslave" ||
             o == "slave")
      propagation = o;
    // Other options are ignored, as docker compose does.
  }
  Node m = Node::Map(item.loc);
  m.Set("type", Plain(bind ? "bind" : "volume", item.loc));
  if (!source.empty()) m.Set("source", Quoted(source, item.loc));
  m.Set("target", Quoted(target, item.loc));
  if (read_only) m.Set("read_only", Plain("true", item.loc));
  if (bind || !propagation.empty() || !selinux.empty()) {
    Node b = Node::Map(item.loc);
    if (!propagation.empty()) b.Set("propagation", Plain(propagation, item.loc));
    // Short-syntax binds create a missing host path (docker-compose v1's
    // behaviour, kept by docker compose).
    if (bind) b.Set("create_host_path", Plain("true", item.loc));
    if (!selinux.empty()) b.Set("selinux", Plain(selinux, item.loc));
    m.Set("bind", std::move(b));
  }
  if (!bind || nocopy) {
    Node v = Node::Map(item.loc);
    if (nocopy) v.Set("nocopy", Plain("true", item.loc));
    m.Set("volume", std::move(v));
  }
  out.seq.push_back(std::move(m));
  return Ok();
}

Result<void> LongVolume(const Node& item, const std::string& path, const Environment& env, Node& out) {
  KILN_TRY(CheckMapKeys(item, path, kVolumeKeys));
  const Node* type = item.Find("type");
  if (!type) return Fail(InvalidAt(item.loc, path, "missing \"type\""));
  if (!type->is_scalar() ||
      std::find(kVolumeTypes.begin(), kVolumeTypes.end(), type->scalar) == kVolumeTypes.end())
    return Fail(
        InvalidAt(type->loc, PathJoin(path, "type"),
                  fmt::format("unknown volume type {}{}", Quote(type->is_scalar() ? type->scalar : ""),
                              DidYouMean(type->is_scalar() ? type->scalar : "", kVolumeTypes))));
  Node m = item;
  if (Node* src = m.Find("source"); src && src->is_scalar() && type->scalar == "bind")
    src->scalar = ExpandHome(src->scalar, env);
  for (const char* key : {"bind", "volume", "tmpfs", "image"}) {
    Node* sub = m.Find(key);
    if (sub && !sub->is_map() && !sub->is_null())
      return Fail(InvalidAt(sub->loc, PathJoin(path, key), "must be a mapping"));
  }
  if (Node* b = m.Find("bind"); b && b->is_map())
    *b = Ordered(*b, {"propagation", "create_host_path", "selinux", "recursive"}, {"create_host_path"});
  if (Node* v = m.Find("volume"); v && v->is_map()) *v = Ordered(*v, {"nocopy", "subpath"}, {"nocopy"});
  if (Node* t = m.Find("tmpfs"); t && t->is_map()) *t = Ordered(*t, {"size", "mode"});
  out.seq.push_back(Ordered(m, kVolumeKeys, {"read_only"}));
  return Ok();
}

}  // namespace

Result<Node> LongSyntaxPorts(const Node& ports, const std::string& path) {
  if (!ports.is_seq()) return Fail(InvalidAt(ports.loc, path, "must be a list"));
  Node out = Node::Seq(ports.loc);
  for (size_t i = 0; i < ports.seq.size(); ++i) {
    const Node& item = ports.seq[i];
    std::string ip = PathIndex(path, i);
    if (item.is_scalar())
      KILN_TRY(ShortPort(item, ip, out));
    else if (item.is_map())
      KILN_TRY(LongPort(item, ip, out));
    else
      return Fail(InvalidAt(item.loc, ip, "must be a port (\"8080:80\") or a mapping"));
  }
  return out;
}

Result<Node> LongSyntaxVolumes(const Node& volumes, const std::string& path, const Environment& env) {
  if (!volumes.is_seq()) return Fail(InvalidAt(volumes.loc, path, "must be a list"));
  Node out = Node::Seq(volumes.loc);
  for (size_t i = 0; i < volumes.seq.size(); ++i) {
    const Node& item = volumes.seq[i];
    std::string ip = PathIndex(path, i);
    if (item.is_scalar())
      KILN_TRY(ShortVolume(item, ip, env, out));
    else if (item.is_map())
      KILN_TRY(LongVolume(item, ip, env, out));
    else
      return Fail(InvalidAt(item.loc, ip, "must be a volume (\"./data:/data\") or a mapping"));
  }
  return out;
}

}  // namespace kiln::compose::internal
