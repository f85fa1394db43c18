// kiln compose [-f F]... [-p NAME] [--project-directory D] [--env-file F]...
//              [--profile P]... build|config ...
// Builds the services of a Compose project with `kiln build`'s engine,
// in parallel, sharing one store and cache.

#include "cli/compose_command.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/fs.h"
#include "base/strings.h"
#include "cli/build_command.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "compose/project.h"
#include "dockerfile/parser.h"
#include "secrets/source.h"

extern char** environ;

namespace kiln::cli {

namespace {

const std::vector<FlagSpec> kComposeFlags = {
    {"file", 'f', FlagKind::kRepeated, "Compose configuration files", "FILE"},
    {"project-name", 'p', FlagKind::kValue, "Project name", "NAME"},
    {"project-directory", 0, FlagKind::kValue, "Alternate working directory of the project", "DIR"},
    {"env-file", 0, FlagKind::kRepeated, "Alternate environment file", "FILE"},
    {"profile", 0, FlagKind::kRepeated, "Profile to enable", "PROFILE"},
    {"progress", 0, FlagKind::kValue, "Progress output: auto, tty, plain, rawjson or quiet", "MODE"},
    {"help", 'h', FlagKind::kBool, "Print usage"},
};

const std::vector<FlagSpec> kComposeBuildFlags = {
    {"build-arg", 0, FlagKind::kRepeated, "Set build-time variables for services", "NAME=VALUE"},
    {"no-cache", 0, FlagKind::kBool, "Do not use cache when building the image"},
    {"pull", 0, FlagKind::kBool, "Always attempt to pull a newer version of the image"},
    {"push", 0, FlagKind::kBool, "Push service images"},
    {"load", 0, FlagKind::kBool, "Load the images into the Docker engine"},
    {"quiet", 'q', FlagKind::kBool, "Don't print anything to STDOUT"},
    {"ssh", 0, FlagKind::kRepeated, "Set SSH authentications used when building service images", "SPEC"},
    {"with-dependencies", 0, FlagKind::kBool, "Also build dependencies (transitively)"},
    {"progress", 0, FlagKind::kValue, "Progress output: auto, tty, plain, rawjson or quiet", "MODE"},
    {"secret-leaks", 0, FlagKind::kValue, "What a secret found in a layer does: error, warn or off", "MODE"},
    {"help", 'h', FlagKind::kBool, "Print usage"},
};

const std::vector<FlagSpec> kComposeConfigFlags = {
    {"services", 0, FlagKind::kBool, "Print the service names, one per line"},
    {"quiet", 'q', FlagKind::kBool, "Only validate the configuration, don't print anything"},
    {"help", 'h', FlagKind::kBool, "Print usage"},
};

compose::Environment ProcessEnvironment() {
  compose::Environment env;
  for (char** e = environ; e && *e; ++e) {
    auto cut = CutString(*e, '=');
    if (cut.found) env[std::string(cut.first)] = std::string(cut.second);
  }
  return env;
}

void PrintWarnings(const CollectingDiagnostics& diags) {
  for (const auto& w : diags.warnings()) {
    std::string where = w.loc.known() && w.loc.line > 0 ? fmt::format("{}:{}: ", w.loc.file, w.loc.line) : "";
    std::fprintf(stderr, "WARN[0000] %s%s\n", where.c_str(), w.message.c_str());
  }
}

// Gives every build its own range of step numbers and names its steps
// after the service, so parallel builds share one progress view.
class ServiceProgress : public solver::ProgressSink {
 public:
  ServiceProgress(solver::ProgressSink& inner, std::string service, std::atomic<int>& counter)
      : inner_(inner), service_(std::move(service)), counter_(counter) {}
  void Event(const solver::ProgressEvent& e) override {
    solver::ProgressEvent out = e;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = steps_.find(e.step);
      if (it == steps_.end()) it = steps_.emplace(e.step, counter_++).first;
      out.step = it->second;
    }
    if (!out.name.empty()) {
      if (out.name.starts_with("[")) out.name = "[" + service_ + " " + out.name.substr(1);
      else out.name = "[" + service_ + "] " + out.name;
      if (out.name.starts_with("[" + service_ + " internal]"))
        out.name = "[" + service_ + " internal" + out.name.substr(service_.size() + 10);
    }
    inner_.Event(out);
  }

