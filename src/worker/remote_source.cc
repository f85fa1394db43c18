#include "worker/remote_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <map>

#include "base/digest.h"
#include "base/fs.h"
#include "base/strings.h"

extern char** environ;

namespace kiln::worker {

std::optional<int64_t> ParseHttpDate(std::string_view text) {
  std::tm tm{};
  std::string s(TrimSpace(text));
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(::timegm(&tm));
}

Result<solver::FetchedSource> DownloadUrl(registry::HttpClient& http, const std::string& url,
                                          const std::string& filename) {
  KILN_TRY_ASSIGN(TempDir dir, TempDir::Create("kiln-add"));
  std::string path = JoinPath(dir.path(), filename);
  KILN_TRY_ASSIGN(Fd file, OpenFile(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  Sha256 hash;
  registry::BodySink sink = [&](const registry::HttpResponse&, std::string_view chunk) -> Result<void> {
    hash.Update(chunk);
    return WriteAll(file.get(), chunk, path);
  };
  registry::HttpRequest req;
  req.url = url;
  auto resp = http.Send(req, &sink);
  std::string shown = solver::RedactUrl(url);
  if (!resp) {
    // The client's message names the URL as requested; show it redacted.
    Error e = std::move(resp).error();
    std::string message = e.message();
    if (size_t at = message.find(url); at != std::string::npos) message.replace(at, url.size(), shown);
    return Fail(Error(e.code(), message).WithErrno(e.sys_errno()).Wrap("downloading {}", shown));
  }
  if (resp->status == 404) return Fail(Error::NotFound(fmt::format("GET {}: HTTP status 404", shown)));
  if (resp->status < 200 || resp->status >= 300)
    return Fail(Error(ErrorCode::kNetwork, fmt::format("GET {}: HTTP status {}", shown, resp->status)));
  // BuildKit gives downloaded files 0600 whatever the umask, and the
  // server's Last-Modified as mtime.
  if (::fchmod(file.get(), 0600) != 0) return Fail(Error::Io(path, errno, "chmod"));
  if (auto lm = resp->Header("last-modified")) {
    if (auto t = ParseHttpDate(*lm)) {
      struct timespec times[2] = {{*t, 0}, {*t, 0}};
      if (::futimens(file.get(), times) != 0) return Fail(Error::Io(path, errno, "utimens"));
    }
  }
  solver::FetchedSource out;
  out.digest = hash.Finish();
  out.dir = std::make_unique<TempDir>(std::move(dir));
  return out;
}

namespace {

// Runs git with the caller's environment, never prompting for anything,
// and with the local-file and ext transports off (a Dockerfile must not
// read the builder's files or run commands through a remote URL).
Result<sys::ProcessOutput> Git(sys::ProcessRunner& runner, const std::string& dir,
                               std::vector<std::string> args) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  env.push_back("GIT_TERMINAL_PROMPT=0");
  // ssh must not ask about host keys or passphrases on a terminal either.
  if (!std::getenv("GIT_SSH_COMMAND") && !std::getenv("GIT_SSH"))
    env.push_back("GIT_SSH_COMMAND=ssh -o BatchMode=yes");
  std::vector<std::string> argv = {"git", "-c", "protocol.file.allow=never", "-c", "protocol.ext.allow=never",
                                   "-C",  dir};
  argv.insert(argv.end(), args.begin(), args.end());
  return runner.Run(sys::ProcessSpec{argv, env, ""});
}

std::string LastLine(std::string_view text) {
  text = TrimSpace(text);
  size_t nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

bool IsCommitId(std::string_view ref) {
  return ref.size() == 40 && std::all_of(ref.begin(), ref.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

Result<std::string> ResolveGitRef(sys::ProcessRunner& runner, const solver::GitSource& source) {
  if (IsCommitId(source.ref)) return source.ref;
  std::string shown = solver::RedactUrl(source.remote);
  std::string ref = source.ref.empty() ? "HEAD" : source.ref;
  auto out = Git(runner, "/", {"ls-remote", "--", source.remote});
  if (!out) return Fail(std::move(out).error().Wrap("running git for {}", shown));
  if (!out->status.success())
    return Fail(Error(ErrorCode::kNetwork, fmt::format("git ls-remote {}: {}", shown, LastLine(out->err))));
  std::map<std::string, std::string> refs;  // name -> commit
  for (const auto& line : Split(out->out, '\n')) {
    Cut c = CutString(line, '\t');
    if (c.found) refs[std::string(c.second)] = std::string(c.first);
  }
  for (const std::string& name : {ref, "refs/heads/" + ref, "refs/tags/" + ref + "^{}", "refs/tags/" + ref}) {
    if (auto it = refs.find(name); it != refs.end()) return it->second;
  }
  return Fail(Error::NotFound(fmt::format("git ref {} not found in {}", Quote(ref), shown)));
}

Result<solver::FetchedSource> CloneGit(sys::ProcessRunner& runner, const solver::GitSource& source) {
  KILN_TRY_ASSIGN(TempDir dir, TempDir::Create("kiln-git"));
  std::string shown = solver::RedactUrl(source.remote);
  auto run = [&](std::vector<std::string> args) -> Result<sys::ProcessOutput> {
    auto out = Git(runner, dir.path(), std::move(args));
    if (!out) return Fail(std::move(out).error().Wrap("running git for {}", shown));
    return out;
  };
  KILN_TRY_ASSIGN(auto init, run({"init", "-q"}));
  if (!init.status.success()) return Fail(Error::Invalid(fmt::format("git init: {}", LastLine(init.err))));
  KILN_TRY_ASSIGN(auto remote, run({"remote", "add", "origin", "--", source.remote}));
  if (!remote.status.success())
    return Fail(Error::Invalid(fmt::format("git remote add {}: {}", shown, LastLine(remote.err))));
  std::string ref = source.ref.empty() ? "HEAD" : source.ref;
  KILN_TRY_ASSIGN(auto fetch, run({"fetch", "-q", "--depth=1", "--no-tags", "origin", "--", ref}));
  std::string checkout = "FETCH_HEAD";
  if (!fetch.status.success() && IsCommitId(ref)) {
    // Servers that do not serve an unadvertised commit: fetch everything.
    KILN_TRY_ASSIGN(fetch, run({"fetch", "-q", "--no-tags", "origin"}));
    checkout = ref;
  }
  if (!fetch.status.success()) {
    std::string why = LastLine(fetch.err);
    if (why.find("couldn't find remote ref") != std::string::npos ||
        why.find("not our ref") != std::string::npos)
      return Fail(Error::NotFound(fmt::format("git ref {} not found in {}", Quote(ref), shown)));
    return Fail(Error(ErrorCode::kNetwork, fmt::format("git fetch {} {}: {}", shown, ref, why)));
  }
  KILN_TRY_ASSIGN(auto co, run({"checkout", "-q", "--detach", checkout}));
  if (!co.status.success())
    return Fail(
        Error::NotFound(fmt::format("git ref {} not found in {}: {}", Quote(ref), shown, LastLine(co.err))));
  // Submodules come along, as BuildKit's git source fetches them.
  if (PathExists(JoinPath(dir.path(), ".gitmodules"))) {
    KILN_TRY_ASSIGN(auto sub, run({"submodule", "update", "-q", "--init", "--recursive", "--depth=1"}));
    if (!sub.status.success())
      return Fail(Error(ErrorCode::kNetwork,
                        fmt::format("git submodule update in {}: {}", shown, LastLine(sub.err))));
  }
  KILN_TRY_ASSIGN(auto head, run({"rev-parse", "HEAD"}));
  if (!head.status.success())
    return Fail(Error::Invalid(fmt::format("git rev-parse HEAD: {}", LastLine(head.err))));
  solver::FetchedSource out;
  out.commit = std::string(TrimSpace(head.out));
  if (!source.keep_git_dir) {
    // Submodules' .git files point into the top .git; both go.
    KILN_TRY_ASSIGN(auto subs,
                    run({"submodule", "foreach", "--quiet", "--recursive", "echo \"$displaypath\""}));
    for (const auto& path : Split(std::string(TrimSpace(subs.out)), '\n'))
      if (!path.empty()) KILN_TRY(RemoveAll(JoinPath(JoinPath(dir.path(), path), ".git")));
    KILN_TRY(RemoveAll(JoinPath(dir.path(), ".git")));
  }
  out.dir = std::make_unique<TempDir>(std::move(dir));
  return out;
}

namespace {

class RemoteSourceWorker : public solver::Worker {
 public:
  RemoteSourceWorker(solver::Worker& inner, registry::HttpClient& http, sys::ProcessRunner& runner)
      : inner_(inner), http_(http), runner_(runner) {}

  Result<solver::ImageState> ResolveImage(const std::string& ref, solver::PullPolicy policy,
                                          solver::ProgressSink& progress, int step) override {
    return inner_.ResolveImage(ref, policy, progress, step);
  }
  Result<std::unique_ptr<solver::Rootfs>> Mount(const std::vector<solver::LayerRef>& layers) override {
    return inner_.Mount(layers);
  }
  Result<int> Run(solver::Rootfs& rootfs, const solver::RunRequest& request) override {
    return inner_.Run(rootfs, request);
  }
  Result<solver::Commit> CommitRootfs(std::unique_ptr<solver::Rootfs> rootfs, const Digest& parent_chain,
                                      const solver::CommitOptions& options) override {
    return inner_.CommitRootfs(std::move(rootfs), parent_chain, options);
  }
  Result<std::optional<solver::Commit>> CacheGet(const std::string& key) override {
    return inner_.CacheGet(key);
  }
  Result<void> CachePut(const std::string& key, const solver::Commit& commit) override {
    return inner_.CachePut(key, commit);
  }
  Result<std::string> CacheMountDir(const std::string& id) override { return inner_.CacheMountDir(id); }
  Result<std::unique_ptr<KeyLock>> LockKey(const std::string& key) override { return inner_.LockKey(key); }
  const std::string& scratch_dir() const override { return inner_.scratch_dir(); }
  Result<solver::FetchedSource> FetchUrl(const std::string& url, const std::string& filename) override {
    return DownloadUrl(http_, url, filename);
  }
  Result<std::string> ResolveGit(const solver::GitSource& source) override {
    return ResolveGitRef(runner_, source);
  }
  Result<solver::FetchedSource> FetchGit(const solver::GitSource& source) override {
    return CloneGit(runner_, source);
  }

 private:
  solver::Worker& inner_;
  registry::HttpClient& http_;
  sys::ProcessRunner& runner_;
};

}  // namespace

std::unique_ptr<solver::Worker> WithRemoteSources(solver::Worker& inner, registry::HttpClient& http,
                                                  sys::ProcessRunner& runner) {
  return std::make_unique<RemoteSourceWorker>(inner, http, runner);
}

}  // namespace kiln::worker
