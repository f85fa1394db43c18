#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/strings.h"
#include "exec/executor.h"
#include "exec/hosts.h"
#include "exec/mount_points_internal.h"
#include "exec/residue_internal.h"
#include "exec/runtime_spec.h"
#include "exec/user.h"
#include "sys/in_root.h"
#include "sys/interrupt.h"
#include "sys/mounts.h"
#include "sys/process.h"

namespace kiln::exec {
namespace {

constexpr std::string_view kIdPrefix = "kiln-";
constexpr std::string_view kDefaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

bool HasEnv(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (CutString(e, '=').first == key) return true;
  return false;
}

// The first error-level message in runc's JSON log, or "".
std::string RuncLogError(const std::string& log_path) {
  auto text = ReadFile(log_path);
  if (!text) return "";
  for (const auto& line : Split(*text, '\n')) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.value("level", "") == "error" && j.contains("msg") && j["msg"].is_string())
      return j["msg"].get<std::string>();
  }
  return "";
}

// A new network namespace with `lo` up, kept alive by a bind mount on the
// file `path`. Runs on a helper thread, since unshare(CLONE_NEWNET) changes
// only the calling thread's namespace.
Result<void> PrepareEmptyNetns(const std::string& path) {
  KILN_TRY(WriteFile(path, "", 0600));
  Result<void> result = Ok();
  std::thread t([&] {
    if (unshare(CLONE_NEWNET) < 0) {
      result = Fail(Error::Errno("unshare network namespace", errno));
      return;
    }
    Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr = {};
    std::snprintf(ifr.ifr_name, IFNAMSIZ, "lo");
    if (!sock.valid() || ioctl(sock.get(), SIOCGIFFLAGS, &ifr) < 0) {
      result = Fail(Error::Errno("loopback interface", errno));
      return;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock.get(), SIOCSIFFLAGS, &ifr) < 0) {
      result = Fail(Error::Errno("bringing up lo", errno));
      return;
    }
    result = sys::Mount("/proc/thread-self/ns/net", path, "", MS_BIND);
  });
  t.join();
  return result;
}

class RuncExecutor : public Executor {
 public:
  RuncExecutor(ExecOptions options, std::string runc_path)
      : options_(std::move(options)), runc_(std::move(runc_path)), runner_(sys::NewRealProcessRunner()) {}

  Result<RunResult> Run(const RunSpec& spec) override;

 private:
  // Everything a step set up, torn down in reverse by Cleanup().
  struct Step {
    std::string id;
    std::string dir;  // <scratch>/<id>, a private tmpfs
    bool dir_made = false;
    bool tmpfs_mounted = false;
    bool container_started = false;
    std::string workdir;  // set once the overlay is mounted
  };

  Result<RunResult> RunStep(const RunSpec& spec, Step& step, MountPointRecord& record);
  Result<void> Cleanup(Step& step);
  Result<sys::ProcessOutput> Runc(std::vector<std::string> args);

  ExecOptions options_;
  std::string runc_;
  std::unique_ptr<sys::ProcessRunner> runner_;
};

Result<sys::ProcessOutput> RuncExecutor::Runc(std::vector<std::string> args) {
  std::vector<std::string> argv = {runc_, "--root", options_.state_dir};
  argv.insert(argv.end(), args.begin(), args.end());
  return runner_->Run({argv, std::vector<std::string>{std::string(kDefaultPath)}});
}

