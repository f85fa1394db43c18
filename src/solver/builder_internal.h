#pragma once

// Shared state of one build, used by builder.cc (the stage graph) and
// stage_builder.cc (instruction semantics). Private to solver/.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/fs.h"
#include "dockerfile/ast.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/expand.h"
#include "dockerfile/stages.h"
#include "secrets/masker.h"
#include "secrets/scanner.h"
#include "solver/builder.h"

namespace kiln::solver {

// A `--build-context NAME=DIR`: the directory, opened, and its own
// .dockerignore (BuildKit reads a named context's .dockerignore from its
// root; the main context's rules do not apply to it).
struct LocalContext {
  Fd fd;
  dockerfile::Matcher ignore;
};


// What a finished stage hands to the stages that read from it.
struct StageResult {
  ImageState image;
  dockerfile::Scope scope;  // for `FROM <stage>`, which inherits ARG and ENV
  std::string cache_key;    // the key of its last filesystem state
  // The keys of every step behind `image`, parent stages first: what
  // --cache-to mode=min exports.
  std::vector<std::string> keys;
};

// Bounds how many RUN steps run at once.
class Slots {
 public:
  explicit Slots(int n) : free_(n) {}
  void Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return free_ > 0; });
    --free_;
  }
  void Release() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int free_;  // GUARDED_BY(mu_)
};

struct BuildShared {
  const BuildOptions& options;
  Worker& worker;
  ProgressSink& progress;
  Diagnostics& diags;
  dockerfile::Dockerfile dockerfile;
  dockerfile::EvalOptions eval;
  dockerfile::Scope global_scope;
  std::vector<dockerfile::StageInfo> stage_info;
  dockerfile::Matcher ignore;
  Fd context_fd;
  // --build-context NAME=DIR, by name.
  std::map<std::string, LocalContext> local_contexts;
  std::shared_ptr<const secrets::Masker> masker;
  std::shared_ptr<const secrets::LeakScanner> leak_scanner;
  std::string created;
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::atomic<int> next_step{1};
  Slots run_slots;
  // Set when a stage fails, so the others stop at their next instruction.
  std::atomic<bool> failed{false};
  // One entry per stage of the Dockerfile; valid for the stages built.
  std::vector<std::shared_future<Result<StageResult>>> stage_results;
  // Cache keys of the steps this build ran: under --no-cache an identical
  // step in another stage reuses that result instead of running again, as
  // BuildKit solves one vertex once per build.
  std::mutex built_mu;
  std::set<std::string> built_keys;  // guarded by built_mu

  BuildShared(const BuildOptions& o, Worker& w, ProgressSink& p, Diagnostics& d, int slots)
      : options(o), worker(w), progress(p), diags(d), run_slots(slots) {}

  double Elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
};

// The message of the error a stage returns when another stage's failure
// stopped it; never reported when a real error exists.
inline constexpr std::string_view kCanceled = "canceled";

int NextStep(BuildShared& shared);
// Sends one progress event, stamped with the build's elapsed time.
void Emit(BuildShared& shared, ProgressEvent::Kind kind, int step, std::string name = "", std::string data = "",
          int stream = 1, double seconds = 0);
// Builds one stage (stage_builder.cc); waits for the stages it reads from.
Result<StageResult> BuildStage(BuildShared& shared, int stage);
// Waits for another stage's result.
Result<StageResult> WaitStage(BuildShared& shared, int stage);
// sha256 hex of parent + "\n" + record: the cache key chain.
std::string ChainKey(const std::string& parent, std::string_view record);
std::string NowRfc3339();

}  // namespace kiln::solver