 private:
  solver::ProgressSink& inner_;
  std::string service_;
  std::atomic<int>& counter_;
  std::mutex mu_;
  std::map<int, int> steps_;  // GUARDED_BY(mu_)
};

// The secret ids a Dockerfile mounts, for the "runtime secret used at build
// time" warning.
std::set<std::string> MountedSecretIds(const std::string& text) {
  std::set<std::string> ids;
  auto df = dockerfile::Parse(text);
  if (!df) return ids;
  for (const auto& stage : df->stages)
    for (const auto& ins : stage.instructions)
      if (ins.kind == dockerfile::Kind::kRun)
        for (const auto& m : ins.As<dockerfile::RunArgs>().mounts)
          if (m.type == dockerfile::MountType::kSecret) ids.insert(m.id.empty() ? Basename(m.target) : m.id);
  return ids;
}

Result<compose::Project> Load(const ParsedFlags& flags, const std::vector<std::string>& services,
                              CollectingDiagnostics& diags) {
  compose::LoadOptions opt;
  opt.files = flags.All("file");
  opt.project_directory = flags.Value("project-directory");
  opt.project_name = flags.Value("project-name");
  opt.env_files = flags.All("env-file");
  opt.profiles = flags.All("profile");
  opt.environment = ProcessEnvironment();
  opt.services = services;
  char cwd[4096];
  if (::getcwd(cwd, sizeof cwd)) opt.working_dir = cwd;
  return compose::LoadProject(opt, diags);
}

Result<void> ComposeConfig(const ParsedFlags& global_flags, const std::vector<std::string>& argv) {
  KILN_TRY_ASSIGN(ParsedFlags flags, ParseFlags(kComposeConfigFlags, argv, "kiln compose config"));
  if (flags.Bool("help")) {
    std::fputs(("Usage: kiln compose config [OPTIONS] [SERVICE...]\n\nParse, resolve and render compose file in "
                "canonical format\n\nOptions:\n" + FlagHelp(kComposeConfigFlags)).c_str(), stdout);
    return Ok();
  }
  CollectingDiagnostics diags;
  auto project = Load(global_flags, flags.args(), diags);
  PrintWarnings(diags);
  if (!project) return Fail(std::move(project).error());
  if (flags.Bool("quiet")) return Ok();
  std::string out = flags.Bool("services") ? compose::RenderServiceNames(*project) : compose::RenderConfig(*project);
  std::fputs(out.c_str(), stdout);
  return Ok();
}

Result<void> ComposeBuild(const GlobalOptions& global, const ParsedFlags& global_flags,
                          const std::vector<std::string>& argv) {
  KILN_TRY_ASSIGN(ParsedFlags flags, ParseFlags(kComposeBuildFlags, argv, "kiln compose build"));
  if (flags.Bool("help")) {
    std::fputs(("Usage: kiln compose build [OPTIONS] [SERVICE...]\n\nBuild or rebuild services\n\nOptions:\n" +
                FlagHelp(kComposeBuildFlags)).c_str(), stdout);
    return Ok();
  }
  // The loader enables the named services and what they depend on or read
  // (`service:` contexts); BuildOrder picks the ones to build.
  CollectingDiagnostics diags;
  auto loaded = Load(global_flags, flags.args(), diags);
  if (!loaded) {
    PrintWarnings(diags);
    return Fail(std::move(loaded).error());
  }
  compose::Project& project = *loaded;
  KILN_TRY_ASSIGN(std::vector<const compose::Service*> selected,
                  compose::BuildOrder(project, flags.args(),
                                      flags.Bool("with-dependencies") ? compose::WithDependencies::kYes
                                                                      : compose::WithDependencies::kNo));
  std::set<std::string> building;
  for (const auto* s : selected) building.insert(s->name);

  // Per service: a build request, and the services it must wait for
  // (additional_contexts: service:NAME).
  struct Job {
    const compose::Service* service;
    BuildRequestFlags request;
    secrets::SecretStore secrets;
    std::vector<std::string> waits_for;
  };
  std::vector<std::unique_ptr<Job>> jobs;
  std::string progress_mode = flags.Value("progress", global_flags.Value("progress", "auto"));
  for (const auto* s : selected) {
    auto job = std::make_unique<Job>();
    job->service = s;
    const compose::BuildSpec& b = *s->build;
    BuildRequestFlags& r = job->request;
    r.from_compose = true;
    r.context = b.context;
    if (!b.dockerfile_inline.empty()) {
      r.dockerfile_inline = b.dockerfile_inline;
    } else {
      r.dockerfile = b.dockerfile.starts_with('/') ? b.dockerfile : JoinPath(b.context, b.dockerfile.empty()
                                                                                           ? "Dockerfile"
                                                                                           : b.dockerfile);
    }
    r.tags.push_back(s->image_name);
    for (const auto& t : b.tags) r.tags.push_back(t);
    for (const auto& [k, v] : b.args) r.build_args.push_back(k + "=" + v);
    for (const auto& a : flags.All("build-arg")) r.build_args.push_back(a);
    for (const auto& [k, v] : b.labels) r.labels.push_back(k + "=" + v);
    r.target = b.target;
    r.no_cache = b.no_cache || flags.Bool("no-cache");
    r.pull = b.pull || flags.Bool("pull");
    // Like docker compose, only services with an `image:` are pushed: the
    // <project>-<service> default names no registry.
    r.push = flags.Bool("push") && !s->image.empty();
    r.load = flags.Bool("load");
    if (!b.network.empty()) r.network = b.network == "host" || b.network == "none" ? b.network : "default";
    for (const auto& h : b.extra_hosts) {
      auto cut = CutString(h, '=');
      r.add_hosts.push_back(cut.found ? std::string(cut.first) + ":" + std::string(cut.second) : h);
    }
    r.shm_size = b.shm_size;
    for (const auto& u : b.ulimits)
      r.ulimits.push_back(u.single ? fmt::format("{}={}", u.name, u.soft) : fmt::format("{}={}:{}", u.name, u.soft, u.hard));
    r.ssh = b.ssh;
    for (const auto& s2 : flags.All("ssh")) r.ssh.push_back(s2);
    r.cache_from = b.cache_from;
    r.cache_to = b.cache_to;
    r.progress = progress_mode;
    r.quiet = flags.Bool("quiet");
    r.secret_leaks = flags.Value("secret-leaks", "error");
    for (const auto& [name, value] : b.additional_contexts)
      if (!value.starts_with("service:")) r.build_contexts.push_back(name + "=" + value);
    // A `service:` context reads the image that service's build tags (the
    // loader checked it exists).
    for (const auto& c : b.service_contexts) {
      r.build_contexts.push_back(c.context + "=docker-image://" + project.FindService(c.service)->image_name);
      if (building.count(c.service)) job->waits_for.push_back(c.service);
    }
    // Build secrets: the long-syntax target is the id the build sees.
    for (const auto& ref : b.secrets) {
      const compose::SecretDef* def = project.FindSecret(ref.source);
      if (!def) return Fail(Error::NotFound(fmt::format("service {}: undefined secret {}", s->name, Quote(ref.source))));
      std::string id = ref.target.empty() ? ref.source : ref.target;
      if (!def->file.empty()) {
        r.secrets.push_back(fmt::format("id={},src={}", id, def->file));
      } else if (!def->environment.empty()) {
        KILN_TRY_ASSIGN(std::string value, compose::EnvironmentSecretValue(project, *def));
        job->secrets.Put(id, secrets::SecretValue(value));
        std::fill(value.begin(), value.end(), '\0');
      }
    }
    r.extra_secrets = &job->secrets;
    // Runtime secrets the Dockerfile mounts at build time: say where they go.
    std::string text = r.dockerfile_inline;
    if (text.empty()) text = ReadFile(r.dockerfile).value_or("");
    compose::CheckBuildSecrets(*s, MountedSecretIds(text), diags);
    jobs.push_back(std::move(job));
  }
  PrintWarnings(diags);
  if (jobs.empty()) {
    std::fputs("No services to build\n", stderr);
    return Ok();
  }

  // Build in parallel; a service waits for the services it reads from.
  KILN_TRY_ASSIGN(ProgressMode mode, ParseProgressMode(progress_mode));
  if (flags.Bool("quiet")) mode = ProgressMode::kQuiet;
  auto renderer = NewProgressRenderer(mode, stderr);
  std::atomic<int> step_counter{1};
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, int> state;  // 0 pending, 1 ok, 2 failed
  std::vector<std::optional<Error>> errors(jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < jobs.size(); ++i) {
    threads.emplace_back([&, i] {
      Job& job = *jobs[i];
      {
        std::unique_lock<std::mutex> lock(mu);
        for (const auto& dep : job.waits_for) {
          cv.wait(lock, [&] { return state[dep] != 0; });
          if (state[dep] == 2) {
            errors[i] = Error::Invalid(fmt::format("service {}: not built because {} failed", job.service->name, dep));
            state[job.service->name] = 2;
            cv.notify_all();
            return;
          }
        }
      }
      ServiceProgress progress(*renderer, job.service->name, step_counter);
      SharedBuildUi ui{&progress};
      auto r = RunBuildRequest(global, job.request, &ui);
      std::lock_guard<std::mutex> lock(mu);
      if (!r) errors[i] = std::move(r).error().Wrap("building service {}", Quote(job.service->name));
      state[job.service->name] = r ? 1 : 2;
      cv.notify_all();
    });
  }
  for (auto& t : threads) t.join();
  renderer->Finish();
  for (auto& e : errors)
    if (e) return Fail(std::move(*e));
  if (!flags.Bool("quiet"))
    for (const auto& j : jobs) std::fprintf(stderr, "Service %s  Built\n", j->service->name.c_str());
  return Ok();
}

}  // namespace