Result<RunResult> RuncExecutor::Run(const RunSpec& spec) {
  // Step 1: validate everything that needs no system state.
  if (spec.lowerdirs.empty()) return Fail(Error::Invalid("a step needs at least one lower layer"));
  if (spec.argv.empty()) return Fail(Error::Invalid("a step needs a command"));
  for (const auto& p : {spec.upperdir, spec.workdir})
    if (!StartsWith(p, "/")) return Fail(Error::Invalid(fmt::format("upper and work dirs must be absolute, got {}", Quote(p))));
  for (const auto& m : spec.mounts)
    if (!StartsWith(m.target, "/") || CleanPath(m.target) == "/")
      return Fail(Error::Invalid(fmt::format("mount target {} must be an absolute path below /", Quote(m.target))));
  if (sys::Interrupted()) return Fail(Error(ErrorCode::kInterrupted, "interrupted"));

  Step step;
  step.id = std::string(kIdPrefix) + RandomHex(8);
  step.dir = JoinPath(options_.scratch_dir, step.id);
  MountPointRecord record;
  auto result = RunStep(spec, step, record);
  // Always: stop the container, unmount everything, drop the scratch tmpfs.
  auto cleaned = Cleanup(step);
  // With the overlay unmounted the upper dir may be edited directly; do it
  // on failures too, so a failed step's layer holds only what it wrote.
  auto residue = cleaned ? RemoveMountResidue(spec.upperdir, record) : Ok();
  if (!result) return result;
  if (!cleaned) return Fail(std::move(cleaned).error().Wrap("cleaning up step {}", step.id));
  if (!residue) return Fail(std::move(residue).error().Wrap("removing mount points of step {}", step.id));
  return result;
}

