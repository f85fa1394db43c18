#pragma once

// Generating the OCI runtime spec (runc's config.json) for a build step.
// Pure functions: no I/O. The format and every default are described in
// docs/formats/exec-runtime-spec.md.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "exec/user.h"

namespace kiln::exec {

// One entry of the spec's "mounts". `destination` is a canonical container
// path (the executor resolves it inside the rootfs first).
struct SpecMount {
  std::string destination;
  std::string type;  // "bind", "tmpfs", "proc", ...
  std::string source;
  std::vector<std::string> options;
  bool operator==(const SpecMount&) const = default;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t soft = 0, hard = 0;
  bool operator==(const Rlimit&) const = default;
};

// Parses a docker --ulimit value: "nofile=1024:2048", "nproc=512" (soft =
// hard), "core=-1" (unlimited). Errors (kInvalid), e.g.
//   invalid ulimit "nofile": expected <type>=<soft>[:<hard>]
//   invalid ulimit "bogus=1": unknown type "bogus"
//   invalid ulimit "nofile=10:5": soft limit 10 is above hard limit 5
[[nodiscard]] Result<Rlimit> ParseUlimit(std::string_view text);

struct SpecInput {
  std::string rootfs;  // host path of the mounted rootfs
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  ExecUser user;
  std::string hostname = "kiln";
  // kHost shares the host's network namespace; kNew asks runc for a fresh
  // one, or joins `netns_path` when set (a namespace kiln prepared).
  enum class Net { kHost, kNew } net = Net::kHost;
  std::string netns_path;
  // All mounts in order: StandardMounts() first, then kiln's files and the
  // step's own mounts.
  std::vector<SpecMount> mounts;
  std::vector<Rlimit> rlimits;
};

// Docker's default capability set, in Docker's order.
const std::vector<std::string>& DefaultCapabilities();

// /proc, /dev (tmpfs), /dev/pts, /dev/shm (of `shm_size` bytes),
// /dev/mqueue and /sys (read-only), as Docker sets them up.
std::vector<SpecMount> StandardMounts(uint64_t shm_size);

// The config.json document for `in`.
nlohmann::json BuildRuntimeSpec(const SpecInput& in);

}  // namespace kiln::exec
