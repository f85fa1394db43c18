#include "solver/builder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <future>
#include <mutex>
#include <thread>

#include "base/digest.h"
#include "base/fs.h"
#include "base/strings.h"
#include "dockerfile/checks.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/expand.h"
#include "dockerfile/parser.h"
#include "dockerfile/stages.h"
#include "image/reference.h"
#include "secrets/masker.h"
#include "secrets/mounter.h"
#include "secrets/scanner.h"
#include "secrets/source.h"
#include "solver/builder_internal.h"
#include "solver/copy.h"
#include "solver/users.h"

namespace kiln::solver {

namespace df = kiln::dockerfile;

std::string NowRfc3339() {
  std::time_t t = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) t = std::strtoll(epoch, nullptr, 10);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string ChainKey(const std::string& parent, std::string_view record) {
  Sha256 h;
  h.Update(parent);
  h.Update("\n");
  h.Update(record);
  return h.Finish().hex();
}

int NextStep(BuildShared& shared) { return shared.next_step++; }

void Emit(BuildShared& shared, ProgressEvent::Kind kind, int step, std::string name, std::string data, int stream,
          double seconds) {
  ProgressEvent e;
  e.kind = kind;
  e.step = step;
  e.name = std::move(name);
  e.data = std::move(data);
  e.stream = stream;
  e.seconds = seconds;
  e.elapsed = shared.Elapsed();
  shared.progress.Event(e);
}

Result<StageResult> WaitStage(BuildShared& shared, int stage) {
  auto& f = shared.stage_results.at(stage);
  if (!f.valid()) return Fail(Error::Invalid(fmt::format("stage {} is not part of this build", stage)));
  return f.get();
}

Result<BuildResult> Build(const BuildOptions& options, Worker& worker, ProgressSink& progress,
                          Diagnostics& diags) {
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  BuildShared shared(options, worker, progress, diags, options.max_parallel > 0 ? options.max_parallel : cores);
  shared.created = options.created.empty() ? NowRfc3339() : options.created;

  int load_step = NextStep(shared);
  Emit(shared, ProgressEvent::Kind::kStepStarted, load_step,
                fmt::format("[internal] load build definition from {}", options.dockerfile_name));
  KILN_TRY_ASSIGN(shared.dockerfile, df::Parse(options.dockerfile_text, options.dockerfile_name));
  Emit(shared, ProgressEvent::Kind::kStepDone, load_step);

  shared.eval.build_args = options.build_args;
  if (!options.context_dir.empty()) {
    KILN_TRY_ASSIGN(shared.ignore, df::LoadIgnoreFile(options.context_dir, options.dockerfile_path));
    KILN_TRY_ASSIGN(shared.context_fd, OpenFile(options.context_dir, O_RDONLY | O_DIRECTORY));
  }

  for (const auto& [name, value] : options.named_contexts) {
    if (value.starts_with("docker-image://")) continue;
    if (value.find("://") != std::string::npos)
      return Fail(
          Error::Unsupported(fmt::format("--build-context {}={}: only a directory or docker-image://REF "
                                         "is supported",
                                         name, value)));
    LocalContext local;
    auto fd = OpenFile(value, O_RDONLY | O_DIRECTORY);
    if (!fd)
      return Fail(
          Error::NotFound(fmt::format("--build-context {}: directory {} not found", name, Quote(value))));
    local.fd = std::move(*fd);
    // A named context has its own .dockerignore; the main context's and
    // the Dockerfile's do not apply to it.
    KILN_TRY_ASSIGN(local.ignore, df::LoadIgnoreFile(value, ""));
    shared.local_contexts.emplace(name, std::move(local));
  }

  df::CheckOptions check_options;
  check_options.eval = shared.eval;
  check_options.ignore = &shared.ignore;
  KILN_TRY_ASSIGN(df::CheckResult checks, df::RunChecks(shared.dockerfile, check_options, diags));
  if (checks.fail)
    return Fail(Error::Invalid(fmt::format("{} build check warning(s) found and the Dockerfile sets check=error=true",
                                           checks.warnings))
                    .At(SourceLoc{options.dockerfile_name, 0, 0, {}}));
  BuildResult result;
  result.check_warnings = checks.warnings;
  if (options.check_only) return result;

  KILN_TRY_ASSIGN(shared.global_scope, df::GlobalScope(shared.dockerfile, shared.eval));
  KILN_TRY_ASSIGN(shared.stage_info, df::ResolveStages(shared.dockerfile, shared.eval));
  KILN_TRY_ASSIGN(std::vector<int> order, df::StagesForTarget(shared.dockerfile, shared.stage_info, options.target));

  secrets::SecretStore empty_secrets;
  const secrets::SecretStore& secret_store = options.secrets ? *options.secrets : empty_secrets;
  shared.masker = secrets::Masker::Create(secret_store, diags);
  CollectingDiagnostics quiet;  // the masker already warned about short values
  shared.leak_scanner = secrets::LeakScanner::Create(secret_store, quiet);

  // One thread per needed stage; each waits for the stages it reads from.
  shared.stage_results.resize(shared.dockerfile.stages.size());
  std::vector<std::packaged_task<Result<StageResult>()>> tasks;
  std::vector<std::shared_future<Result<StageResult>>> futures;
  tasks.reserve(order.size());
  for (int stage : order) {
    tasks.emplace_back([&shared, stage] { return BuildStage(shared, stage); });
    shared.stage_results[stage] = tasks.back().get_future().share();
  }
  std::vector<std::thread> threads;
  for (auto& t : tasks) threads.emplace_back(std::move(t));
  for (auto& t : threads) t.join();

  // Report the first real failure in Dockerfile order, masking secret values.
  for (int stage : order) {
    auto r = shared.stage_results[stage].get();
    if (!r && r.error().message() != kCanceled) return Fail(shared.masker->MaskError(r.error()));
  }
  KILN_TRY_ASSIGN(StageResult final_stage, shared.stage_results[order.back()].get());
  (void)load_step;
  result.image = std::move(final_stage.image);
  result.final_keys = std::move(final_stage.keys);
  for (const auto& [k, v] : options.labels) result.image.config.config.labels[k] = v;
  result.image.config.created = shared.created;
  return result;
}

}  // namespace kiln::solver
