// Runs `RUN true` through the runc executor RUNS times on LOWERDIR, each
// with a fresh upper dir, for bench/exec/run.sh. Prints the mean wall time.
//   exec_bench LOWERDIR WORKDIR [RUNS]
// With --spec ROOTFS ETCDIR it instead prints the config.json kiln would
// generate for `true` (same generator and mounts as a step), so run.sh can
// time runc alone on exactly kiln's configuration.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/fs.h"
#include "exec/executor.h"
#include "exec/runtime_spec.h"

int main(int argc, char** argv) {
  using namespace kiln;
  if (argc == 4 && std::string(argv[1]) == "--spec") {
    exec::SpecInput in;
    in.rootfs = argv[2];
    in.args = {"/bin/true"};
    in.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"};
    in.mounts = exec::StandardMounts(64 << 20);
    for (const char* f : {"hosts", "resolv.conf", "hostname"})
      in.mounts.push_back({std::string("/etc/") + f, "bind", JoinPath(argv[3], f), {"rbind", "ro"}});
    std::printf("%s\n", exec::BuildRuntimeSpec(in).dump().c_str());
    return 0;
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: exec_bench LOWERDIR WORKDIR [RUNS]\n");
    return 2;
  }
  std::string lower = argv[1], work = argv[2];
  int runs = argc > 3 ? std::atoi(argv[3]) : 1;
  exec::ExecOptions options;
  options.state_dir = JoinPath(work, "state");
  options.scratch_dir = JoinPath(work, "scratch");
  auto executor = exec::NewRuncExecutor(options);
  if (!executor) {
    std::fprintf(stderr, "error: %s", executor.error().Render().c_str());
    return 1;
  }
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    std::string step = JoinPath(work, "step");
    exec::RunSpec spec;
    spec.lowerdirs = {lower};
    spec.upperdir = JoinPath(step, "upper");
    spec.workdir = JoinPath(step, "work");
    spec.argv = {"/bin/true"};
    if (!MakeDirs(spec.upperdir) || !MakeDirs(spec.workdir)) return 1;
    auto r = (*executor)->Run(spec);
    if (!r || r->exit_code != 0) {
      std::fprintf(stderr, "error: %s", r ? "true failed\n" : r.error().Render().c_str());
      return 1;
    }
    if (!RemoveAll(step)) return 1;
  }
  std::chrono::duration<double, std::milli> took = std::chrono::steady_clock::now() - start;
  if (runs > 1) std::printf("kiln RUN true: %.2f ms/run over %d runs\n", took.count() / runs, runs);
  return 0;
}
