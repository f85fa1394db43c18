#include "exec/runtime_spec.h"

#include <charconv>
#include <map>

#include "base/strings.h"

namespace kiln::exec {
namespace {

const std::map<std::string, std::string, std::less<>>& UlimitTypes() {
  static const auto* types = new std::map<std::string, std::string, std::less<>>{
      {"as", "RLIMIT_AS"},           {"core", "RLIMIT_CORE"},       {"cpu", "RLIMIT_CPU"},
      {"data", "RLIMIT_DATA"},       {"fsize", "RLIMIT_FSIZE"},     {"locks", "RLIMIT_LOCKS"},
      {"memlock", "RLIMIT_MEMLOCK"}, {"msgqueue", "RLIMIT_MSGQUEUE"}, {"nice", "RLIMIT_NICE"},
      {"nofile", "RLIMIT_NOFILE"},   {"nproc", "RLIMIT_NPROC"},     {"rss", "RLIMIT_RSS"},
      {"rtprio", "RLIMIT_RTPRIO"},   {"rttime", "RLIMIT_RTTIME"},   {"sigpending", "RLIMIT_SIGPENDING"},
      {"stack", "RLIMIT_STACK"},
  };
  return *types;
}

// "-1" is unlimited (RLIM_INFINITY), as docker accepts.
bool ParseLimit(std::string_view s, uint64_t* out) {
  if (s == "-1") {
    *out = UINT64_MAX;
    return true;
  }
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

Result<Rlimit> ParseUlimit(std::string_view text) {
  auto bad = [&](std::string why) {
    return Fail(Error::Invalid(fmt::format("invalid ulimit {}: {}", Quote(text), why)));
  };
  Cut kv = CutString(text, '=');
  if (!kv.found || kv.first.empty() || kv.second.empty()) return bad("expected <type>=<soft>[:<hard>]");
  auto it = UlimitTypes().find(kv.first);
  if (it == UlimitTypes().end()) return bad(fmt::format("unknown type {}", Quote(kv.first)));
  Cut sh = CutString(kv.second, ':');
  Rlimit r{it->second, 0, 0};
  if (!ParseLimit(sh.first, &r.soft)) return bad(fmt::format("invalid number {}", Quote(sh.first)));
  r.hard = r.soft;
  if (sh.found && !ParseLimit(sh.second, &r.hard))
    return bad(fmt::format("invalid number {}", Quote(sh.second)));
  if (r.soft > r.hard)
    return bad(fmt::format("soft limit {} is above hard limit {}", sh.first, sh.second));
  return r;
}

const std::vector<std::string>& DefaultCapabilities() {
  static const auto* caps = new std::vector<std::string>{
      "CAP_CHOWN",       "CAP_DAC_OVERRIDE",     "CAP_FSETID",     "CAP_FOWNER",
      "CAP_MKNOD",       "CAP_NET_RAW",          "CAP_SETGID",     "CAP_SETUID",
      "CAP_SETFCAP",     "CAP_SETPCAP",          "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",        "CAP_AUDIT_WRITE",
  };
  return *caps;
}

std::vector<SpecMount> StandardMounts(uint64_t shm_size) {
  return {
      {"/proc", "proc", "proc", {"nosuid", "noexec", "nodev"}},
      {"/dev", "tmpfs", "tmpfs", {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", "devpts",
       {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {"/dev/shm", "tmpfs", "shm",
       {"nosuid", "noexec", "nodev", "mode=1777", fmt::format("size={}", shm_size)}},
      {"/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}},
      {"/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}},
  };
}

nlohmann::json BuildRuntimeSpec(const SpecInput& in) {
  using nlohmann::json;
  json caps = DefaultCapabilities();
  json process = {
      {"terminal", false},
      {"user", {{"uid", in.user.uid}, {"gid", in.user.gid}}},
      {"args", in.args},
      {"env", in.env},
      {"cwd", in.cwd},
      {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
      // Build steps may run setuid programs (sudo, su), as with docker build.
      {"noNewPrivileges", false},
  };
  if (!in.user.additional_gids.empty()) process["user"]["additionalGids"] = in.user.additional_gids;
  if (!in.rlimits.empty()) {
    json limits = json::array();
    for (const auto& r : in.rlimits) limits.push_back({{"type", r.type}, {"soft", r.soft}, {"hard", r.hard}});
    process["rlimits"] = std::move(limits);
  }

  json mounts = json::array();
  for (const auto& m : in.mounts) {
    json j = {{"destination", m.destination}, {"type", m.type}, {"source", m.source}};
    if (!m.options.empty()) j["options"] = m.options;
    mounts.push_back(std::move(j));
  }

  json namespaces = json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
  if (in.net == SpecInput::Net::kNew) {
    json ns = {{"type", "network"}};
    if (!in.netns_path.empty()) ns["path"] = in.netns_path;
    namespaces.push_back(std::move(ns));
  }

  json linux_section = {
      {"namespaces", std::move(namespaces)},
      // Default devices (null, zero, full, random, urandom, tty) are added
      // by runc; everything else is denied.
      {"resources", {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}}},
      {"maskedPaths",
       {"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
        "/sys/firmware", "/sys/devices/virtual/powercap"}},
      {"readonlyPaths",
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };

  return {
      {"ociVersion", "1.0.2"},
      {"process", std::move(process)},
      {"root", {{"path", in.rootfs}, {"readonly", false}}},
      {"hostname", in.hostname},
      {"mounts", std::move(mounts)},
      {"linux", std::move(linux_section)},
  };
}

}  // namespace kiln::exec
