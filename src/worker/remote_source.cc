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

// Credentials in a git remote's URL reach git through the environment of
// the one git process that needs them, never its argv (world-readable in
// /proc) and never .git/config or FETCH_HEAD (which git fills with the URL
// it is given, and which --keep-git-dir puts in the layer). This inline
// credential helper hands them over. It answers only for the remote's own
// protocol and host, so a submodule or a redirect elsewhere does not get
// them, and prints them with printf, a shell builtin, so they are never an
// argv either. The values come from variables git's children inherit.
constexpr std::string_view kCredentialHelper =
    "!f() { test \"$1\" = get || exit 0; p= h=; "
    "while IFS= read -r l; do case \"$l\" in protocol=*) p=${l#protocol=};; host=*) h=${l#host=};; esac; "
    "done; "
    "if test \"$p\" = \"$KILN_GIT_AUTH_PROTOCOL\" && test \"$h\" = \"$KILN_GIT_AUTH_HOST\"; then "
    "printf 'username=%s\\npassword=%s\\n' \"$KILN_GIT_AUTH_USERNAME\" \"$KILN_GIT_AUTH_PASSWORD\"; fi; }; f";

// A remote as git is given it: `url` without user info, and `auth` the
// KILN_GIT_AUTH_* variables for kCredentialHelper (empty when the URL has
// no user info). `auth` is wiped when the value goes.
struct GitRemote {
  std::string url;
  std::vector<std::string> auth;

  GitRemote() = default;
  GitRemote(GitRemote&&) = default;
  GitRemote& operator=(GitRemote&&) = default;
  ~GitRemote() { WipeStrings(auth); }
};

// "%41" -> "A". nullopt for a malformed escape.
std::optional<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int value = 0;
    for (size_t j = i + 1; j < i + 3; ++j) {
      char c = j < s.size() ? s[j] : '\0';
      int digit = c >= '0' && c <= '9'   ? c - '0'
                  : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                         : -1;
      if (digit < 0) {
        WipeString(out);
        return std::nullopt;
      }
      value = value * 16 + digit;
    }
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

// Splits the user info off `remote`. For http(s), git reads
// "user:password@" as basic-auth credentials (percent-decoded), and a user
// name alone as the user with an empty password (how tokens are often given:
// https://TOKEN@host/repo). Both move to the environment, the user name too,
// so git's argv never holds user info at all. What kiln shows (errors, cache
// records, history, a kept .git) is solver::RedactUrl's form, BuildKit's:
// the password redacted, a user name kept. Other schemes keep a plain user
// name (ssh://git@host/repo logs in as "git"); a password there is kInvalid,
// as git would put it on a command line. Errors show the URL redacted.
Result<GitRemote> SplitGitRemote(const std::string& remote) {
  GitRemote out;
  out.url = remote;
  size_t scheme_end = remote.find("://");
  if (scheme_end == std::string::npos) return out;
  size_t start = scheme_end + 3;
  size_t end = remote.find_first_of("/?#", start);
  if (end == std::string::npos) end = remote.size();
  size_t at = remote.rfind('@', end);
  if (at == std::string::npos || at < start) return out;
  std::string_view userinfo = std::string_view(remote).substr(start, at - start);
  Cut cut = CutString(userinfo, ':');
  std::string scheme = remote.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    if (!cut.found) return out;
    return Fail(Error::Invalid(
        fmt::format("git remote {}: {} URLs cannot carry a password", solver::RedactUrl(remote), scheme)));
  }
  std::optional<std::string> user = PercentDecode(cut.first);
  std::optional<std::string> password = PercentDecode(cut.found ? cut.second : "");
  // A newline would end git's credential record early (and git refuses it).
  auto bad = [](const std::optional<std::string>& s) {
    return !s || s->find_first_of("\n\r", 0) != std::string::npos || s->find('\0') != std::string::npos;
  };
  if (bad(user) || bad(password)) {
    if (user) WipeString(*user);
    if (password) WipeString(*password);
    return Fail(
        Error::Invalid(fmt::format("git remote {}: malformed user info (bad %-escape or a control character)",
                                   solver::RedactUrl(remote))));
  }
  out.url = remote.substr(0, start) + remote.substr(at + 1);
  out.auth = {"KILN_GIT_AUTH_PROTOCOL=" + scheme, "KILN_GIT_AUTH_HOST=" + remote.substr(at + 1, end - at - 1),
              "KILN_GIT_AUTH_USERNAME=" + *user, "KILN_GIT_AUTH_PASSWORD=" + *password};
  WipeString(*user);
  WipeString(*password);
  return out;
}