Result<RunResult> RuncExecutor::RunStep(const RunSpec& spec, Step& step, MountPointRecord& record) {
  std::vector<Rlimit> rlimits;
  for (const auto& u : spec.ulimits) {
    KILN_TRY_ASSIGN(auto r, ParseUlimit(u));
    rlimits.push_back(r);
  }
  KILN_TRY_ASSIGN(std::string hosts, HostsFile(spec.hostname, spec.extra_hosts));

  // Step 2: the scratch dir, a private tmpfs so config.json (env values may
  // be secrets) and kiln's /etc files never reach the disk.
  KILN_TRY(MakeDirs(step.dir, 0700));
  step.dir_made = true;
  KILN_TRY(sys::MountTmpfs(step.dir, "size=16m,mode=0700"));
  step.tmpfs_mounted = true;
  const std::string rootfs = JoinPath(step.dir, "rootfs");
  const std::string bundle = JoinPath(step.dir, "bundle");
  const std::string etc = JoinPath(step.dir, "etc");
  for (const auto& d : {rootfs, bundle, etc}) KILN_TRY(MakeDirs(d, 0700));

  // Step 3: a read-only probe overlay of the image layers: everything that
  // must be resolved inside the image is resolved here (an empty extra
  // layer satisfies overlay's two-layer minimum without an upper dir). It
  // is a detached mount, held only by `root_fd`: attached at a path, it was
  // copied into the mount namespace of any container another thread
  // created meanwhile, and a process another thread was spawning held a
  // copy of `root_fd` until its exec, so unmounting it failed with EBUSY
  // now and then when stages ran in parallel. Kernels before 6.8 mount it
  // at `rootfs` and unmount it below.
  const std::string empty = JoinPath(step.dir, "empty");
  const std::string mp_dir = JoinPath(step.dir, "mountpoints");
  KILN_TRY(MakeDirs(empty, 0700));
  KILN_TRY(MakeDirs(mp_dir, 0700));
  std::vector<std::string> probe_layers = spec.lowerdirs;
  probe_layers.push_back(empty);
  auto probe = sys::OpenOverlay(probe_layers, "", "");
  const bool probe_attached = !probe && probe.error().code() == ErrorCode::kUnsupported;
  if (probe_attached) {
    KILN_TRY(sys::MountOverlay(probe_layers, "", "", rootfs));
    probe = OpenFile(rootfs, O_PATH | O_DIRECTORY);
  }
  if (!probe) return Fail(std::move(probe).error());
  Fd root_fd = std::move(*probe);

  // Step 4: the user, from the image's own passwd/group files.
  KILN_TRY_ASSIGN(ExecUser user, ResolveUserInRoot(root_fd.get(), spec.user));

  // Step 5: /etc/hosts, /etc/resolv.conf, /etc/hostname, outside the rootfs.
  std::string host_resolv;
  if (auto r = ReadFile(options_.host_resolv_conf)) host_resolv = *r;
  KILN_TRY(WriteFile(JoinPath(etc, "hosts"), hosts, 0644));
  KILN_TRY(WriteFile(JoinPath(etc, "resolv.conf"), ResolvConf(host_resolv, spec.network), 0644));
  KILN_TRY(WriteFile(JoinPath(etc, "hostname"), spec.hostname + "\n", 0644));

  // Step 6: all mounts, with destinations resolved inside the image (never
  // by following a layer's symlinks on the host). Missing mount points go
  // into the mount-point layer, so runc creates nothing in the upper dir.
  std::vector<SpecMount> mounts = StandardMounts(spec.shm_size);
  for (const char* f : {"hosts", "resolv.conf", "hostname"})
    mounts.push_back({fmt::format("/etc/{}", f), "bind", JoinPath(etc, f), {"rbind", "ro"}});
  for (const auto& m : spec.mounts) {
    if (m.kind == MountSpec::Kind::kBind) {
      std::vector<std::string> opts = {"rbind", m.readonly ? "ro" : "rw"};
      opts.insert(opts.end(), m.options.begin(), m.options.end());
      mounts.push_back({m.target, "bind", m.source, std::move(opts)});
    } else {
      std::vector<std::string> opts = {"nosuid", "nodev"};
      if (m.readonly) opts.push_back("ro");
      opts.insert(opts.end(), m.options.begin(), m.options.end());
      mounts.push_back({m.target, "tmpfs", "tmpfs", std::move(opts)});
    }
  }
  MountPointLayer layer(mp_dir);
  std::vector<std::string> placed;  // canonical destinations of earlier mounts
  for (auto& m : mounts) {
    std::string dest = CleanPath(m.destination);
    bool nested = false;
    for (const auto& p : placed) nested = nested || PathIsUnder(dest, p);
    if (!nested) {
      // A mount inside an earlier one (e.g. /dev/shm in /dev) lives on that
      // fresh filesystem; runc creates it there.
      KILN_TRY_ASSIGN(dest, sys::CanonicalInRoot(root_fd.get(), dest));
      struct stat st;
      bool file = m.type == "bind" && stat(m.source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode);
      KILN_TRY(layer.Add(root_fd.get(), dest, file));
    }
    m.destination = dest;
    placed.push_back(dest);
  }
  KILN_TRY_ASSIGN(std::string cwd, sys::CanonicalInRoot(root_fd.get(), spec.cwd.empty() ? "/" : spec.cwd));
  root_fd.Reset();
  if (probe_attached) KILN_TRY(sys::Unmount(rootfs, sys::UnmountMode::kRetryThenDetach));
  record.created = layer.created();

  // Step 6b: the step's rootfs: [mount points,] image layers, upper dir.
  // Volatile: the upper dir is read back through the page cache and the
  // store fsyncs what it commits, so the sync on unmount only costs time.
  std::vector<std::string> layers = spec.lowerdirs;
  if (!layer.empty()) layers.insert(layers.begin(), mp_dir);
  KILN_TRY(sys::MountOverlay(layers, spec.upperdir, spec.workdir, rootfs, sys::OverlaySync::kVolatile));
  step.workdir = spec.workdir;
  // The working directory is part of the step's layer, owned by its user.
  KILN_TRY_ASSIGN(root_fd, OpenFile(rootfs, O_PATH | O_DIRECTORY));
  KILN_TRY(sys::MkdirInRoot(root_fd.get(), cwd, user.uid, user.gid));
  root_fd.Reset();

  // Step 7: the network namespace.
  SpecInput in;
  if (spec.network == Network::kNone) {
    in.net = SpecInput::Net::kNew;
    in.netns_path = JoinPath(step.dir, "netns");
    KILN_TRY(PrepareEmptyNetns(in.netns_path));
  }

  // Step 8: config.json.
  in.rootfs = rootfs;
  in.args = spec.argv;
  in.env = spec.env;
  if (!HasEnv(in.env, "PATH")) in.env.emplace_back(kDefaultPath);
  if (!HasEnv(in.env, "HOME")) in.env.push_back("HOME=" + user.home);
  in.cwd = cwd;
  in.user = user;
  in.hostname = spec.hostname;
  in.mounts = std::move(mounts);
  in.rlimits = std::move(rlimits);
  {
    // The env may hold a secret (RUN --mount=type=secret,env=): once
    // config.json is on the step's tmpfs, wipe kiln's copies of it.
    nlohmann::json config = BuildRuntimeSpec(in);
    std::string text = config.dump();
    auto written = WriteFile(JoinPath(bundle, "config.json"), text, 0600);
    WipeString(text);
    for (auto& e : config["process"]["env"]) WipeString(e.get_ref<std::string&>());
    WipeStrings(in.env);
    KILN_TRY(written);
  }

  // Step 9: runc run, stdio piped, runc's own errors to a JSON log.
  const std::string log = JoinPath(step.dir, "runc.log");
  std::vector<std::string> argv = {runc_, "--root", options_.state_dir, "--log", log,
                                   "--log-format", "json", "run", "--bundle", bundle, step.id};
  sys::ProcessSpec ps{argv, std::vector<std::string>{std::string(kDefaultPath)}, bundle};
  KILN_TRY_ASSIGN(auto proc, runner_->Start(ps));
  step.container_started = true;
  auto status = proc->Wait(spec.on_output, sys::WaitMode::kInterruptible);
  if (!status) {
    if (status.error().code() != ErrorCode::kInterrupted) return Fail(std::move(status).error());
    // Step 10 (interrupt): kill the container; Cleanup() deletes it.
    // `runc kill` fails when the container is not created yet; then stop
    // runc itself, and Cleanup()'s `runc delete --force` removes any state.
    auto killed = Runc({"kill", step.id, "KILL"});
    if (!killed || !killed->status.success()) proc->Kill(SIGKILL);
    (void)proc->Wait({}, sys::WaitMode::kUninterruptible);
    return Fail(Error(ErrorCode::kInterrupted, "interrupted").Wrap("running step {}", step.id));
  }
  std::string runc_error = RuncLogError(log);
  if (!status->success() && !runc_error.empty()) {
    constexpr std::string_view kPrefix = "runc run failed: ";
    if (StartsWith(runc_error, kPrefix)) runc_error.erase(0, kPrefix.size());
    // The step's own command could not start (missing binary, bad cwd):
    // the user's step failed, not kiln.
    bool step_failed = StartsWith(runc_error, "unable to start container process");
    return Fail(Error(step_failed ? ErrorCode::kStepFailed : ErrorCode::kIo,
                      fmt::format("runc: {}", runc_error)));
  }
  RunResult out{status->exit_code, status->signal};
  // runc reports a container killed by a signal as 128 + signal.
  if (out.signal == 0 && out.exit_code > 128 && out.exit_code < 128 + 65) out.signal = out.exit_code - 128;
  return out;
}

