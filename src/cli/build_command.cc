// kiln build: docker build / buildx build flags over solver::Build.

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <thread>

#include <nlohmann/json.hpp>

#include "archive/compression.h"
#include "archive/layer.h"
#include "archive/stream.h"
#include "base/fs.h"
#include "base/strings.h"
#include "cli/build_command.h"
#include "cli/env.h"
#include "cli/flags.h"
#include "cli/output.h"
#include "cli/progress.h"
#include "exec/executor.h"
#include "image/reference.h"
#include "registry/http.h"
#include "secrets/audit.h"
#include "secrets/cache_token.h"
#include "secrets/source.h"
#include "secrets/ssh_agent.h"
#include "solver/builder.h"
#include "store/lock.h"
#include "sys/interrupt.h"
#include "sys/mounts.h"
#include "sys/process.h"
#include "worker/cache_export.h"
#include "worker/local_worker.h"
#include "worker/remote_source.h"

namespace kiln::cli {

namespace {

const std::vector<FlagSpec> kBuildFlags = {
    {"file", 'f', FlagKind::kValue, "Name of the Dockerfile (default: PATH/Dockerfile; - reads stdin)", "FILE"},
    {"tag", 't', FlagKind::kRepeated, "Name and optionally a tag (name:tag)", "NAME"},
    {"build-arg", 0, FlagKind::kRepeated, "Set a build-time variable", "NAME=VALUE"},
    {"target", 0, FlagKind::kValue, "Set the target build stage to build", "STAGE"},
    {"no-cache", 0, FlagKind::kBool, "Do not use the cache when building the image"},
    {"no-cache-filter", 0, FlagKind::kRepeated, "Do not cache the given stages", "STAGE"},
    {"pull", 0, FlagKind::kBool, "Always check the registry for newer base images"},
    {"label", 0, FlagKind::kRepeated, "Set metadata for an image", "KEY=VALUE"},
    {"network", 0, FlagKind::kValue, "Networking mode for RUN: default, none or host", "MODE"},
    {"output", 'o', FlagKind::kRepeated, "Output destination (type=oci|docker|tar|local|image,dest=PATH)", "SPEC"},
    {"iidfile", 0, FlagKind::kValue, "Write the image ID to the file", "FILE"},
    {"metadata-file", 0, FlagKind::kValue, "Write build result metadata to the file", "FILE"},
    {"progress", 0, FlagKind::kValue, "Progress output: auto, tty, plain, rawjson or quiet", "MODE"},
    {"quiet", 'q', FlagKind::kBool, "Suppress the build output and print the image ID on success"},
    {"build-context", 0, FlagKind::kRepeated, "Additional build context (NAME=DIR|docker-image://REF)", "NAME=VALUE"},
    {"add-host", 0, FlagKind::kRepeated, "Add a custom host-to-IP mapping (host:ip)", "HOST:IP"},
    {"shm-size", 0, FlagKind::kValue, "Size of /dev/shm for RUN", "BYTES"},
    {"ulimit", 0, FlagKind::kRepeated, "Ulimit options for RUN (nofile=1024:2048)", "ULIMIT"},
    {"platform", 0, FlagKind::kValue, "Target platform (only the host's)", "PLATFORM"},
    {"secret", 0, FlagKind::kRepeated,
     "Secret to expose to the build (id=ID,src=PATH or id=ID,env=VAR; "
     "cache=value reruns its steps when it changes)",
     "SPEC"},
    {"ssh", 0, FlagKind::kRepeated, "SSH agent socket or keys to expose (default|ID=SOCKET|ID=KEY)", "SPEC"},
    {"secret-leaks", 0, FlagKind::kValue, "What a secret found in a layer does: error, warn or off", "MODE"},
    {"check", 0, FlagKind::kBool, "Run the build checks only"},
    {"load", 0, FlagKind::kBool, "Also load the image into the Docker engine"},
    {"push", 0, FlagKind::kBool, "Push the image to its registry"},
    {"cache-from", 0, FlagKind::kRepeated, "External cache sources", "SPEC"},
    {"cache-to", 0, FlagKind::kRepeated, "Cache export destinations", "SPEC"},
    {"help", 'h', FlagKind::kBool, "Print usage"},
};

Result<uint64_t> ParseBytes(const std::string& text) {
  if (text.empty()) return Fail(Error::Usage("empty size"));
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == 0) return Fail(Error::Usage(fmt::format("invalid size {}", Quote(text))));
  uint64_t n = std::stoull(text.substr(0, i));
  std::string unit = ToLower(text.substr(i));
  if (unit == "" || unit == "b") return n;
  if (unit == "k" || unit == "kb" || unit == "kib") return n << 10;
  if (unit == "m" || unit == "mb" || unit == "mib") return n << 20;
  if (unit == "g" || unit == "gb" || unit == "gib") return n << 30;
  return Fail(Error::Usage(fmt::format("invalid size {}: unknown unit {}", Quote(text), Quote(unit))));
}

// `rel` below `root` with every symlink resolved, which must stay inside
// `root` (a repository used as the context must not point kiln at a host
// path). A missing path is returned as is, for the caller's not-found error.
Result<std::string> PathInside(const std::string& root, const std::string& rel) {
  std::string path = JoinPath(root, CleanPath("/" + rel));
  char real_root[PATH_MAX];
  char real[PATH_MAX];
  if (!::realpath(root.c_str(), real_root)) return Fail(Error::Io(root, errno, "resolve"));
  if (!::realpath(path.c_str(), real)) return path;
  std::string r = real, top = real_root;
  if (r != top && !r.starts_with(top + "/"))
    return Fail(Error::Invalid(fmt::format("{} leads out of the git context", Quote(rel))));
  return r;
}

// Downloads a URL build context into `dir`: a tar archive (plain, gzip or
// zstd) is unpacked there and nullopt returned; any other file is returned
// as the Dockerfile's text, leaving `dir` empty.
Result<std::optional<std::string>> FetchUrlContext(const std::string& url, const std::string& filename,
                                                   const std::string& dir) {
  auto http = registry::NewCurlHttpClient();
  KILN_TRY_ASSIGN(solver::FetchedSource fetched, worker::DownloadUrl(*http, url, filename));
  std::string file = JoinPath(fetched.dir->path(), filename);
  KILN_TRY_ASSIGN(Fd fd, OpenFile(file, O_RDONLY));
  char head[512] = {};
  ssize_t n = ::pread(fd.get(), head, sizeof head, 0);
  if (n < 0) return Fail(Error::Io(file, errno, "read"));
  std::string_view prefix(head, static_cast<size_t>(n));
  bool tar = archive::SniffCompression(prefix) != archive::Compression::kNone ||
             (n >= 262 && prefix.substr(257, 5) == "ustar");
  if (!tar) return ReadFile(file);
  archive::FdSource source(fd.get(), solver::RedactUrl(url));
  archive::ApplyOptions opt;
  opt.whiteout_mode = archive::WhiteoutMode::kApply;
  opt.label = "build context " + solver::RedactUrl(url);
  KILN_TRY(archive::ApplyLayer(source, dir, opt));
  return std::nullopt;
}

// Prints the build check warnings BuildKit-style at the end of a build.
void PrintWarnings(const std::vector<Warning>& warnings, ProgressMode mode) {
  if (warnings.empty() || mode == ProgressMode::kQuiet) return;
  if (mode == ProgressMode::kRawJson) {
    // One JSON event per warning, so stderr stays JSON lines.
    for (const auto& w : warnings) {
      nlohmann::json j;
      j["event"] = "warning";
      j["name"] = w.name;
      j["message"] = w.message;
      if (w.loc.known() && w.loc.line > 0) j["location"] = fmt::format("{}:{}", w.loc.file, w.loc.line);
      std::fputs((j.dump() + "\n").c_str(), stderr);
    }
    return;
  }
  std::string out = fmt::format("\n {} warning{} found:\n", warnings.size(), warnings.size() == 1 ? "" : "s");
  for (const auto& w : warnings) {
    std::string where;
    if (w.loc.known() && w.loc.line > 0) where = fmt::format(" ({}:{})", w.loc.file, w.loc.line);
    out += fmt::format(" - {}: {}{}\n", w.name, w.message, where);
  }
  std::fputs(out.c_str(), stderr);
}

}  // namespace