// Runs git with the caller's environment, never prompting for anything,
// and with the local-file and ext transports off (a Dockerfile must not
// read the builder's files or run commands through a remote URL). With
// `remote`'s credentials, the user's own credential helpers are switched
// off (they would be asked to store them) and so is git's tracing (which
// can log the Authorization header).
Result<sys::ProcessOutput> Git(sys::ProcessRunner& runner, const std::string& dir, const GitRemote& remote,
                               std::vector<std::string> args) {
  bool with_auth = !remote.auth.empty();
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view var = *e;
    if (StartsWith(var, "KILN_GIT_AUTH_")) continue;
    if (with_auth && (StartsWith(var, "GIT_TRACE") || StartsWith(var, "GIT_CURL_VERBOSE="))) continue;
    env.emplace_back(var);
  }
  env.push_back("GIT_TERMINAL_PROMPT=0");
  // ssh must not ask about host keys or passphrases on a terminal either.
  if (!std::getenv("GIT_SSH_COMMAND") && !std::getenv("GIT_SSH"))
    env.push_back("GIT_SSH_COMMAND=ssh -o BatchMode=yes");
  env.insert(env.end(), remote.auth.begin(), remote.auth.end());
  std::vector<std::string> argv = {"git", "-c", "protocol.file.allow=never", "-c",
                                   "protocol.ext.allow=never"};
  if (with_auth) {
    // An empty value empties the helper list read so far: every config
    // file's helpers come before the command line's.
    argv.insert(argv.end(),
                {"-c", "credential.helper=", "-c", "credential.helper=" + std::string(kCredentialHelper)});
  }
  argv.insert(argv.end(), {"-C", dir});
  argv.insert(argv.end(), args.begin(), args.end());
  auto out = runner.Run(sys::ProcessSpec{argv, env, ""});
  WipeStrings(env);
  return out;
}

std::string LastLine(std::string_view text) {
  text = TrimSpace(text);
  size_t nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

// kAuth when git says the remote refused its credentials or wanted some
// (it cannot prompt), else kNetwork.
ErrorCode GitReadError(std::string_view why) {
  bool auth = why.find("Authentication failed") != std::string_view::npos ||
              why.find("could not read Username") != std::string_view::npos ||
              why.find("could not read Password") != std::string_view::npos;
  return auth ? ErrorCode::kAuth : ErrorCode::kNetwork;
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
  KILN_TRY_ASSIGN(GitRemote remote, SplitGitRemote(source.remote));
  auto out = Git(runner, "/", remote, {"ls-remote", "--", remote.url});
  if (!out) return Fail(std::move(out).error().Wrap("running git for {}", shown));
  if (!out->status.success()) {
    std::string why = LastLine(out->err);
    return Fail(Error(GitReadError(why), fmt::format("git ls-remote {}: {}", shown, why)));
  }
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
  KILN_TRY_ASSIGN(GitRemote remote, SplitGitRemote(source.remote));
  auto run = [&](std::vector<std::string> args) -> Result<sys::ProcessOutput> {
    auto out = Git(runner, dir.path(), remote, std::move(args));
    if (!out) return Fail(std::move(out).error().Wrap("running git for {}", shown));
    return out;
  };
  KILN_TRY_ASSIGN(auto init, run({"init", "-q"}));
  if (!init.status.success()) return Fail(Error::Invalid(fmt::format("git init: {}", LastLine(init.err))));
  KILN_TRY_ASSIGN(auto add, run({"remote", "add", "origin", "--", remote.url}));
  if (!add.status.success())
    return Fail(Error::Invalid(fmt::format("git remote add {}: {}", shown, LastLine(add.err))));
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
    return Fail(Error(GitReadError(why), fmt::format("git fetch {} {}: {}", shown, ref, why)));
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
  if (source.keep_git_dir && remote.url != source.remote) {
    // What BuildKit leaves in a kept .git: the remote with its password
    // redacted, so a `git pull` in the image knows where from but not how.
    KILN_TRY_ASSIGN(auto set, run({"remote", "set-url", "origin", "--", shown}));
    if (!set.status.success())
      return Fail(Error::Invalid(fmt::format("git remote set-url {}: {}", shown, LastLine(set.err))));
  }
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
  solver::FileDigestCache* digest_cache() override { return inner_.digest_cache(); }
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