Result<void> RuncExecutor::Cleanup(Step& step) {
  Result<void> first = Ok();
  auto note = [&](Result<void> r) {
    if (!r && first) first = std::move(r);
  };
  // runc run deletes the container when it exits normally; after a kill or
  // a runc failure its state dir may remain. Checking first saves a whole
  // runc invocation per step.
  if (step.container_started && PathExists(JoinPath(options_.state_dir, step.id))) {
    auto r = Runc({"delete", "--force", step.id});
    if (!r) note(Fail(std::move(r).error()));
  }
  if (step.tmpfs_mounted) {
    // The rootfs first and for real where possible, so the overlay is gone
    // before the caller reads and edits its upper dir; then detaching the
    // tmpfs takes the netns mount along. The slow path unmounts what is
    // left one by one.
    if (!step.workdir.empty()) note(sys::Unmount(JoinPath(step.dir, "rootfs"), sys::UnmountMode::kRetryThenDetach));
    if (!sys::Unmount(step.dir, sys::UnmountMode::kDetach)) note(sys::UnmountAllUnder(step.dir));
  }
  if (!step.workdir.empty()) note(sys::RemoveVolatileMarker(step.workdir));
  if (step.dir_made && rmdir(step.dir.c_str()) < 0 && errno != ENOENT)
    note(Fail(Error::Io(step.dir, errno, "rmdir")));
  return first;
}

}  // namespace