// Each kiln process gets its own runc state and scratch directory under
// /run/kiln/<store>/<session>/, held with a lock; a directory whose lock is
// free belonged to a process that died (kill -9), and its containers and
// mounts are cleaned up before this build starts.
Result<RunDir> OpenRunDir(const std::string& store_root) {
  std::string base = "/run/kiln/" + Digest::Of(store_root).Short();
  KILN_TRY(MakeDirs(base, 0700));
  KILN_TRY_ASSIGN(Fd base_fd, OpenFile(base, O_RDONLY | O_DIRECTORY));
  // Sweep and create under one lock (flock on the base directory, released
  // when base_fd closes): otherwise a sweep can take a directory another
  // build, or a parallel compose service, has just made, before its lock
  // exists, for a dead process's and remove it.
  while (::flock(base_fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return Fail(Error::Io(base, errno, "lock"));
  KILN_TRY_ASSIGN(auto names, ListDirectory(base_fd.get(), base));
  for (const auto& n : names) {
    std::string dir = base + "/" + n;
    auto probe = store::FileLock::Acquire(dir + "/lock", store::LockMode::kExclusive, store::LockWait::kTry);
    if (!probe) continue;  // alive
    exec::ExecOptions stale;
    stale.state_dir = dir + "/runc";
    stale.scratch_dir = dir + "/steps";
    (void)exec::CleanupStale(stale);
    (void)sys::UnmountAllUnder(dir);
    ::umount2(dir.c_str(), MNT_DETACH);
    (void)RemoveAll(dir);
  }
  RunDir run;
  run.path = base + "/" + RandomHex(6);
  KILN_TRY(MakeDirs(run.path, 0700));
  // A private tmpfs: runc bundles (config.json holds a step's env, which may
  // carry a secret) and secret files must never reach a disk, and /run is
  // not a tmpfs on every machine.
  KILN_TRY(sys::MountTmpfs(run.path, "mode=0700,size=256m"));
  KILN_TRY_ASSIGN(run.lock, store::FileLock::Acquire(run.path + "/lock", store::LockMode::kExclusive,
                                                     store::LockWait::kBlock));
  run.exec_options.state_dir = run.path + "/runc";
  run.exec_options.scratch_dir = run.path + "/steps";
  return run;
}

RunDir::~RunDir() {
  if (path.empty()) return;
  (void)sys::UnmountAllUnder(path);
  lock = store::FileLock();
  ::umount2(path.c_str(), MNT_DETACH);
  (void)RemoveAll(path);
}

Result<std::string> ReadAllStdin() {
  std::string data((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  return data;
}

Result<void> RunBuild(const GlobalOptions& global, const std::vector<std::string>& argv) {
  KILN_TRY_ASSIGN(ParsedFlags flags, ParseFlags(kBuildFlags, argv, "kiln build"));
  if (flags.Bool("help")) {
    std::fputs(("Usage: kiln build [OPTIONS] PATH | -\n\nBuild an image from a Dockerfile\n\nOptions:\n" +
                FlagHelp(kBuildFlags))
                   .c_str(),
               stdout);
    return Ok();
  }
  if (flags.args().size() != 1)
    return Fail(Error::Usage(fmt::format("\"kiln build\" requires exactly 1 argument, got {}", flags.args().size()))
                    .WithHint("usage: kiln build [OPTIONS] PATH | -"));

  BuildRequestFlags req;
  req.context = flags.args()[0];
  req.dockerfile = flags.Value("file");
  req.tags = flags.All("tag");
  req.build_args = flags.All("build-arg");
  req.target = flags.Value("target");
  req.no_cache = flags.Bool("no-cache");
  req.no_cache_filter = flags.All("no-cache-filter");
  req.pull = flags.Bool("pull");
  req.labels = flags.All("label");
  req.network = flags.Value("network", "default");
  req.outputs = flags.All("output");
  req.iidfile = flags.Value("iidfile");
  req.metadata_file = flags.Value("metadata-file");
  req.progress = flags.Value("progress", "auto");
  req.quiet = flags.Bool("quiet");
  req.build_contexts = flags.All("build-context");
  req.add_hosts = flags.All("add-host");
  req.shm_size = flags.Value("shm-size");
  req.ulimits = flags.All("ulimit");
  req.platform = flags.Value("platform");
  req.secrets = flags.All("secret");
  req.ssh = flags.All("ssh");
  req.secret_leaks = flags.Value("secret-leaks", "error");
  req.check = flags.Bool("check");
  req.load = flags.Bool("load");
  req.push = flags.Bool("push");
  req.cache_from = flags.All("cache-from");
  req.cache_to = flags.All("cache-to");
  KILN_TRY_ASSIGN(BuildOutcome outcome, RunBuildRequest(global, req));
  (void)outcome;
  return Ok();
}

Result<BuildOutcome> RunBuildRequest(const GlobalOptions& global, const BuildRequestFlags& req,
                                     SharedBuildUi* shared) {
  solver::BuildOptions options;

  // Inputs first, so bad flags fail before anything is opened.
  KILN_TRY_ASSIGN(ProgressMode mode, ParseProgressMode(req.progress));
  if (req.quiet) mode = ProgressMode::kQuiet;
  if (!req.platform.empty()) {
    std::string host = "linux/amd64";
    if (req.platform != host && req.platform != "linux/amd64/v1" && req.platform != "local")
      return Fail(Error::Unsupported(fmt::format("platform {} is not supported: kiln builds for the host ({}) only",
                                                 Quote(req.platform), host))
                      .WithHint("drop --platform, or build on a machine of that platform"));
  }
  if (req.network == "none") options.network = solver::RunRequest::Network::kNone;
  else if (req.network == "host") options.network = solver::RunRequest::Network::kHost;
  else if (req.network != "default" && !req.network.empty())
    return Fail(Error::Usage(fmt::format("invalid --network {}: want default, none or host", Quote(req.network))));
  if (req.secret_leaks == "error") options.secret_leaks = solver::SecretLeakMode::kError;
  else if (req.secret_leaks == "warn") options.secret_leaks = solver::SecretLeakMode::kWarn;
  else if (req.secret_leaks == "off") options.secret_leaks = solver::SecretLeakMode::kOff;
  else return Fail(Error::Usage(fmt::format("invalid --secret-leaks {}: want error, warn or off", Quote(req.secret_leaks))));
  for (const auto& a : req.build_args) {
    auto cut = CutString(a, '=');
    if (cut.found) {
      options.build_args[std::string(cut.first)] = std::string(cut.second);
    } else if (const char* v = std::getenv(std::string(cut.first).c_str())) {
      // docker build: a bare NAME takes the value from the environment.
      options.build_args[std::string(cut.first)] = v;
    }
  }
  for (const auto& l : req.labels) {
    auto cut = CutString(l, '=');
    options.labels[std::string(cut.first)] = std::string(cut.second);
  }
  for (const auto& c : req.build_contexts) {
    auto cut = CutString(c, '=');
    if (!cut.found || cut.first.empty())
      return Fail(Error::Usage(fmt::format("invalid --build-context {}: want NAME=VALUE", Quote(c))));
    options.named_contexts[std::string(cut.first)] = std::string(cut.second);
  }
  options.add_hosts = req.add_hosts;
  options.ulimits = req.ulimits;
  if (!req.shm_size.empty()) {
    KILN_TRY_ASSIGN(options.shm_size, ParseBytes(req.shm_size));
  }
  options.target = req.target;
  options.no_cache = req.no_cache;
  options.no_cache_filter = req.no_cache_filter;
  options.pull = req.pull ? solver::PullPolicy::kAlways : solver::PullPolicy::kIfMissing;
  options.check_only = req.check;
  // RUN steps mostly wait (sleep, network, disk), and BuildKit runs the
  // independent ones without a bound; keep a loose one against fork storms.
  options.max_parallel = static_cast<int>(std::max(4u, 2 * std::thread::hardware_concurrency()));

  std::vector<std::string> tags;
  for (const auto& t : req.tags) {
    auto ref = image::Reference::Parse(t);
    if (!ref) return Fail(std::move(ref).error().Wrap("parsing tag {}", Quote(t)));
    tags.push_back(ref->String());
  }
  KILN_TRY_ASSIGN(std::vector<OutputSpec> outputs, ParseOutputs(req.outputs));
  for (const auto& c : req.cache_from) KILN_TRY(worker::ParseCacheSpec(c, worker::CacheDirection::kImport));
  for (const auto& c : req.cache_to) KILN_TRY(worker::ParseCacheSpec(c, worker::CacheDirection::kExport));

  // Secrets: every source is read before the build starts.
  std::vector<secrets::SecretSpec> secret_specs;
  for (const auto& s : req.secrets) {
    KILN_TRY_ASSIGN(SecretFlag flag, SplitSecretCacheField(s));
    KILN_TRY_ASSIGN(secrets::SecretSpec spec, secrets::ParseSecretFlag(flag.spec));
    if (flag.value_keyed) options.value_keyed_secrets.insert(spec.id);
    secret_specs.push_back(spec);
  }
  KILN_TRY_ASSIGN(secrets::SecretStore secret_store, secrets::LoadSecrets(secret_specs, secrets::ProcessEnv()));
  if (req.extra_secrets)
    for (const auto& id : req.extra_secrets->ids()) secret_store.Put(id, req.extra_secrets->Find(id)->Clone());
  options.secrets = &secret_store;
  std::vector<secrets::SshSpec> ssh_specs;
  for (const auto& s : req.ssh) {
    KILN_TRY_ASSIGN(secrets::SshSpec spec, secrets::ParseSshFlag(s));
    ssh_specs.push_back(spec);
  }
  std::optional<secrets::SshAgents> ssh_agents;
  if (!ssh_specs.empty()) {
    KILN_TRY_ASSIGN(secrets::SshAgents agents, secrets::SshAgents::Load(ssh_specs, secrets::ProcessEnv()));
    ssh_agents.emplace(std::move(agents));
    options.ssh = &*ssh_agents;
  }

  // The context and the Dockerfile.
  std::optional<TempDir> stdin_context;
  std::optional<solver::FetchedSource> git_context;
  std::optional<std::string> remote_dockerfile;  // a URL context that was a plain file
  std::string context = req.context;
  if (context == "-") {
    KILN_TRY_ASSIGN(TempDir dir, TempDir::Create("kiln-context"));
    KILN_TRY(ExtractTarFromStdin(dir.path()));
    context = dir.path();
    stdin_context.emplace(std::move(dir));
  } else if (!req.from_compose && (context.find("://") != std::string::npos || context.starts_with("git@"))) {
    // A remote context, as docker build takes it: a git repository
    // (URL#ref:subdir), or an http(s) URL of a tarball (the context) or of
    // a plain file (the Dockerfile, with an empty context).
    solver::SourceKind kind = solver::ClassifySource(context);
    if (kind.kind == solver::SourceKind::Kind::kGit) {
      auto runner = sys::NewRealProcessRunner();
      KILN_TRY_ASSIGN(solver::FetchedSource fetched, worker::CloneGit(*runner, kind.git));
      git_context.emplace(std::move(fetched));
      KILN_TRY_ASSIGN(context, PathInside(git_context->dir->path(), kind.subdir));
    } else if (kind.kind == solver::SourceKind::Kind::kHttp) {
      KILN_TRY_ASSIGN(TempDir dir, TempDir::Create("kiln-context"));
      KILN_TRY_ASSIGN(remote_dockerfile, FetchUrlContext(context, kind.filename, dir.path()));
      context = dir.path();
      stdin_context.emplace(std::move(dir));
    } else {
      return Fail(Error::Unsupported(fmt::format("remote build context {}: unsupported protocol",
                                                 solver::RedactUrl(context))));
    }
  }
  struct stat st;
  if (::stat(context.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Fail(Error::NotFound(fmt::format("unable to prepare context: path {} not found", Quote(context))));
  options.context_dir = context;
  if (req.dockerfile == "-") {
    KILN_TRY_ASSIGN(options.dockerfile_text, ReadAllStdin());
    options.dockerfile_name = "Dockerfile";
  } else if (!req.dockerfile_inline.empty()) {
    options.dockerfile_text = req.dockerfile_inline;
  } else if (remote_dockerfile && req.dockerfile.empty()) {
    options.dockerfile_text = std::move(*remote_dockerfile);
  } else {
    std::string path = req.dockerfile.empty() ? JoinPath(context, "Dockerfile") : req.dockerfile;
    // In a git context, -f names a file of the repository, which must not
    // lead out of it.
    if (git_context) {
      KILN_TRY_ASSIGN(path, PathInside(context, req.dockerfile.empty() ? "Dockerfile" : req.dockerfile));
    }
    auto text = ReadFile(path);
    if (!text) {
      if (text.error().code() == ErrorCode::kNotFound)
        return Fail(Error::NotFound(fmt::format("failed to read dockerfile: open {}: no such file or directory", path))
                        .WithHint("pass the Dockerfile with -f, or run kiln build in the directory that has it"));
      return Fail(std::move(text).error());
    }
    options.dockerfile_text = std::move(*text);
    options.dockerfile_path = path;
    options.dockerfile_name = req.dockerfile.empty() ? "Dockerfile" : req.dockerfile;
  }

  // The outside world.
  sys::InstallInterruptHandler();
  KILN_TRY_ASSIGN(std::unique_ptr<Env> env, OpenEnv(global));
  KILN_TRY_ASSIGN(RunDir run, OpenRunDir(env->store->root()));
  // The change-aware secret cache's HMAC key stays in the store, never in
  // a cache record or an export (docs/secrets.md).
  std::optional<secrets::SecretValue> secret_cache_key;
  if (!options.value_keyed_secrets.empty()) {
    std::string dir = JoinPath(env->store->root(), "secrets");
    KILN_TRY(MakeDirs(dir, 0700));
    KILN_TRY_ASSIGN(secret_cache_key, secrets::LoadOrCreateCacheKeyKey(JoinPath(dir, "cache.key")));
    options.secret_cache_key = &*secret_cache_key;
  }
  exec::ExecOptions exec_options = run.exec_options;
  std::string run_dir = run.path;
  std::unique_ptr<exec::Executor> executor;
  if (!req.check) {
    KILN_TRY_ASSIGN(executor, exec::NewRuncExecutor(exec_options));
  }
  worker::LocalWorkerOptions worker_options;
  worker_options.scratch_root = run_dir;
  std::unique_ptr<worker::LocalWorker> worker;
  auto process_runner = sys::NewRealProcessRunner();
  std::unique_ptr<solver::Worker> build_worker;  // the local worker plus ADD <url>/<git>
  if (executor) {
    KILN_TRY_ASSIGN(worker, worker::LocalWorker::Create(*env->images, *executor, env->registry.get(),
                                                                   worker_options));
    build_worker = worker::WithRemoteSources(*worker, *env->http, *process_runner);
  }

  auto renderer = shared && shared->progress ? nullptr : NewProgressRenderer(mode, stderr);
  solver::ProgressSink& progress = shared && shared->progress ? *shared->progress : *renderer;
  CollectingDiagnostics diags;
  {
    // Build-arg hygiene: a build arg that carries a secret's value, or whose
    // name looks secret, ends up in the image history.
    std::vector<std::pair<std::string, std::string>> args(options.build_args.begin(), options.build_args.end());
    secrets::CheckBuildArgs(args, secret_store, diags);
  }
  if (worker) KILN_TRY(worker::ImportCaches(*env->images, env->registry.get(), req.cache_from, diags));
  Result<solver::BuildResult> built = [&]() -> Result<solver::BuildResult> {
    if (!worker) {
      // --check never touches a worker: Build returns after the checks.
      struct CheckWorker : solver::Worker {
        Result<solver::ImageState> ResolveImage(const std::string&, solver::PullPolicy, solver::ProgressSink&,
                                                int) override {
          return Fail(Error::Unsupported("no worker"));
        }
        Result<std::unique_ptr<solver::Rootfs>> Mount(const std::vector<solver::LayerRef>&) override {
          return Fail(Error::Unsupported("no worker"));
        }
        Result<int> Run(solver::Rootfs&, const solver::RunRequest&) override {
          return Fail(Error::Unsupported("no worker"));
        }
        Result<solver::Commit> CommitRootfs(std::unique_ptr<solver::Rootfs>, const Digest&,
                                            const solver::CommitOptions&) override {
          return Fail(Error::Unsupported("no worker"));
        }
        Result<std::optional<solver::Commit>> CacheGet(const std::string&) override {
          return std::optional<solver::Commit>();
        }
        Result<void> CachePut(const std::string&, const solver::Commit&) override { return Ok(); }
        Result<std::string> CacheMountDir(const std::string&) override { return Fail(Error::Unsupported("no worker")); }
        Result<std::unique_ptr<KeyLock>> LockKey(const std::string&) override {
          return Fail(Error::Unsupported("no worker"));
        }
        const std::string& scratch_dir() const override { return dir; }
        std::string dir;
      } check_worker;
      return solver::Build(options, check_worker, progress, diags);
    }
    return solver::Build(options, *build_worker, progress, diags);
  }();
  if (renderer) renderer->Finish();
  std::vector<Warning> warnings = diags.warnings();
  if (!built) {
    PrintWarnings(warnings, mode);
    return Fail(std::move(built).error());
  }
  if (req.check) {
    PrintWarnings(warnings, ProgressMode::kPlain);
    if (built->check_warnings > 0)
      return Fail(Error::Invalid(fmt::format("{} build check warning{} found", built->check_warnings,
                                             built->check_warnings == 1 ? "" : "s")));
    if (mode != ProgressMode::kQuiet) std::fputs("Check complete, no warnings found.\n", stderr);
    return BuildOutcome{};
  }

  // The image lands in the store under its tags, then in each output.
  KILN_TRY_ASSIGN(worker::StoredImage stored, env->images->Commit(built->image, tags));
  if (!req.cache_to.empty()) {
    KILN_TRY_ASSIGN(stored, worker::ExportCaches(*env->images, env->registry.get(), req.cache_to, stored,
                                                 worker->used_cache_keys(), tags, built->final_keys));
  }
  BuildOutcome outcome;
  outcome.image_id = stored.record.config;
  outcome.manifest = stored.record.manifest;
  outcome.tags = tags;
  for (const auto& out : outputs) {
    KILN_TRY_ASSIGN(std::optional<Digest> pushed, WriteOutput(*env, stored, tags, out));
    if (pushed) outcome.manifest = *pushed;  // what the registry has (layers gzipped)
  }
  if (req.push) {
    if (tags.empty()) return Fail(Error::Usage("--push needs a tag (-t NAME)"));
    for (const auto& t : tags) {
      KILN_TRY_ASSIGN(PushResult pushed, PushStored(*env, stored, t, mode));
      outcome.manifest = pushed.digest;  // what the registry has (layers gzipped)
    }
  }
  if (req.load) KILN_TRY(LoadIntoDocker(*env, stored, tags));
  PrintWarnings(warnings, mode);

  if (!req.iidfile.empty()) KILN_TRY(WriteFile(req.iidfile, outcome.image_id.str()));
  if (!req.metadata_file.empty()) {
    nlohmann::json meta;
    meta["containerimage.config.digest"] = outcome.image_id.str();
    meta["containerimage.digest"] = outcome.manifest.str();
    if (!tags.empty()) meta["image.name"] = Join(tags, ",");
    KILN_TRY(WriteFile(req.metadata_file, meta.dump(2) + "\n"));
  }
  if (mode == ProgressMode::kQuiet && !(shared && shared->progress)) {
    std::printf("%s\n", outcome.image_id.str().c_str());
  } else if (mode == ProgressMode::kRawJson && !(shared && shared->progress)) {
    // rawjson keeps stderr one JSON event per line.
    nlohmann::json done;
    done["event"] = "image";
    done["id"] = outcome.image_id.str();
    done["names"] = tags;
    std::fputs((done.dump() + "\n").c_str(), stderr);
  } else if (mode != ProgressMode::kQuiet && !(shared && shared->progress)) {
    std::string done = fmt::format("writing image {}\n", outcome.image_id.str());
    for (const auto& t : tags) done += fmt::format("naming to {}\n", t);
    std::fputs(done.c_str(), stderr);
  }
  return outcome;
}

}  // namespace kiln::cli
