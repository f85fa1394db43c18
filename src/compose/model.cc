#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "base/strings.h"
#include "compose/compose_internal.h"
#include "compose/model_internal.h"

namespace kiln::compose::internal {
namespace {

const std::vector<std::string> kTopLevelKeys = {"version", "name",    "include", "services",
                                                "networks", "volumes", "secrets", "configs"};

const std::vector<std::string> kServiceKeys = {
    "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup",
    "cgroup_parent", "command", "configs", "container_name", "cpu_count", "cpu_percent",
    "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset",
    "credential_spec", "depends_on", "deploy", "develop", "device_cgroup_rules", "devices", "dns",
    "dns_opt", "dns_search", "domainname", "entrypoint", "env_file", "environment", "expose",
    "extends", "external_links", "extra_hosts", "gpus", "group_add", "healthcheck", "hostname",
    "image", "init", "ipc", "isolation", "labels", "label_file", "links", "logging",
    "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit",
    "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit",
    "platform", "ports", "post_start", "pre_stop", "privileged", "profiles", "provider",
    "pull_policy", "read_only", "restart", "runtime", "scale", "secrets", "security_opt",
    "shm_size", "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls",
    "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode", "uts", "volumes",
    "volumes_from", "working_dir"};

const std::vector<std::string> kBuildKeys = {
    "context", "dockerfile", "dockerfile_inline", "args", "ssh", "secrets", "cache_from",
    "cache_to", "additional_contexts", "extra_hosts", "isolation", "labels", "network",
    "no_cache", "pull", "shm_size", "tags", "target", "ulimits", "platforms", "privileged",
    "entitlements"};

const std::vector<std::string> kSecretKeys = {"file", "environment", "external", "name",
                                              "labels", "driver", "driver_opts",
                                              "template_driver"};

bool IsExtension(std::string_view key) { return StartsWith(key, "x-"); }

Error UnknownKey(const MapEntry& e, std::string_view path, const std::vector<std::string>& known) {
  return InvalidAt(e.key_loc, path, fmt::format("unknown key {}{}", Quote(e.key), DidYouMean(e.key, known)));
}

Result<void> CheckKeys(const Node& n, std::string_view path, const std::vector<std::string>& known) {
  for (const auto& e : n.map) {
    if (IsExtension(e.key)) continue;
    if (std::find(known.begin(), known.end(), e.key) == known.end())
      return Fail(UnknownKey(e, path, known));
  }
  return Ok();
}

Result<std::string> AsString(const Node& n, std::string_view path) {
  if (n.is_scalar()) return n.scalar;
  if (n.is_null()) return std::string();
  return Fail(InvalidAt(n.loc, path, "must be a string"));
}

Result<bool> AsBool(const Node& n, std::string_view path) {
  if (n.is_scalar()) {
    std::string v = ToLower(n.scalar);
    if (v == "true") return true;
    if (v == "false") return false;
  }
  if (n.is_null()) return false;
  return Fail(InvalidAt(n.loc, path, "must be a boolean (true or false)"));
}

Result<long long> AsInt(const Node& n, std::string_view path) {
  if (n.is_scalar() && !n.scalar.empty()) {
    try {
      size_t used = 0;
      long long v = std::stoll(n.scalar, &used, 0);
      if (used == n.scalar.size()) return v;
    } catch (const std::exception&) {
    }
  }
  return Fail(InvalidAt(n.loc, path, "must be an integer"));
}

Result<std::vector<std::string>> AsStringList(const Node& n, std::string_view path,
                                              bool allow_single = false) {
  std::vector<std::string> out;
  if (allow_single && n.is_scalar()) return std::vector<std::string>{n.scalar};
  if (n.is_null()) return out;
  if (!n.is_seq()) return Fail(InvalidAt(n.loc, path, "must be a list of strings"));
  for (size_t i = 0; i < n.seq.size(); ++i) {
    if (!n.seq[i].is_scalar()) return Fail(InvalidAt(n.seq[i].loc, PathIndex(path, i), "must be a string"));
    out.push_back(n.seq[i].scalar);
  }
  return out;
}

// A map of strings after NormalizeFile (null values kept as nullopt).
Result<std::vector<std::pair<std::string, std::optional<std::string>>>> AsStringMap(
    const Node& n, std::string_view path) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  if (n.is_null()) return out;
  if (!n.is_map()) return Fail(InvalidAt(n.loc, path, "must be a mapping or a list of \"KEY=VALUE\""));
  for (const auto& e : n.map) {
    if (e.value.is_null()) out.emplace_back(e.key, std::nullopt);
    else if (e.value.is_scalar()) out.emplace_back(e.key, e.value.scalar);
    else return Fail(InvalidAt(e.value.loc, PathJoin(path, e.key), "must be a string"));
  }
  return out;
}

Result<std::vector<SecretRef>> AsSecretRefs(const Node& n, std::string_view path) {
  std::vector<SecretRef> out;
  if (n.is_null()) return out;
  if (!n.is_seq()) return Fail(InvalidAt(n.loc, path, "must be a list"));
  for (size_t i = 0; i < n.seq.size(); ++i) {
    const Node& item = n.seq[i];
    std::string ip = PathIndex(path, i);
    SecretRef ref;
    ref.loc = item.loc;
    if (item.is_scalar()) {
      ref.source = item.scalar;
    } else if (item.is_map()) {
      KILN_TRY(CheckKeys(item, ip, {"source", "target", "uid", "gid", "mode"}));
      for (const auto& e : item.map) {
        std::string kp = PathJoin(ip, e.key);
        if (e.key == "source") { KILN_TRY_ASSIGN(ref.source, AsString(e.value, kp)); }
        else if (e.key == "target") { KILN_TRY_ASSIGN(ref.target, AsString(e.value, kp)); }
        else if (e.key == "uid") { KILN_TRY_ASSIGN(ref.uid, AsString(e.value, kp)); }
        else if (e.key == "gid") { KILN_TRY_ASSIGN(ref.gid, AsString(e.value, kp)); }
        else if (e.key == "mode") {
          KILN_TRY_ASSIGN(long long m, AsInt(e.value, kp));
          if (m < 0 || m > 07777) return Fail(InvalidAt(e.value.loc, kp, "must be a file mode such as 0400"));
          ref.mode = static_cast<int>(m);
        }
      }
      if (ref.source.empty()) return Fail(InvalidAt(item.loc, ip, "missing \"source\""));
    } else {
      return Fail(InvalidAt(item.loc, ip, "must be a secret name or a mapping"));
    }
    if (ref.target.empty()) ref.target = ref.source;
    out.push_back(std::move(ref));
  }
  return out;
}

Result<BuildSpec> ParseBuild(const Node& b, const std::string& bp, const Project& project) {
  BuildSpec spec;
  spec.loc = b.loc;
  if (!b.is_map()) return Fail(InvalidAt(b.loc, bp, "must be a path or a mapping"));
  KILN_TRY(CheckKeys(b, bp, kBuildKeys));
  for (const auto& e : b.map) {
    const Node& v = e.value;
    std::string kp = PathJoin(bp, e.key);
    const std::string& k = e.key;
    if (IsExtension(k)) continue;
    if (k == "context") { KILN_TRY_ASSIGN(spec.context, AsString(v, kp)); }
    else if (k == "dockerfile") { KILN_TRY_ASSIGN(spec.dockerfile, AsString(v, kp)); }
    else if (k == "dockerfile_inline") { KILN_TRY_ASSIGN(spec.dockerfile_inline, AsString(v, kp)); }
    else if (k == "args") {
      KILN_TRY_ASSIGN(auto args, AsStringMap(v, kp));
      for (auto& [key, val] : args) {
        if (val) {
          spec.args.emplace_back(key, *val);
        } else if (auto it = project.environment.find(key); it != project.environment.end()) {
          spec.args.emplace_back(key, it->second);
        }
      }
    } else if (k == "labels") {
      KILN_TRY_ASSIGN(auto labels, AsStringMap(v, kp));
      for (auto& [key, val] : labels) spec.labels.emplace_back(key, val.value_or(""));
    } else if (k == "additional_contexts") {
      KILN_TRY_ASSIGN(auto ctx, AsStringMap(v, kp));
      for (auto& [key, val] : ctx) spec.additional_contexts.emplace_back(key, val.value_or(""));
      for (const auto& c : v.map) {
        if (c.value.is_scalar() && StartsWith(c.value.scalar, "service:"))
          spec.service_contexts.push_back(ServiceContext{c.key, c.value.scalar.substr(8), c.value.loc});
      }
    } else if (k == "ssh") {
      if (v.is_map()) {
        for (const auto& s : v.map) {
          KILN_TRY_ASSIGN(std::string path, AsString(s.value, PathJoin(kp, s.key)));
          spec.ssh.push_back(path.empty() ? s.key : s.key + "=" + path);
        }
      } else {
        KILN_TRY_ASSIGN(spec.ssh, AsStringList(v, kp, /*allow_single=*/true));
      }
    } else if (k == "secrets") { KILN_TRY_ASSIGN(spec.secrets, AsSecretRefs(v, kp)); }
    else if (k == "cache_from") { KILN_TRY_ASSIGN(spec.cache_from, AsStringList(v, kp)); }
    else if (k == "cache_to") { KILN_TRY_ASSIGN(spec.cache_to, AsStringList(v, kp)); }
    else if (k == "tags") { KILN_TRY_ASSIGN(spec.tags, AsStringList(v, kp)); }
    else if (k == "platforms") { KILN_TRY_ASSIGN(spec.platforms, AsStringList(v, kp)); }
    else if (k == "entitlements") { KILN_TRY_ASSIGN(spec.entitlements, AsStringList(v, kp)); }
    else if (k == "extra_hosts") {
      if (v.is_map()) {
        for (const auto& h : v.map) {
          KILN_TRY_ASSIGN(std::string ip, AsString(h.value, PathJoin(kp, h.key)));
          spec.extra_hosts.push_back(h.key + "=" + ip);
        }
      } else {
        KILN_TRY_ASSIGN(auto hosts, AsStringList(v, kp));
        for (auto& h : hosts) {
          // "host:ip" is the older spelling of "host=ip".
          if (h.find('=') == std::string::npos) {
            Cut c = CutString(h, ':');
            if (c.found) h = std::string(c.first) + "=" + std::string(c.second);
          }
          spec.extra_hosts.push_back(h);
        }
      }
    } else if (k == "network") { KILN_TRY_ASSIGN(spec.network, AsString(v, kp)); }
    else if (k == "target") { KILN_TRY_ASSIGN(spec.target, AsString(v, kp)); }
    else if (k == "shm_size") { KILN_TRY_ASSIGN(spec.shm_size, AsString(v, kp)); }
    else if (k == "isolation") { KILN_TRY(AsString(v, kp)); }
    else if (k == "no_cache") { KILN_TRY_ASSIGN(spec.no_cache, AsBool(v, kp)); }
    else if (k == "pull") { KILN_TRY_ASSIGN(spec.pull, AsBool(v, kp)); }
    else if (k == "privileged") { KILN_TRY_ASSIGN(spec.privileged, AsBool(v, kp)); }
    else if (k == "ulimits") {
      if (!v.is_map()) return Fail(InvalidAt(v.loc, kp, "must be a mapping"));
      for (const auto& u : v.map) {
        std::string up = PathJoin(kp, u.key);
        Ulimit lim;
        lim.name = u.key;
        if (u.value.is_scalar()) {
          KILN_TRY_ASSIGN(lim.soft, AsInt(u.value, up));
          lim.hard = lim.soft;
          lim.single = true;
        } else if (u.value.is_map()) {
          KILN_TRY(CheckKeys(u.value, up, {"soft", "hard"}));
          const Node* soft = u.value.Find("soft");
          const Node* hard = u.value.Find("hard");
          if (!soft || !hard) return Fail(InvalidAt(u.value.loc, up, "needs both \"soft\" and \"hard\""));
          KILN_TRY_ASSIGN(lim.soft, AsInt(*soft, PathJoin(up, "soft")));
          KILN_TRY_ASSIGN(lim.hard, AsInt(*hard, PathJoin(up, "hard")));
        } else {
          return Fail(InvalidAt(u.value.loc, up, "must be a number or {soft, hard}"));
        }
        spec.ulimits.push_back(lim);
      }
    }
  }
  if (spec.context.empty()) spec.context = project.working_dir;
  if (spec.dockerfile.empty() && spec.dockerfile_inline.empty()) spec.dockerfile = "Dockerfile";
  if (!spec.dockerfile.empty() && !spec.dockerfile_inline.empty())
    return Fail(InvalidAt(b.loc, bp, "dockerfile and dockerfile_inline are mutually exclusive"));
  return spec;
}

Result<Service> ParseService(const MapEntry& se, const Project& project) {
  Service svc;
  svc.name = se.key;
  svc.loc = se.key_loc;
  std::string sp = PathJoin("services", se.key);
  const Node& n = se.value;
  if (!n.is_map()) return Fail(InvalidAt(n.loc, sp, "must be a mapping"));
  KILN_TRY(CheckKeys(n, sp, kServiceKeys));
  for (const auto& e : n.map) {
    std::string kp = PathJoin(sp, e.key);
    const Node& v = e.value;
    if (e.key == "image") { KILN_TRY_ASSIGN(svc.image, AsString(v, kp)); }
    else if (e.key == "build") { KILN_TRY_ASSIGN(svc.build, ParseBuild(v, kp, project)); }
    else if (e.key == "profiles") { KILN_TRY_ASSIGN(svc.profiles, AsStringList(v, kp)); }
    else if (e.key == "secrets") { KILN_TRY_ASSIGN(svc.secrets, AsSecretRefs(v, kp)); }
    else if (e.key == "environment") {
      KILN_TRY_ASSIGN(svc.environment, AsStringMap(v, kp));
      // `- NAME` takes its value from the project environment, if set.
      for (auto& [key, val] : svc.environment) {
        if (val) continue;
        if (auto it = project.environment.find(key); it != project.environment.end()) val = it->second;
      }
    }
    else if (e.key == "labels") {
      KILN_TRY_ASSIGN(auto labels, AsStringMap(v, kp));
      for (auto& [key, val] : labels) svc.labels.emplace_back(key, val.value_or(""));
    } else if (e.key == "depends_on") {
      if (!v.is_map()) return Fail(InvalidAt(v.loc, kp, "must be a list of services or a mapping"));
      for (const auto& d : v.map) {
        std::string dp = PathJoin(kp, d.key);
        Dependency dep;
        dep.service = d.key;
        if (d.value.is_map()) {
          KILN_TRY(CheckKeys(d.value, dp, {"condition", "required", "restart"}));
          if (const Node* c = d.value.Find("condition")) {
            KILN_TRY_ASSIGN(dep.condition, AsString(*c, PathJoin(dp, "condition")));
            static const std::vector<std::string> kConditions = {
                "service_started", "service_healthy", "service_completed_successfully"};
            if (std::find(kConditions.begin(), kConditions.end(), dep.condition) == kConditions.end()) {
              return Fail(InvalidAt(c->loc, PathJoin(dp, "condition"),
                                    fmt::format("unknown condition {}{}", Quote(dep.condition),
                                                DidYouMean(dep.condition, kConditions))));
            }
          }
          if (const Node* r = d.value.Find("required")) {
            KILN_TRY_ASSIGN(dep.required, AsBool(*r, PathJoin(dp, "required")));
          }
          if (const Node* r = d.value.Find("restart")) {
            KILN_TRY_ASSIGN(dep.restart, AsBool(*r, PathJoin(dp, "restart")));
          }
        } else if (!d.value.is_null()) {
          return Fail(InvalidAt(d.value.loc, dp, "must be a mapping"));
        }
        svc.depends_on.push_back(dep);
      }
    } else if (e.key == "ports" && !v.is_null()) {
      KILN_TRY_ASSIGN(Node ports, LongSyntaxPorts(v, kp));
      svc.other.push_back(MapEntry{e.key, e.key_loc, std::move(ports)});
    } else if (e.key == "volumes" && !v.is_null()) {
      KILN_TRY_ASSIGN(Node volumes, LongSyntaxVolumes(v, kp, project.environment));
      svc.other.push_back(MapEntry{e.key, e.key_loc, std::move(volumes)});
    } else {
      svc.other.push_back(e);
    }
  }
  if (!svc.build && svc.image.empty())
    return Fail(InvalidAt(se.key_loc, sp, "has neither an image nor a build context specified"));
  svc.image_name = svc.image.empty() ? project.name + "-" + svc.name : svc.image;
  return svc;
}

Result<SecretDef> ParseSecret(const MapEntry& se, const Project& project) {
  SecretDef def;
  def.name = se.key;
  def.loc = se.key_loc;
  std::string sp = PathJoin("secrets", se.key);
  const Node& n = se.value;
  if (!n.is_map()) return Fail(InvalidAt(n.loc, sp, "must be a mapping with file, environment or external"));
  KILN_TRY(CheckKeys(n, sp, kSecretKeys));
  for (const auto& e : n.map) {
    std::string kp = PathJoin(sp, e.key);
    if (e.key == "file") { KILN_TRY_ASSIGN(def.file, AsString(e.value, kp)); }
    else if (e.key == "environment") { KILN_TRY_ASSIGN(def.environment, AsString(e.value, kp)); }
    else if (e.key == "external") {
      // Older files write `external: {name: x}`.
      if (e.value.is_map()) {
        def.external = true;
        if (const Node* nm = e.value.Find("name")) {
          KILN_TRY_ASSIGN(def.name_override, AsString(*nm, kp));
        }
      } else {
        KILN_TRY_ASSIGN(def.external, AsBool(e.value, kp));
      }
    } else if (e.key == "name") { KILN_TRY_ASSIGN(def.name_override, AsString(e.value, kp)); }
  }
  int sources = (def.file.empty() ? 0 : 1) + (def.environment.empty() ? 0 : 1) + (def.external ? 1 : 0);
  if (sources == 0)
    return Fail(InvalidAt(se.key_loc, sp, "needs one of \"file\", \"environment\" or \"external\""));
  if (sources > 1)
    return Fail(InvalidAt(se.key_loc, sp, "\"file\", \"environment\" and \"external\" are mutually exclusive"));
  return def;
}

// One dependency of a service: a depends_on entry or a `service:` context.
struct Edge {
  std::string to;
  std::string path;  // the key path that declares it, for errors
  SourceLoc loc;
  bool required = true;
  bool context = false;  // a `service:` context: the build reads `to`'s image
};

std::vector<std::string> Names(const std::vector<Service>& services) {
  std::vector<std::string> out;
  for (const auto& s : services) out.push_back(s.name);
  return out;
}

// Checks what only makes sense once everything is known: secret references,
// external/unsupported settings for builds.
Result<void> CheckService(const Service& svc, const Project& project, Diagnostics& diag) {
  std::string sp = PathJoin("services", svc.name);
  std::vector<std::string> secret_names;
  for (const auto& s : project.secrets) secret_names.push_back(s.name);
  for (size_t i = 0; i < svc.secrets.size(); ++i) {
    const SecretRef& r = svc.secrets[i];
    if (!project.FindSecret(r.source))
      return Fail(InvalidAt(r.loc, PathIndex(PathJoin(sp, "secrets"), i),
                            fmt::format("undefined secret {}{}", Quote(r.source), DidYouMean(r.source, secret_names))));
  }
  // Named volumes must be declared at the top level, as docker compose
  // requires (anonymous volumes and binds need not).
  for (const auto& e : svc.other) {
    if (e.key != "volumes" || !e.value.is_seq()) continue;
    std::vector<std::string> declared;
    for (const auto& v : project.volumes.map) declared.push_back(v.key);
    for (size_t i = 0; i < e.value.seq.size(); ++i) {
      const Node& v = e.value.seq[i];
      const Node* type = v.Find("type");
      const Node* source = v.Find("source");
      if (!type || type->scalar != "volume" || !source || !source->is_scalar() || source->scalar.empty()) continue;
      if (!project.volumes.Find(source->scalar))
        return Fail(InvalidAt(v.loc, PathIndex(PathJoin(sp, "volumes"), i),
                              fmt::format("undefined volume {}{}", Quote(source->scalar),
                                          DidYouMean(source->scalar, declared))));
    }
  }
  if (!svc.build) return Ok();
  const BuildSpec& b = *svc.build;
  std::string bp = PathJoin(sp, "build");
  for (size_t i = 0; i < b.secrets.size(); ++i) {
    const SecretRef& r = b.secrets[i];
    std::string ip = PathIndex(PathJoin(bp, "secrets"), i);
    const SecretDef* def = project.FindSecret(r.source);
    if (!def)
      return Fail(InvalidAt(r.loc, ip, fmt::format("undefined secret {}{}", Quote(r.source), DidYouMean(r.source, secret_names))));
    if (def->external)
      return Fail(InvalidAt(r.loc, ip,
                            fmt::format("secret {} is external, which is not supported for builds: "
                                        "give it a \"file\" or an \"environment\" source",
                                        Quote(r.source))));
    if (r.uid || r.gid || r.mode)
      diag.Warn(Warning{"ComposeBuildSecretOptions",
                        fmt::format("{}: secrets uid, gid and mode are not supported by BuildKit, "
                                    "they will be ignored",
                                    ip),
                        r.loc});
  }
  for (size_t i = 0; i < b.platforms.size(); ++i) {
    if (b.platforms[i] != HostPlatform())
      return Fail(InvalidAt(b.loc, PathIndex(PathJoin(bp, "platforms"), i),
                            fmt::format("platform {} is not supported: kiln builds only for the "
                                        "host platform {}",
                                        Quote(b.platforms[i]), Quote(HostPlatform()))));
  }
  if (b.privileged)
    return Fail(InvalidAt(b.loc, PathJoin(bp, "privileged"),
                          "kiln does not run privileged builds; remove \"privileged: true\""));
  if (!b.entitlements.empty())
    return Fail(InvalidAt(b.loc, PathJoin(bp, "entitlements"),
                          fmt::format("kiln does not grant build entitlements ({})",
                                      Join(b.entitlements, ", "))));
  return Ok();
}

// Rejects a cycle of `service:` contexts, which no build order could
// satisfy, naming the services around it at its first edge. (depends_on
// only orders containers, which kiln does not start.)
Result<void> CheckNoCycle(const std::vector<std::string>& names,
                          const std::map<std::string, std::vector<Edge>>& edges) {
  std::map<std::string, int> state;  // absent: unvisited, 1: on the stack, 2: done
  std::vector<std::pair<std::string, const Edge*>> stack;
  std::function<Result<void>(const std::string&)> visit = [&](const std::string& name) -> Result<void> {
    state[name] = 1;
    for (const auto& e : edges.at(name)) {
      if (!e.context) continue;
      stack.emplace_back(name, &e);
      if (state[e.to] == 1) {
        size_t first = 0;
        while (stack[first].first != e.to) ++first;
        std::vector<std::string> cycle;
        for (size_t i = first; i < stack.size(); ++i) cycle.push_back(stack[i].first);
        cycle.push_back(e.to);
        const Edge& at = *stack[first].second;
        return Fail(InvalidAt(at.loc, at.path, fmt::format("dependency cycle: {}", Join(cycle, " -> "))));
      }
      if (state[e.to] == 0) KILN_TRY(visit(e.to));
      stack.pop_back();
    }
    state[name] = 2;
    return Ok();
  };
  for (const auto& n : names)
    if (state[n] == 0) KILN_TRY(visit(n));
  return Ok();
}

}  // namespace