Result<std::unique_ptr<Executor>> NewRuncExecutor(ExecOptions options) {
  auto runc = StartsWith(options.runc, "/") ? Result<std::string>(options.runc) : sys::LookPath(options.runc);
  if (!runc || access(runc->c_str(), X_OK) < 0)
    return Fail(Error::NotFound(fmt::format("{} not found in PATH", options.runc))
                    .WithHint("install it with \"apt-get install runc\""));
  KILN_TRY(MakeDirs(options.state_dir, 0700));
  KILN_TRY(MakeDirs(options.scratch_dir, 0700));
  return std::unique_ptr<Executor>(new RuncExecutor(std::move(options), *runc));
}

Result<void> CleanupStale(const ExecOptions& options) {
  Result<void> first = Ok();
  auto note = [&](Result<void> r) {
    if (!r && first) first = std::move(r);
  };
  auto runc = StartsWith(options.runc, "/") ? Result<std::string>(options.runc) : sys::LookPath(options.runc);
  if (runc && PathExists(options.state_dir)) {
    auto runner = sys::NewRealProcessRunner();
    auto run = [&](std::vector<std::string> args) {
      std::vector<std::string> argv = {*runc, "--root", options.state_dir};
      argv.insert(argv.end(), args.begin(), args.end());
      return runner->Run({argv, std::vector<std::string>{std::string(kDefaultPath)}});
    };
    auto list = run({"list", "--format", "json"});
    if (!list) {
      note(Fail(std::move(list).error().Wrap("listing stale containers")));
    } else if (!list->status.success()) {
      note(Fail(Error(ErrorCode::kIo, fmt::format("runc list: {}", TrimSpace(list->err)))));
    } else {
      auto j = nlohmann::json::parse(list->out, nullptr, /*allow_exceptions=*/false);
      if (j.is_array()) {
        for (const auto& c : j) {
          if (!c.is_object() || !c.contains("id") || !c["id"].is_string()) continue;
          std::string id = c["id"].get<std::string>();
          if (!StartsWith(id, kIdPrefix)) continue;
          (void)run({"kill", id, "KILL"});
          auto del = run({"delete", "--force", id});
          if (del && !del->status.success())
            note(Fail(Error(ErrorCode::kIo, fmt::format("runc delete {}: {}", id, TrimSpace(del->err)))));
        }
      }
    }
  }
  if (PathExists(options.scratch_dir)) {
    note(sys::UnmountAllUnder(options.scratch_dir));
    // Only the per-step dirs; the scratch dir itself stays.
    auto names = OpenFile(options.scratch_dir, O_PATH | O_DIRECTORY).and_then([&](Fd dir) {
      return ListDirectory(dir.get(), options.scratch_dir);
    });
    if (!names) note(Fail(std::move(names).error()));
    for (const auto& n : names.value_or(std::vector<std::string>{}))
      if (StartsWith(n, kIdPrefix)) note(RemoveAll(JoinPath(options.scratch_dir, n)));
  }
  return first;
}

}  // namespace kiln::exec