Result<void> RunCompose(const GlobalOptions& global, const std::vector<std::string>& argv) {
  KILN_TRY_ASSIGN(ParsedFlags flags, ParseFlags(kComposeFlags, argv, "kiln compose", Interspersed::kStopAtFirstArg));
  if (flags.Bool("help") || flags.args().empty()) {
    std::fputs(("Usage: kiln compose [OPTIONS] COMMAND\n\nBuild Compose projects\n\nCommands:\n  build   Build or "
                "rebuild services\n  config  Parse, resolve and render compose file in canonical format\n\nOptions:\n" +
                FlagHelp(kComposeFlags)).c_str(), stdout);
    return flags.args().empty() && !flags.Bool("help")
               ? Fail(Error::Usage("\"kiln compose\" requires a command").WithHint("kiln compose build"))
               : Ok();
  }
  std::string verb = flags.args()[0];
  std::vector<std::string> rest(flags.args().begin() + 1, flags.args().end());
  if (verb == "build") return ComposeBuild(global, flags, rest);
  if (verb == "config") return ComposeConfig(flags, rest);
  std::string near = Spellcheck(verb, {"build", "config"});
  return Fail(Error::Usage(fmt::format("unknown compose command {}{}", Quote(verb),
                                       near.empty() ? "" : fmt::format(" (did you mean {}?)", Quote(near))))
                  .WithHint("kiln compose supports build and config"));
}

}  // namespace kiln::cli
