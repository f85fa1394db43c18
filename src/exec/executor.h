#pragma once

// Running one build step (a RUN instruction) in a container. The solver
// calls Executor::Run for each step; NewRuncExecutor returns the real
// implementation, which drives runc over an overlayfs rootfs (see
// docs/formats/exec-runtime-spec.md for the generated config.json).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln::exec {

// One extra mount for a step (RUN --mount, secrets, caches).
struct MountSpec {
  enum class Kind { kBind, kTmpfs };
  Kind kind = Kind::kBind;
  std::string source;  // host path (bind); ignored for tmpfs
  std::string target;  // absolute path inside the container, resolved in the rootfs
  bool readonly = true;
  std::vector<std::string> options;  // e.g. "size=64m" for tmpfs, "nosuid", "nodev", "noexec"
};

enum class Network {
  kDefault,  // the host's network here (kiln has no bridge/CNI)
  kNone,     // a fresh network namespace with only `lo` (up)
  kHost,     // the host's network namespace
};

struct RunSpec {
  // Unpacked layer dirs, top-most FIRST (overlay lowerdir order). At least one.
  std::vector<std::string> lowerdirs;
  // The step's writable layer and overlay's work dir: empty dirs on the same
  // filesystem, created by the caller. After Run, `upperdir` holds exactly
  // the step's changes: mount points kiln needs live in a separate tmpfs
  // layer and never reach it. The work dir can be reused after Run.
  std::string upperdir, workdir;
  std::vector<std::string> argv;  // already shell-wrapped by the caller
  std::vector<std::string> env;   // "K=V"; HOME and PATH get defaults if absent
  std::string cwd = "/";
  // "", "name", "uid", "uid:gid", "name:group", resolved from the rootfs's
  // /etc/passwd and /etc/group (never the host's).
  std::string user;
  std::string hostname = "kiln";
  Network network = Network::kDefault;
  std::vector<std::string> extra_hosts;  // "name:ip" (--add-host)
  uint64_t shm_size = 64 << 20;
  std::vector<std::string> ulimits;  // "nofile=1024:2048", "nproc=512"
  std::vector<MountSpec> mounts;
  // Live output: `stream` 1 = stdout, 2 = stderr. Called on the thread that
  // calls Run. May be empty.
  std::function<void(std::string_view chunk, int stream)> on_output;
};

// How the step's process ended. A non-zero exit is not an Error: the solver
// turns it into kStepFailed with the instruction's location.
struct RunResult {
  int exit_code = 0;  // 128 + signal when killed by a signal
  int signal = 0;
  bool operator==(const RunResult&) const = default;
};

class Executor {
 public:
  virtual ~Executor() = default;
  // Runs one step to completion and cleans up everything it mounted or
  // created outside `upperdir`, on success and on every failure path.
  // Errors: kInterrupted (SIGINT/SIGTERM or sys::Interrupt() during the
  // step; the container is killed first), kNotFound (runc missing, user or
  // group unknown), kInvalid (bad ulimit, relative paths), kIo (mounting,
  // runc itself failing). Thread-safe: steps may run in parallel.
  [[nodiscard]] virtual Result<RunResult> Run(const RunSpec& spec) = 0;
};

struct ExecOptions {
  // The runc binary; a bare name is looked up in PATH when the executor is
  // created.
  std::string runc = "runc";
  // runc's --root: container state. One per kiln root, e.g. <root>/runc.
  std::string state_dir = "/run/kiln/runc";
  // Per-step scratch (bundle, hosts files, overlay mount point). Each step
  // mounts a private tmpfs below it, so nothing written there (config.json
  // holds env values, which may be secrets) reaches the disk.
  std::string scratch_dir = "/run/kiln/steps";
  // Host resolv.conf copied into containers with the default/host network.
  std::string host_resolv_conf = "/etc/resolv.conf";
};

// The runc-backed executor. Errors: kNotFound with the hint
// `install it with "apt-get install runc"` when runc cannot be found;
// kIo when the state or scratch dir cannot be created.
[[nodiscard]] Result<std::unique_ptr<Executor>> NewRuncExecutor(ExecOptions options);

// Removes leftovers of a kiln that died mid-step (kill -9): every container
// in `runc --root <state_dir> list` that kiln created is killed and deleted,
// and every mount under `scratch_dir` is detached and the directories
// removed. Call once at start, before any step runs. Errors: kIo, with
// cleanup attempted for everything before returning the first error.
[[nodiscard]] Result<void> CleanupStale(const ExecOptions& options);

}  // namespace kiln::exec