std::string HostPlatform() {
#if defined(__x86_64__)
  return "linux/amd64";
#elif defined(__aarch64__)
  return "linux/arm64";
#else
  return "linux/unknown";
#endif
}

Result<void> BuildModel(Node root, const std::vector<std::string>& selected, Project& project,
                        Diagnostics& diag) {
  KILN_TRY(CheckKeys(root, "", kTopLevelKeys));
  if (const MapEntry* v = root.FindEntry("version")) {
    diag.Warn(Warning{"ComposeVersionObsolete",
                      "the attribute \"version\" is obsolete, it will be ignored, please remove it "
                      "to avoid potential confusion",
                      v->key_loc});
  }
  for (const char* section : {"networks", "volumes", "configs"}) {
    Node* n = root.Find(section);
    if (!n) continue;
    if (!n->is_map() && !n->is_null()) return Fail(InvalidAt(n->loc, section, "must be a mapping"));
    Node& dst = section[0] == 'n' ? project.networks : section[0] == 'v' ? project.volumes : project.configs;
    dst = std::move(*n);
  }
  if (const Node* s = root.Find("secrets")) {
    if (!s->is_map() && !s->is_null()) return Fail(InvalidAt(s->loc, "secrets", "must be a mapping"));
    for (const auto& e : s->map) {
      KILN_TRY_ASSIGN(SecretDef def, ParseSecret(e, project));
      project.secrets.push_back(std::move(def));
    }
  }
  std::vector<Service> all;
  const Node* services = root.Find("services");
  if (services && !services->is_map() && !services->is_null())
    return Fail(InvalidAt(services->loc, "services", "must be a mapping"));
  if (services) {
    for (const auto& e : services->map) {
      KILN_TRY_ASSIGN(Service svc, ParseService(e, project));
      all.push_back(std::move(svc));
    }
  }
  std::vector<std::string> names = Names(all);
  auto find = [&](const std::string& name) -> const Service* {
    for (const auto& s : all)
      if (s.name == name) return &s;
    return nullptr;
  };
  // Every service's dependencies: depends_on entries and the services its
  // build reads (`service:` contexts), each checked to exist.
  std::map<std::string, std::vector<Edge>> edges;
  for (const auto& svc : all) {
    std::vector<Edge>& out = edges[svc.name];
    std::string sp = PathJoin("services", svc.name);
    for (const auto& dep : svc.depends_on) {
      const Node* d = services->Find(svc.name)->Find("depends_on");
      const MapEntry* de = d ? d->FindEntry(dep.service) : nullptr;
      out.push_back(Edge{dep.service, PathJoin(sp, "depends_on"), de ? SourceLoc(de->key_loc) : svc.loc,
                         dep.required});
    }
    if (svc.build) {
      for (const auto& c : svc.build->service_contexts)
        out.push_back(Edge{c.service, PathJoin(PathJoin(PathJoin(sp, "build"), "additional_contexts"), c.context),
                           c.loc, true, true});
    }
    for (const auto& e : out) {
      if (!find(e.to))
        return Fail(InvalidAt(e.loc, e.path, fmt::format("undefined service {}{}", Quote(e.to), DidYouMean(e.to, names))));
    }
  }
  KILN_TRY(CheckNoCycle(names, edges));

  // Profiles and selection: named services are enabled whatever their
  // profiles, then dependencies of enabled services are pulled in.
  std::set<std::string> enabled;
  bool all_profiles = std::find(project.profiles.begin(), project.profiles.end(), "*") != project.profiles.end();
  for (const auto& name : selected) {
    if (!find(name))
      return Fail(Error::Invalid(fmt::format("no such service: {}{}", Quote(name), DidYouMean(name, names))));
    enabled.insert(name);
  }
  if (selected.empty()) {
    for (const auto& svc : all) {
      bool on = svc.profiles.empty() || all_profiles;
      for (const auto& p : svc.profiles)
        if (std::find(project.profiles.begin(), project.profiles.end(), p) != project.profiles.end()) on = true;
      if (on) enabled.insert(svc.name);
    }
  }
  std::vector<std::string> queue(enabled.begin(), enabled.end());
  while (!queue.empty()) {
    std::string name = queue.back();
    queue.pop_back();
    for (const auto& dep : edges[name]) {
      if (enabled.count(dep.to)) continue;
      const Service* d = find(dep.to);
      if (!selected.empty() || d->profiles.empty()) {
        enabled.insert(dep.to);
        queue.push_back(dep.to);
        continue;
      }
      if (!dep.required) continue;
      return Fail(InvalidAt(dep.loc, dep.path,
                            fmt::format("service {} depends on {}, which is not enabled by the "
                                        "active profiles (enable one of its profiles: {})",
                                        Quote(name), Quote(dep.to), Join(d->profiles, ", "))));
    }
  }
  for (auto& svc : all) {
    if (enabled.count(svc.name)) {
      KILN_TRY(CheckService(svc, project, diag));
      project.services.push_back(std::move(svc));
    } else {
      project.disabled_services.push_back(svc.name);
    }
  }
  return Ok();
}

}  // namespace kiln::compose::internal
