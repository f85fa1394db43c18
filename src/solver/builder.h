#pragma once

// The build engine: a Dockerfile and its context in, an image out. Runs the
// stages a target needs, independent stages in parallel, each instruction
// with BuildKit's semantics, and caches every filesystem step under a key
// derived from its parent, its expanded instruction and the content of what
// it reads (docs/formats/cache-key.md).

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/diagnostics.h"
#include "base/error.h"
#include "solver/progress.h"
#include "solver/worker.h"

namespace kiln::secrets {
class SecretStore;
class SecretValue;
class SshAgents;
}

namespace kiln::solver {

enum class SecretLeakMode { kError, kWarn, kOff };

struct BuildOptions {
  // The build context directory (a `-` context is unpacked by the caller).
  std::string context_dir;
  // The Dockerfile's text, the name used in error locations, and its path
  // on disk ("" for `-f -`), which selects <name>.dockerignore.
  std::string dockerfile_text;
  std::string dockerfile_name = "Dockerfile";
  std::string dockerfile_path;
  std::map<std::string, std::string> build_args;
  std::string target;  // "" builds the last stage
  bool no_cache = false;
  std::vector<std::string> no_cache_filter;  // stage names that must not use the cache
  PullPolicy pull = PullPolicy::kIfMissing;
  std::map<std::string, std::string> labels;  // --label, set on the final image
  RunRequest::Network network = RunRequest::Network::kDefault;
  std::vector<std::string> add_hosts;  // "name:ip"
  uint64_t shm_size = 0;
  std::vector<std::string> ulimits;
  // --build-context NAME=VALUE: a directory, docker-image://REF or
  // oci-layout://PATH[:TAG]; replaces a stage or image of that name.
  std::map<std::string, std::string> named_contexts;
  // Secrets provided for this build; null for none. Must outlive Build().
  const secrets::SecretStore* secrets = nullptr;
  // --ssh agents; null for none. Must outlive Build().
  const secrets::SshAgents* ssh = nullptr;
  SecretLeakMode secret_leaks = SecretLeakMode::kError;
  // The change-aware secret cache (`--secret id=ID,...,cache=value`): a
  // RUN that mounts one of these secrets gets SecretCacheToken(value) under
  // `secret_cache_key` in its cache key, so a changed value reruns it. The
  // value itself never enters a key. `secret_cache_key` must be set (and
  // outlive Build()) when the set is not empty. docs/secrets.md.
  std::set<std::string> value_keyed_secrets;
  const secrets::SecretValue* secret_cache_key = nullptr;
  // RFC 3339 time written into the config and new history entries; "" is
  // now (or SOURCE_DATE_EPOCH when set).
  std::string created;
  // Only run the build checks.
  bool check_only = false;
  // Maximum RUN steps at once; 0 is the number of cores.
  int max_parallel = 0;
};

struct BuildResult {
  ImageState image;
  // The cache keys of the steps behind the final image (its stage and the
  // stages it is built FROM), for --cache-to mode=min.
  std::vector<std::string> final_keys;
  // Warnings found by the build checks (they also went to Diagnostics).
  int check_warnings = 0;
};

// Builds per `options`. Errors carry the Dockerfile location of the failing
// instruction; step output and error text have secret values masked.
// kStepFailed for a failing RUN, kInterrupted on SIGINT/SIGTERM.
Result<BuildResult> Build(const BuildOptions& options, Worker& worker, ProgressSink& progress,
                          Diagnostics& diags);

// An ADD source or a build context as BuildKit classifies it: a git
// repository (gitutil.ParseGitRef: ssh://, git://, user@host:path, or an
// http(s) URL whose path ends in ".git"), another http(s) URL, or a local
// path.
struct SourceKind {
  enum class Kind { kLocal, kHttp, kGit } kind = Kind::kLocal;
  GitSource git;         // kGit: remote and ref from "URL#ref:subdir"
  std::string subdir;    // kGit
  std::string filename;  // kHttp: the URL path's last element, else "__unnamed__"
};
SourceKind ClassifySource(std::string_view src);

// The default PATH BuildKit puts in a RUN's environment (and the image
// config) when the image sets none.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace kiln::solver
