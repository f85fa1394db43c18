#pragma once

// `kiln build` and the build request that `kiln compose build` also uses.

#include <string>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "cli/commands.h"
#include "exec/executor.h"
#include "solver/progress.h"
#include "secrets/source.h"
#include "store/lock.h"

namespace kiln::cli {

// docker build's flags, as strings, before validation.
struct BuildRequestFlags {
  std::string context;
  std::string dockerfile;         // -f; "" = CONTEXT/Dockerfile; "-" = stdin
  std::string dockerfile_inline;  // compose's dockerfile_inline
  std::vector<std::string> tags, build_args, no_cache_filter, labels, outputs, build_contexts, add_hosts, ulimits,
      secrets, ssh, cache_from, cache_to;
  std::string target, network = "default", iidfile, metadata_file, progress = "auto", shm_size, platform,
                      secret_leaks = "error";
  bool no_cache = false, pull = false, quiet = false, check = false, load = false, push = false;
  bool from_compose = false;
  // Secrets whose values the caller already has (compose's environment
  // secrets, which may come from .env); merged into the build's secrets.
  const secrets::SecretStore* extra_secrets = nullptr;
};

struct BuildOutcome {
  Digest image_id;  // the config digest, as docker shows image IDs
  Digest manifest;
  std::vector<std::string> tags;
};

// Lets several builds (compose services) share one progress view.
struct SharedBuildUi {
  solver::ProgressSink* progress = nullptr;
};

Result<void> RunBuild(const GlobalOptions& global, const std::vector<std::string>& argv);
Result<BuildOutcome> RunBuildRequest(const GlobalOptions& global, const BuildRequestFlags& request,
                                     SharedBuildUi* shared = nullptr);
Result<std::string> ReadAllStdin();

// This process's runc state and scratch directory, removed on destruction.
struct RunDir {
  std::string path;
  store::FileLock lock;
  exec::ExecOptions exec_options;
  RunDir() = default;
  RunDir(RunDir&&) = default;
  ~RunDir();
};
Result<RunDir> OpenRunDir(const std::string& store_root);

}  // namespace kiln::cli
