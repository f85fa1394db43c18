// Instruction semantics: one stage of a Dockerfile, instruction by
// instruction, as BuildKit's dockerfile2llb gives them meaning.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "archive/compression.h"
#include "archive/layer.h"
#include "archive/stream.h"
#include "base/fs.h"
#include "base/strings.h"
#include "dockerfile/parser.h"
#include "image/reference.h"
#include "secrets/cache_token.h"
#include "secrets/mounter.h"
#include "secrets/source.h"
#include "secrets/ssh_agent.h"
#include "solver/builder_internal.h"
#include "solver/copy.h"
#include "solver/users.h"

namespace kiln::solver {

namespace df = kiln::dockerfile;

namespace {

std::string JsonArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i) out += ",";
    out += Quote(items[i]);
  }
  return out + "]";
}

// Go's fmt "%q" of a []string, which BuildKit uses for CMD/ENTRYPOINT
// history: ["a" "b"].
std::string GoQuotedList(const std::vector<std::string>& items) {
  std::vector<std::string> quoted;
  for (const auto& i : items) quoted.push_back(Quote(i));
  return "[" + Join(quoted, " ") + "]";
}

// Go's time.Duration.String() of `ns` nanoseconds: "0s", "1.5s", "1m30s",
// "250ms".
std::string GoDuration(int64_t ns) {
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-ns) : static_cast<uint64_t>(ns);
  auto fraction = [](uint64_t whole, uint64_t frac, int digits) {
    std::string f = fmt::format("{:0{}}", frac, digits);
    while (!f.empty() && f.back() == '0') f.pop_back();
    return f.empty() ? std::to_string(whole) : fmt::format("{}.{}", whole, f);
  };
  if (u < 1'000) return sign + std::to_string(u) + "ns";
  if (u < 1'000'000) return sign + fraction(u / 1'000, u % 1'000, 3) + "\u00b5s";
  if (u < 1'000'000'000) return sign + fraction(u / 1'000'000, u % 1'000'000, 6) + "ms";
  uint64_t secs = u / 1'000'000'000;
  std::string out = fraction(secs % 60, u % 1'000'000'000, 9) + "s";
  if (secs >= 60) out = std::to_string((secs / 60) % 60) + "m" + out;
  if (secs >= 3600) out = std::to_string(secs / 3600) + "h" + out;
  return sign + out;
}

// Go's "%q" of an int (a rune literal): 'A', '\x03', '\n'.
std::string GoQuotedRune(int64_t v) {
  switch (v) {
    case 7: return "'\\a'";
    case 8: return "'\\b'";
    case 9: return "'\\t'";
    case 10: return "'\\n'";
    case 11: return "'\\v'";
    case 12: return "'\\f'";
    case 13: return "'\\r'";
    case '\'': return "'\\''";
    case '\\': return "'\\\\'";
    default: break;
  }
  if (v >= 0x20 && v < 0x7f) return fmt::format("'{}'", static_cast<char>(v));
  if (v >= 0 && v < 0x80) return fmt::format("'\\x{:02x}'", v);
  return fmt::format("'\\u{:04x}'", v);
}

void SetEnv(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  std::string prefix = key + "=";
  for (auto& e : env) {
    if (e.starts_with(prefix)) {
      e = prefix + value;
      return;
    }
  }
  env.push_back(prefix + value);
}

bool HasEnv(const std::vector<std::string>& env, const std::string& key) {
  std::string prefix = key + "=";
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) { return e.starts_with(prefix); });
}

Result<uint32_t> ParseOctal(const std::string& text, const SourceLoc& loc, std::string_view what) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 8);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size() || v > 07777)
    return Fail(Error::Syntax(loc, fmt::format("invalid {} {}: want an octal mode such as 755", what, Quote(text))));
  return v;
}

// Where a `RUN <<EOF` script starting with "#!" is mounted (BuildKit's path).
constexpr std::string_view kScriptDir = "/dev/pipes";

// "<<EOF", "<<-EOF", "<<'EOF'", "<<\"EOF\"": the marker of heredoc `name`.
bool IsHeredocMarker(std::string_view text, const std::string& name) {
  if (!text.starts_with("<<")) return false;
  text.remove_prefix(2);
  if (text.starts_with('-')) text.remove_prefix(1);
  if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') && text.back() == text.front())
    text = text.substr(1, text.size() - 2);
  return text == name;
}

// ADD of a local tar archive (plain, gzip or zstd) unpacks it into the
// destination directory, as BuildKit does. Returns false when `src` is not
// an archive, so it is copied as a file.
Result<bool> ExtractLocalArchive(int source_fd, const std::string& src, int root_fd, const std::string& dest) {
  auto file = OpenInRoot(source_fd, src, O_RDONLY);
  if (!file) return false;
  struct stat st;
  if (::fstat(file->get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
  char head[512] = {};
  ssize_t n = ::pread(file->get(), head, sizeof head, 0);
  if (n < 4) return false;
  auto compression = archive::SniffCompression(std::string_view(head, static_cast<size_t>(n)));
  bool plain_tar = n >= 262 && std::string_view(head + 257, 5) == "ustar";
  if (compression == archive::Compression::kNone && !plain_tar) return false;
  KILN_TRY(MkdirAllInRoot(root_fd, dest, 0, 0));
  KILN_TRY_ASSIGN(Fd dir, OpenInRoot(root_fd, dest, O_RDONLY | O_DIRECTORY));
  archive::FdSource in(file->get(), src);
  archive::ApplyOptions opt;
  opt.whiteout_mode = archive::WhiteoutMode::kApply;
  opt.label = src;
  // The destination was resolved inside the image root; the archive is
  // applied below that descriptor, never through a host path.
  auto r = archive::ApplyLayer(in, fmt::format("/proc/self/fd/{}", dir.get()), opt);
  if (!r) return Fail(std::move(r).error().Wrap("extracting {} to {}", src, dest));
  return true;
}

// Go's url.PathUnescape, leaving malformed escapes as written.
std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The decoded path of "scheme://host/path?query#fragment".
std::string UrlPath(std::string_view url) {
  size_t scheme = url.find("://");
  std::string_view rest = scheme == std::string_view::npos ? url : url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("?#"));
  size_t slash = rest.find('/');
  return slash == std::string_view::npos ? "" : PercentDecode(rest.substr(slash));
}

// "ref:subdir" of a git URL's fragment into `out`.
void SplitGitFragment(std::string_view fragment, SourceKind& out) {
  Cut c = CutString(fragment, ':');
  out.git.ref = std::string(c.first);
  out.subdir = std::string(c.second);
}

class StageBuilder {
 public:
  StageBuilder(BuildShared& shared, int stage)
      : shared_(shared), stage_(stage), df_stage_(shared.dockerfile.stages[stage]) {}

  Result<StageResult> Run();

 private:
  // Helpers per instruction kind.
  Result<void> Dispatch(const df::Instruction& ins);
  Result<void> DoRun(const df::Instruction& ins);
  Result<void> DoCopy(const df::Instruction& ins, bool is_add);
  // COPY of directory `src` (from `source_fd`) to `dest` where the image has
  // nothing yet or an empty directory, written into the rootfs's upper dir.
  // False when that does not apply and the copy is still to be done.
  Result<bool> CopyIntoEmptyDir(Rootfs& rootfs, int source_fd, const std::string& src, const std::string& dest,
                              const std::string& link_key, CopyOptions opt);
  Result<void> DoWorkdir(const df::Instruction& ins);
  void History(const std::string& created_by, bool empty_layer);
  std::string StepName(const df::Instruction& ins, int index) const;
  SourceLoc Loc(const df::Instruction& ins) const { return ins.loc; }

  // A filesystem step: looks `key` up in the cache, else runs `make` on a
  // writable root over the current layers and commits it.
  using MakeFn = std::function<Result<void>(Rootfs& rootfs, CommitOptions& commit)>;
  // Allocates the step number (current_step_) that `make` reports under.
  Result<void> FilesystemStep(const std::string& record, const df::Instruction& ins, bool cacheable,
                              const MakeFn& make, bool* empty_layer);

  Result<ImageState> ResolveSource(const std::string& from, const SourceLoc& loc, std::string* key, int step = 0);
  // `from` as a --build-context name or an image reference, never a stage.
  Result<ImageState> ResolveNamed(const std::string& from, const SourceLoc& loc, std::string* key, int step);
  // The --build-context NAME=DIR called `name` (it wins over a stage of
  // that name, as in BuildKit).
  const LocalContext* FindLocalContext(const std::string& name) const;
  // `FROM name` of a --build-context directory: a one-layer image of its
  // files (without those its .dockerignore excludes), cached by content.
  Result<ImageState> ImageFromContext(const std::string& name, const LocalContext& context, std::string* key);

  // One remote source of an ADD.
  struct RemoteAdd {
    std::string src;  // as written, for messages
    SourceKind kind;
    std::optional<Digest> checksum;        // --checksum
    std::optional<FetchedSource> fetched;  // unset until fetched on a cache miss (git, --checksum)
    std::string commit;                    // git: the commit the ref resolved to
    bool keep_git_dir = false;
    std::string record;                    // its line of the cache key record
  };
  // Makes the cache record of a remote source: downloads a URL without
  // --checksum, resolves a git ref to its commit.
  Result<RemoteAdd> FetchRemote(const std::string& src, const SourceKind& kind, const df::CopyArgs& args,
                                const SourceLoc& loc);
  // Copies a remote source to `dest` in the root (fetching it first when
  // deferred, then checking --checksum).
  Result<void> CopyRemote(RemoteAdd& remote, int root_fd, const std::string& dest, const CopyOptions& opt);
  std::vector<std::string> RunEnv() const;
  // The cache key line of an opted-in secret ("secret-token ID
  // hmac-sha256:..."), "" for the others.
  Result<std::string> SecretCacheRecord(const std::string& id) const;
  std::string ShellCreatedBy(const std::vector<std::string>& argv, bool shell_form) const;

  BuildShared& shared_;
  int stage_;
  const df::Stage& df_stage_;
  std::string label_;  // "[build 2/5]" prefix
  int total_ = 0;
  ImageState image_;
  std::string key_;
  // Every step key behind the stage's result, parents first (mode=min).
  std::vector<std::string> keys_;
  std::unique_ptr<df::StageEvaluator> eval_;
  bool cmd_set_in_stage_ = false;
  int current_index_ = 1;  // i of "[i/n]" for the instruction being built
  int current_step_ = 0;   // progress step number of the running filesystem step
  bool no_cache_ = false;
};

std::string StageBuilder::StepName(const df::Instruction& ins, int index) const {
  std::string text = ins.original;
  // Collapse continuation newlines so a step is one line in the progress view.
  std::replace(text.begin(), text.end(), '\n', ' ');
  // An ADD URL's password stays out of the progress view, as out of history.
  if (ins.kind == df::Kind::kAdd) {
    for (const auto& src : ins.As<df::CopyArgs>().sources) {
      if (size_t at = text.find(src); at != std::string::npos) text.replace(at, src.size(), RedactUrl(src));
    }
  }
  if (label_.empty()) return fmt::format("[{}/{}] {}", index, total_, text);
  return fmt::format("[{} {}/{}] {}", label_, index, total_, text);
}

void StageBuilder::History(const std::string& created_by, bool empty_layer) {
  image::History h;
  h.created = shared_.created;
  h.created_by = created_by;
  h.comment = "buildkit.dockerfile.v0";
  h.empty_layer = empty_layer;
  image_.config.history.push_back(std::move(h));
}

std::vector<std::string> StageBuilder::RunEnv() const {
  std::vector<std::string> env = eval_->RunEnv();
  if (!HasEnv(env, "PATH")) env.insert(env.begin(), std::string("PATH=") + kDefaultPath);
  return env;
}

Result<std::string> StageBuilder::SecretCacheRecord(const std::string& id) const {
  const BuildOptions& o = shared_.options;
  if (!o.value_keyed_secrets.contains(id) || !o.secrets) return std::string();
  const secrets::SecretValue* value = o.secrets->Find(id);
  if (!value) return std::string();
  if (!o.secret_cache_key)
    return Fail(Error::Invalid(fmt::format("secret {}: no secret cache key", Quote(id))));
  KILN_TRY_ASSIGN(std::string token, secrets::SecretCacheToken(*o.secret_cache_key, value->view()));
  return fmt::format("secret-token {} {}\n", id, token);
}

Result<ImageState> StageBuilder::ResolveSource(const std::string& from, const SourceLoc& loc, std::string* key,
                                                int step) {
  if (auto idx = df::FindStage(shared_.dockerfile, from)) {
    if (*idx >= stage_)
      return Fail(Error::Syntax(loc, fmt::format("stage {} must be defined before it is used", Quote(from))));
    KILN_TRY_ASSIGN(StageResult r, WaitStage(shared_, *idx));
    *key = r.cache_key;
    return r.image;
  }
  return ResolveNamed(from, loc, key, step);
}

Result<ImageState> StageBuilder::ResolveNamed(const std::string& from, const SourceLoc& loc, std::string* key,
                                              int step) {
  if (const LocalContext* local = FindLocalContext(from)) return ImageFromContext(from, *local, key);
  auto named = shared_.options.named_contexts.find(from);
  std::string ref_text = from;
  if (named != shared_.options.named_contexts.end() && named->second.starts_with("docker-image://"))
    ref_text = named->second.substr(15);
  auto ref = image::Reference::Parse(ref_text);
  if (!ref) return Fail(Error(ref.error()).At(loc));
  if (step == 0) step = NextStep(shared_);
  auto img = shared_.worker.ResolveImage(ref->String(), shared_.options.pull, shared_.progress, step);
  if (!img) {
    Error e = std::move(img).error();
    e.At(loc);
    // A misspelt stage name reads as an image reference; say so.
    std::vector<std::string> stages;
    for (const auto& s : shared_.dockerfile.stages)
      if (!s.name.empty()) stages.push_back(s.name);
    if (std::string near = Spellcheck(from, stages); !near.empty() && e.hint().empty())
      e.WithHint(fmt::format("{} is not a stage of this Dockerfile, so it was read as an image; did you mean stage {}?",
                             Quote(from), Quote(near)));
    return Fail(std::move(e));
  }
  *key = ChainKey("image", img->source.str());
  return *img;
}

const LocalContext* StageBuilder::FindLocalContext(const std::string& name) const {
  if (name.empty()) return nullptr;
  auto it = shared_.local_contexts.find(name);
  return it == shared_.local_contexts.end() ? nullptr : &it->second;
}

Result<ImageState> StageBuilder::ImageFromContext(const std::string& name, const LocalContext& context,
                                                  std::string* key) {
  ExcludeFn excluded = [&context](const std::string& p) { return context.ignore.Matches(p); };
  ExcludeFn can_skip_dir = [&context](const std::string& p) { return context.ignore.CanSkipDir(p); };
  KILN_TRY_ASSIGN(Digest content, HashPath(context.fd.get(), ".", excluded, can_skip_dir, shared_.worker.digest_cache()));
  *key = ChainKey("context:" + name, content.str());
  Worker& worker = shared_.worker;
  ImageState image;
  KILN_TRY_ASSIGN(auto lock, worker.LockKey(*key));
  KILN_TRY_ASSIGN(std::optional<Commit> hit, worker.CacheGet(*key));
  if (!hit) {
    KILN_TRY_ASSIGN(auto rootfs, worker.Mount({}));
    CopyOptions opt;
    opt.excluded = excluded;
    opt.can_skip_dir = can_skip_dir;
    KILN_TRY(CopyPath(context.fd.get(), ".", rootfs->fd(), "/", DestKind::kDirectory, opt));
    KILN_TRY_ASSIGN(Commit commit, worker.CommitRootfs(std::move(rootfs), Digest(), CommitOptions{}));
    KILN_TRY(worker.CachePut(*key, commit));
    hit = std::move(commit);
  }
  if (hit->layer) image.layers.push_back(*hit->layer);
  return image;
}

Result<StageBuilder::RemoteAdd> StageBuilder::FetchRemote(const std::string& src, const SourceKind& kind,
                                                          const df::CopyArgs& args, const SourceLoc& loc) {
  RemoteAdd remote;
  remote.src = src;
  remote.kind = kind;
  if (!args.checksum.empty() && kind.kind == SourceKind::Kind::kHttp) {
    auto d = Digest::Parse(args.checksum);
    if (!d || d->algorithm() != "sha256")
      return Fail(Error::Syntax(
          loc, fmt::format("invalid --checksum {}: want sha256:<64 hex digits>", Quote(args.checksum))));
    remote.checksum = *d;
  }
  Worker& worker = shared_.worker;
  if (kind.kind == SourceKind::Kind::kHttp) {
    // BuildKit keys a download by its checksum when one is given (no
    // download on a cache hit), else by the content it just downloaded.
    if (remote.checksum) {
      remote.record =
          fmt::format("url {} file={} checksum={}\n", RedactUrl(src), kind.filename, remote.checksum->str());
      return remote;
    }
    auto fetched = worker.FetchUrl(src, kind.filename);
    if (!fetched) return Fail(std::move(fetched).error().At(loc));
    remote.record =
        fmt::format("url {} file={} content={}\n", RedactUrl(src), kind.filename, fetched->digest.str());
    remote.fetched = std::move(*fetched);
    return remote;
  }
  // BuildKit keys a git source by the commit its ref resolves to, and
  // clones only on a cache miss.
  GitSource git = kind.git;
  git.keep_git_dir = args.keep_git_dir;
  auto commit = worker.ResolveGit(git);
  if (!commit) return Fail(std::move(commit).error().At(loc));
  if (!args.checksum.empty() && args.checksum != *commit)
    return Fail(
        Error(ErrorCode::kDigestMismatch, fmt::format("checksum mismatch for {}: expected commit {}, got {}",
                                                      RedactUrl(src), args.checksum, *commit))
            .At(loc));
  remote.record = fmt::format("git {} ref={} subdir={} keep-git-dir={} commit={}\n", RedactUrl(git.remote),
                              git.ref, kind.subdir, git.keep_git_dir, *commit);
  remote.commit = *commit;
  remote.keep_git_dir = git.keep_git_dir;
  return remote;
}

Result<void> StageBuilder::CopyRemote(RemoteAdd& remote, int root_fd, const std::string& dest,
                                      const CopyOptions& opt) {
  if (!remote.fetched && remote.kind.kind == SourceKind::Kind::kHttp) {
    KILN_TRY_ASSIGN(remote.fetched, shared_.worker.FetchUrl(remote.src, remote.kind.filename));
  } else if (!remote.fetched) {
    // The commit the key was made from, not whatever the ref names now.
    GitSource git = remote.kind.git;
    git.ref = remote.commit;
    git.keep_git_dir = remote.keep_git_dir;
    KILN_TRY_ASSIGN(remote.fetched, shared_.worker.FetchGit(git));
  }
  if (remote.checksum && remote.fetched->digest != *remote.checksum)
    return Fail(Error(ErrorCode::kDigestMismatch,
                      fmt::format("checksum mismatch for {}: expected {}, got {}", RedactUrl(remote.src),
                                  remote.checksum->str(), remote.fetched->digest.str())));
  KILN_TRY_ASSIGN(Fd dir, OpenFile(remote.fetched->dir->path(), O_RDONLY | O_DIRECTORY));
  if (remote.kind.kind == SourceKind::Kind::kHttp)
    return CopyPath(dir.get(), remote.kind.filename, root_fd, dest,
                    dest.ends_with('/') ? DestKind::kDirectory : DestKind::kAuto, opt);
  // A git tree (or its subdir) is copied as a directory: its contents land in dest.
  return CopyPath(dir.get(), remote.kind.subdir.empty() ? "." : remote.kind.subdir, root_fd, dest,
                  DestKind::kAuto, opt);
}

Result<StageResult> StageBuilder::Run() {
  const auto& info = shared_.stage_info[stage_];
  if (shared_.dockerfile.stages.size() > 1)
    label_ = df_stage_.name.empty() ? fmt::format("stage-{}", stage_) : df_stage_.name;
  total_ = static_cast<int>(df_stage_.instructions.size()) + 1;
  no_cache_ = shared_.options.no_cache ||
              std::find(shared_.options.no_cache_filter.begin(), shared_.options.no_cache_filter.end(),
                        df_stage_.name) != shared_.options.no_cache_filter.end();

  // BuildKit replaces a stage with the --build-context of the same name:
  // its instructions do not run.
  if (!df_stage_.name.empty() && shared_.options.named_contexts.contains(df_stage_.name)) {
    int step = NextStep(shared_);
    std::string name = fmt::format("[{}] FROM {}", label_.empty() ? df_stage_.name : label_,
                                   shared_.options.named_contexts.at(df_stage_.name));
    Emit(shared_, ProgressEvent::Kind::kStepStarted, step, name);
    std::string key;
    auto replaced = ResolveNamed(df_stage_.name, df_stage_.from.loc, &key, step);
    if (!replaced) {
      Emit(shared_, ProgressEvent::Kind::kStepFailed, step, name, replaced.error().message());
      return Fail(std::move(replaced).error());
    }
    Emit(shared_, ProgressEvent::Kind::kStepDone, step, name);
    df::Scope scope = df::StageEvaluator::StartScope(replaced->config.config.env);
    return StageResult{std::move(*replaced), std::move(scope), key, {key}};
  }

  // FROM.
  df::Scope start;
  if (info.base.kind == df::StageDep::Kind::kStage) {
    KILN_TRY_ASSIGN(StageResult parent, WaitStage(shared_, info.base.stage));
    image_ = parent.image;
    key_ = parent.cache_key;
    keys_ = parent.keys;
    start = parent.scope;
    int step = NextStep(shared_);
    Emit(shared_, ProgressEvent::Kind::kStepCached, step, StepName(df_stage_.from, 1));
  } else if (info.base.image == "scratch") {
    image_ = ImageState{};
    key_ = ChainKey("", "scratch");
    start = df::StageEvaluator::StartScope({});
  } else {
    int step = NextStep(shared_);
    std::string name = StepName(df_stage_.from, 1);
    Emit(shared_, ProgressEvent::Kind::kStepStarted, step, name);
    auto base = ResolveSource(info.base.image, df_stage_.from.loc, &key_, step);
    if (!base) {
      Emit(shared_, ProgressEvent::Kind::kStepFailed, step, name, base.error().message());
      return Fail(std::move(base).error());
    }
    image_ = std::move(*base);
    keys_.push_back(key_);
    Emit(shared_, ProgressEvent::Kind::kStepDone, step, name);
    start = df::StageEvaluator::StartScope(image_.config.config.env);
  }
  image_.source = Digest();
  image_.config.architecture = shared_.eval.target_platform.arch;
  image_.config.os = shared_.eval.target_platform.os;
  if (!HasEnv(image_.config.config.env, "PATH")) {
    image_.config.config.env.insert(image_.config.config.env.begin(), std::string("PATH=") + kDefaultPath);
    start.SetEnv("PATH", kDefaultPath);
  }
  eval_ = std::make_unique<df::StageEvaluator>(shared_.global_scope, shared_.eval, start);

  // ONBUILD triggers of the base image run first, then are consumed.
  std::vector<std::string> triggers = std::move(image_.config.config.on_build);
  image_.config.config.on_build.clear();
  if (!triggers.empty()) {
    std::string text = "FROM scratch\n";
    for (const auto& t : triggers) text += t + "\n";
    KILN_TRY_ASSIGN(df::Dockerfile onbuild, df::Parse(text, "ONBUILD"));
    for (const auto& ins : onbuild.stages[0].instructions) {
      KILN_TRY_ASSIGN(df::Instruction expanded, eval_->Step(ins));
      KILN_TRY(Dispatch(expanded));
    }
  }

  current_index_ = 1;
  for (const auto& ins : df_stage_.instructions) {
    ++current_index_;
    if (shared_.failed) return Fail(Error(ErrorCode::kInterrupted, std::string(kCanceled)));
    auto expanded = eval_->Step(ins);
    if (!expanded) return Fail(std::move(expanded).error());
    auto r = Dispatch(*expanded);
    if (!r) {
      Error e = std::move(r).error();
      if (!e.loc()) e.At(ins.loc);
      return Fail(std::move(e));
    }
  }
  return StageResult{std::move(image_), eval_->scope(), key_, std::move(keys_)};
}

Result<void> StageBuilder::Dispatch(const df::Instruction& ins) {
  auto& cfg = image_.config.config;
  auto metadata = [&](std::string created_by) {
    // Config-only instructions are instant; BuildKit does not show them as
    // steps either, but history records them.
    History(created_by, true);
    return Ok();
  };
  switch (ins.kind) {
    case df::Kind::kFrom:
      return Fail(Error::Syntax(ins.loc, "FROM is not allowed here"));
    case df::Kind::kRun:
      return DoRun(ins);
    case df::Kind::kCopy:
      return DoCopy(ins, false);
    case df::Kind::kAdd:
      return DoCopy(ins, true);
    case df::Kind::kWorkdir:
      return DoWorkdir(ins);
    case df::Kind::kEnv: {
      std::string text;
      for (const auto& kv : ins.As<df::KeyValueArgs>().pairs) {
        SetEnv(cfg.env, kv.key, kv.value);
        text += fmt::format(" {}={}", kv.key, kv.value);
      }
      return metadata("ENV" + text);
    }
    case df::Kind::kLabel: {
      std::string text;
      for (const auto& kv : ins.As<df::KeyValueArgs>().pairs) {
        cfg.labels[kv.key] = kv.value;
        text += fmt::format(" {}={}", kv.key, kv.value);
      }
      return metadata("LABEL" + text);
    }
    case df::Kind::kMaintainer:
      image_.config.author = ins.As<df::MaintainerArgs>().name;
      return metadata("MAINTAINER " + image_.config.author);
    case df::Kind::kExpose: {
      std::set<std::string> ports;
      for (auto port : ins.As<df::ExposeArgs>().ports) {
        port = ToLower(port);
        if (port.find('/') == std::string::npos) port += "/tcp";
        if (std::find(cfg.exposed_ports.begin(), cfg.exposed_ports.end(), port) == cfg.exposed_ports.end())
          cfg.exposed_ports.push_back(port);
        ports.insert(port);
      }
      std::sort(cfg.exposed_ports.begin(), cfg.exposed_ports.end());
      // BuildKit records Go's "%v" of the port set: EXPOSE map[53/udp:{} 80/tcp:{}].
      std::vector<std::string> shown;
      for (const auto& p : ports) shown.push_back(p + ":{}");
      return metadata("EXPOSE map[" + Join(shown, " ") + "]");
    }
    case df::Kind::kEntrypoint:
    case df::Kind::kCmd: {
      const df::Command& c = ins.kind == df::Kind::kCmd ? ins.As<df::CmdArgs>().command
                                                        : ins.As<df::EntrypointArgs>().command;
      std::vector<std::string> argv;
      if (c.form == df::Command::Form::kExec) {
        argv = c.args;
      } else {
        argv = cfg.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : cfg.shell;
        argv.push_back(c.args.empty() ? "" : c.args[0]);
      }
      if (ins.kind == df::Kind::kCmd) {
        cfg.cmd = argv;
        cmd_set_in_stage_ = true;
        return metadata("CMD " + GoQuotedList(argv));
      }
      cfg.entrypoint = argv;
      // An ENTRYPOINT resets a CMD inherited from the base image.
      if (!cmd_set_in_stage_) cfg.cmd.clear();
      return metadata("ENTRYPOINT " + GoQuotedList(argv));
    }
    case df::Kind::kVolume: {
      std::string text;
      for (const auto& v : ins.As<df::VolumeArgs>().paths) {
        if (v.empty()) return Fail(Error::Syntax(ins.loc, "VOLUME specified can not be an empty string"));
        if (std::find(cfg.volumes.begin(), cfg.volumes.end(), v) == cfg.volumes.end()) cfg.volumes.push_back(v);
        text += " " + v;
      }
      std::sort(cfg.volumes.begin(), cfg.volumes.end());
      return metadata("VOLUME [" + std::string(TrimSpace(text)) + "]");
    }
    case df::Kind::kUser:
      cfg.user = ins.As<df::UserArgs>().user;
      return metadata("USER " + cfg.user);
    case df::Kind::kArg: {
      std::string text;
      for (const auto& a : ins.As<df::ArgArgs>().args)
        text += " " + a.name + (a.value ? "=" + *a.value : "");
      return metadata("ARG" + text);
    }
    case df::Kind::kOnbuild:
      cfg.on_build.push_back(ins.As<df::OnbuildArgs>().expression);
      return metadata("ONBUILD " + ins.As<df::OnbuildArgs>().expression);
    case df::Kind::kStopsignal:
      cfg.stop_signal = ins.As<df::StopsignalArgs>().signal;
      return metadata("STOPSIGNAL " + cfg.stop_signal);
    case df::Kind::kHealthcheck: {
      const auto& h = ins.As<df::HealthcheckArgs>();
      image::Healthcheck hc;
      if (h.none) {
        hc.test = {"NONE"};
      } else if (h.command.form == df::Command::Form::kExec) {
        hc.test = h.command.args;
        hc.test.insert(hc.test.begin(), "CMD");
      } else {
        hc.test = {"CMD-SHELL", h.command.args.empty() ? "" : h.command.args[0]};
      }
      hc.interval = h.interval.value_or(0);
      hc.timeout = h.timeout.value_or(0);
      hc.start_period = h.start_period.value_or(0);
      hc.start_interval = h.start_interval.value_or(0);
      hc.retries = h.retries.value_or(0);
      cfg.healthcheck = hc;
      // BuildKit records Go's "%q" of the config struct.
      return metadata(fmt::format("HEALTHCHECK &{{{} {} {} {} {} {}}}", GoQuotedList(hc.test),
                                  Quote(GoDuration(hc.interval)), Quote(GoDuration(hc.timeout)),
                                  Quote(GoDuration(hc.start_period)), Quote(GoDuration(hc.start_interval)),
                                  GoQuotedRune(hc.retries)));
    }
    case df::Kind::kShell:
      cfg.shell = ins.As<df::ShellArgs>().shell;
      return metadata("SHELL [" + Join(cfg.shell, " ") + "]");  // Go "%v"
  }
  return Ok();
}

Result<void> StageBuilder::FilesystemStep(const std::string& record, const df::Instruction& ins, bool cacheable,
                                          const MakeFn& make, bool* empty_layer) {
  int step = current_step_ = NextStep(shared_);
  std::string name = StepName(ins, current_index_);
  std::string key = ChainKey(key_, record);
  Worker& worker = shared_.worker;
  Digest parent_chain = image_.layers.empty() ? Digest() : image_.layers.back().chain_id;
  KILN_TRY_ASSIGN(auto lock, worker.LockKey(key));
  bool built_here = false;
  {
    std::lock_guard<std::mutex> l(shared_.built_mu);
    built_here = shared_.built_keys.contains(key);
  }
  if (cacheable && (!no_cache_ || built_here)) {
    KILN_TRY_ASSIGN(std::optional<Commit> hit, worker.CacheGet(key));
    if (hit) {
      Emit(shared_, ProgressEvent::Kind::kStepCached, step, name);
      if (hit->layer) image_.layers.push_back(*hit->layer);
      *empty_layer = !hit->layer.has_value();
      key_ = key;
      keys_.push_back(key);
      return Ok();
    }
  }
  Emit(shared_, ProgressEvent::Kind::kStepStarted, step, name);
  auto started = std::chrono::steady_clock::now();
  auto fail = [&](Error e) -> Result<void> {
    std::string line = e.message().substr(0, e.message().find('\n'));
    Emit(shared_, ProgressEvent::Kind::kStepFailed, step, name, shared_.masker->MaskString(line));
    return Fail(std::move(e));
  };
  auto rootfs = worker.Mount(image_.layers);
  if (!rootfs) return fail(std::move(rootfs).error());
  CommitOptions commit_options;
  if (auto r = make(**rootfs, commit_options); !r) return fail(std::move(r).error());
  auto commit = worker.CommitRootfs(std::move(*rootfs), parent_chain, commit_options);
  if (!commit) return fail(std::move(commit).error());
  if (cacheable) {
    KILN_TRY(worker.CachePut(key, *commit));
    std::lock_guard<std::mutex> l(shared_.built_mu);
    shared_.built_keys.insert(key);
  }
  if (commit->layer) image_.layers.push_back(*commit->layer);
  *empty_layer = !commit->layer.has_value();
  key_ = key;
  keys_.push_back(key);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  Emit(shared_, ProgressEvent::Kind::kStepDone, step, name, "", 1, seconds);
  return Ok();
}

std::string StageBuilder::ShellCreatedBy(const std::vector<std::string>& argv, bool shell_form) const {
  // BuildKit records every ARG declaration of the stage (repeats too) as
  // "|N K=V ..." before the command, each with the value the step sees, so
  // an ARG that ENV shadows shows ENV's value; proxy args appear only when
  // declared. kiln audit looks for secret-looking ones there.
  std::string prefix;
  const df::Scope& scope = eval_->scope();
  std::vector<std::string> shown;
  for (const auto& name : scope.declarations) shown.push_back(name + "=" + scope.Lookup(name).value_or(""));
  if (!shown.empty()) prefix = fmt::format("|{} {} ", shown.size(), Join(shown, " "));
  (void)shell_form;
  return "RUN " + prefix + Join(argv, " ") + " # buildkit";
}

Result<void> StageBuilder::DoRun(const df::Instruction& ins) {
  const auto& run = ins.As<df::RunArgs>();
  const auto& cfg = image_.config.config;
  std::vector<std::string> shell = cfg.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : cfg.shell;
  std::vector<std::string> argv;
  const df::Command& c = run.command;
  // `RUN <<EOF` alone whose body starts with "#!": BuildKit writes the body
  // to /dev/pipes/EOF (mode 0755, a read-only mount) and runs that file, so
  // its own interpreter runs it.
  const df::Heredoc* script_file = nullptr;
  if (c.form == df::Command::Form::kExec) {
    argv = c.args;
  } else {
    std::string script = c.args.empty() ? "" : c.args[0];
    if (c.heredocs.size() == 1 && IsHeredocMarker(TrimSpace(script), c.heredocs[0].name)) {
      const df::Heredoc& h = c.heredocs[0];
      bool plain_name = !h.name.empty() && h.name.find('/') == std::string::npos && h.name != "." && h.name != "..";
      if (h.content.starts_with("#!") && plain_name) {
        script_file = &h;
        script = std::string(kScriptDir) + "/" + h.name;
      } else {
        // `RUN <<EOF` alone: the heredoc is the script.
        script = h.content;
      }
    } else {
      for (const auto& h : c.heredocs) script += "\n" + h.content + h.name;
    }
    argv = shell;
    argv.push_back(script);
  }
  if (argv.empty()) return Fail(Error::Syntax(ins.loc, "RUN needs a command"));

  RunRequest req;
  req.argv = argv;
  req.env = RunEnv();
  req.cwd = cfg.working_dir.empty() ? "/" : cfg.working_dir;
  req.user = cfg.user;
  req.network = shared_.options.network;
  if (run.network == df::Network::kNone) req.network = RunRequest::Network::kNone;
  if (run.network == df::Network::kHost) req.network = RunRequest::Network::kHost;
  req.insecure = run.security == df::Security::kInsecure;
  req.extra_hosts = shared_.options.add_hosts;
  req.shm_size = shared_.options.shm_size;
  req.ulimits = shared_.options.ulimits;

  // The cache key: everything that can change what the step writes, and
  // never a secret's value (only its id, target, env name, mode and owner).
  // Proxy build args that no ARG or ENV declares reach the step but not
  // its key, as BuildKit leaves an exec's proxy env out of its cache key: a
  // build behind another proxy is the same build.
  std::vector<std::string> key_env;
  for (const auto& kv : req.env) {
    std::string name = kv.substr(0, kv.find('='));
    const auto& proxies = df::ProxyArgNames();
    bool proxy = std::find(proxies.begin(), proxies.end(), name) != proxies.end();
    if (!proxy || eval_->scope().Lookup(name)) key_env.push_back(kv);
  }
  std::string record = fmt::format("RUN\nargv={}\nenv={}\ncwd={}\nuser={}\nnet={}\nsec={}\n", JsonArray(argv),
                                   JsonArray(key_env), req.cwd, req.user, static_cast<int>(req.network),
                                   static_cast<int>(run.security));
  if (script_file) record += fmt::format("script={}\n", Digest::Of(script_file->content).str());
  std::vector<secrets::SecretMountRequest> secret_requests;
  std::vector<secrets::SshMountRequest> ssh_requests;
  bool uses_secrets = false;
  std::vector<std::pair<ImageState, const df::Mount*>> stage_binds;
  for (const auto& m : run.mounts) {
    record += fmt::format("mount type={} target={} source={} from={} id={} ro={} sharing={} mode={} uid={} gid={} "
                          "size={} required={} env={}\n",
                          df::MountTypeName(m.type), m.target, m.source, m.from, m.id, m.readonly,
                          df::SharingName(m.sharing), m.mode.value_or(0), m.uid.value_or(0), m.gid.value_or(0),
                          m.size.value_or(0), m.required, m.env);
    switch (m.type) {
      case df::MountType::kSecret: {
        secrets::SecretMountRequest r;
        r.id = m.id;
        // A relative target is relative to the WORKDIR, as in BuildKit.
        r.target = m.target.empty() || m.target.starts_with('/') ? m.target : JoinPath(req.cwd, m.target);
        r.env = m.env;
        r.required = m.required ? secrets::Requirement::kRequired : secrets::Requirement::kOptional;
        r.mode = static_cast<int>(m.mode.value_or(0400));
        r.uid = static_cast<int>(m.uid.value_or(0));
        r.gid = static_cast<int>(m.gid.value_or(0));
        secret_requests.push_back(r);
        uses_secrets = true;
        KILN_TRY_ASSIGN(std::string token, SecretCacheRecord(m.id));
        record += token;
        break;
      }
      case df::MountType::kBind: {
        if (m.from.empty() || FindLocalContext(m.from)) {
          // From the context or a --build-context directory: the key covers
          // the content it exposes.
          const LocalContext* local = FindLocalContext(m.from);
          const df::Matcher& ignore = local ? local->ignore : shared_.ignore;
          KILN_TRY_ASSIGN(Digest d, HashPath(local ? local->fd.get() : shared_.context_fd.get(),
                                             m.source.empty() ? "." : m.source,
                                             [&ignore](const std::string& p) { return ignore.Matches(p); },
                                             nullptr, shared_.worker.digest_cache()));
          record += "content=" + d.str() + "\n";
        } else {
          std::string source_key;
          KILN_TRY_ASSIGN(ImageState src, ResolveSource(m.from, m.loc, &source_key));
          record += "from-key=" + source_key + "\n";
          stage_binds.emplace_back(std::move(src), &m);
        }
        break;
      }
      case df::MountType::kSsh: {
        secrets::SshMountRequest r;
        r.id = m.id.empty() ? "default" : m.id;
        r.target = m.target.empty() || m.target.starts_with('/') ? m.target : JoinPath(req.cwd, m.target);
        r.required = m.required ? secrets::Requirement::kRequired : secrets::Requirement::kOptional;
        r.mode = static_cast<int>(m.mode.value_or(0600));
        r.uid = static_cast<int>(m.uid.value_or(0));
        r.gid = static_cast<int>(m.gid.value_or(0));
        ssh_requests.push_back(r);
        break;
      }
      default:
        break;
    }
  }

  bool empty = false;
  auto make = [&](Rootfs& rootfs, CommitOptions& commit) -> Result<void> {
    std::optional<secrets::StepSecrets> step_secrets;
    std::vector<std::unique_ptr<Rootfs>> source_roots;
    std::vector<std::string> mount_targets;
    for (const auto& m : run.mounts) {
      std::string target = m.target.starts_with('/') ? m.target : JoinPath(req.cwd, m.target);
      switch (m.type) {
        case df::MountType::kCache: {
          KILN_TRY_ASSIGN(std::string dir, shared_.worker.CacheMountDir(m.id.empty() ? target : m.id));
          req.binds.push_back({dir, target, false});
          break;
        }
        case df::MountType::kTmpfs:
          req.tmpfs.push_back({target, m.size.value_or(0)});
          break;
        case df::MountType::kBind:
          if (m.from.empty() || FindLocalContext(m.from)) {
            const LocalContext* local = FindLocalContext(m.from);
            KILN_TRY_ASSIGN(Fd src, OpenInRoot(local ? local->fd.get() : shared_.context_fd.get(),
                                               m.source.empty() ? "." : m.source, O_PATH));
            char buf[4096];
            ssize_t n = ::readlink(fmt::format("/proc/self/fd/{}", src.get()).c_str(), buf, sizeof buf);
            if (n < 0) return Fail(Error::Io(m.source, errno, "resolve"));
            std::string host_path(buf, n);
            if (!m.readonly) {
              // BuildKit discards writes to a rw bind: the container gets a
              // throwaway overlay over the context path, never the path.
              LayerRef context_layer;
              context_layer.snapshot = host_path;
              KILN_TRY_ASSIGN(auto overlay, shared_.worker.Mount({context_layer}));
              host_path = overlay->path();
              source_roots.push_back(std::move(overlay));
            }
            req.binds.push_back({host_path, target, m.readonly});
          }
          break;
        default:
          break;
      }
    }
    // In the build's scratch dir, which goes away with the build even when
    // this step fails early.
    std::string script_dir;
    if (script_file) {
      script_dir = JoinPath(shared_.worker.scratch_dir(), "script-" + RandomHex(8));
      KILN_TRY(MakeDirs(script_dir, 0755));
      KILN_TRY(WriteFile(JoinPath(script_dir, script_file->name), script_file->content, 0755));
      req.binds.push_back({script_dir, std::string(kScriptDir), true});
    }
    for (auto& [state, m] : stage_binds) {
      KILN_TRY_ASSIGN(auto src_root, shared_.worker.Mount(state.layers));
      std::string target = m->target.starts_with('/') ? m->target : JoinPath(req.cwd, m->target);
      // Resolve the source inside the stage's root (a symlink there must not
      // lead to a host path), then bind what it names. The root is a
      // throwaway overlay, so rw writes are discarded.
      KILN_TRY_ASSIGN(Fd src, OpenInRoot(src_root->fd(), m->source.empty() ? "/" : m->source, O_PATH));
      char buf[4096];
      ssize_t n = ::readlink(fmt::format("/proc/self/fd/{}", src.get()).c_str(), buf, sizeof buf);
      if (n < 0) return Fail(Error::Io(m->source, errno, "resolve"));
      req.binds.push_back({std::string(buf, n), target, m->readonly});
      source_roots.push_back(std::move(src_root));
    }
    if (!secret_requests.empty()) {
      if (!shared_.options.secrets) {
        for (const auto& r : secret_requests)
          if (r.required == secrets::Requirement::kRequired)
            return Fail(Error::NotFound(fmt::format("secret {} is required but was not provided", Quote(r.id)))
                            .WithHint(fmt::format("pass it with --secret id={},src=FILE or --secret id={},env=VAR",
                                                  r.id, r.id)));
      } else {
        secrets::SecretMounter mounter(shared_.worker.scratch_dir());
        KILN_TRY_ASSIGN(auto s, mounter.Prepare(secret_requests, *shared_.options.secrets));
        step_secrets.emplace(std::move(s));
        for (const auto& b : step_secrets->mounts()) req.binds.push_back({b.source, b.target, true});
        for (const auto& e : step_secrets->env()) req.env.push_back(e.name + "=" + std::string(e.value.view()));
      }
    }
    std::optional<secrets::StepSsh> step_ssh;
    if (!ssh_requests.empty()) {
      if (!shared_.options.ssh) {
        for (const auto& r : ssh_requests)
          if (r.required == secrets::Requirement::kRequired)
            return Fail(Error::NotFound(fmt::format("ssh agent {} is required but was not provided", Quote(r.id)))
                            .WithHint("pass --ssh default (uses $SSH_AUTH_SOCK) or --ssh " + r.id + "=KEYFILE"));
      } else {
        KILN_TRY_ASSIGN(auto s, secrets::PrepareSsh(ssh_requests, *shared_.options.ssh, shared_.worker.scratch_dir()));
        step_ssh.emplace(std::move(s));
        for (const auto& b : step_ssh->mounts()) req.binds.push_back({b.source, b.target, true});
        for (const auto& [k, v] : step_ssh->env()) req.env.push_back(k + "=" + v);
      }
    }
    // Output goes through the masker before anything shows it.
    auto out_mask = shared_.masker->NewStream();
    auto err_mask = shared_.masker->NewStream();
    std::vector<std::string> tail;
    std::string partial;
    auto record_tail = [&](const std::string& text) {
      partial += text;
      size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        tail.push_back(partial.substr(0, nl));
        partial.erase(0, nl + 1);
        if (tail.size() > 10) tail.erase(tail.begin());
      }
    };
    std::mutex out_mu;
    req.on_output = [&](std::string_view chunk, int stream) {
      std::lock_guard<std::mutex> lock(out_mu);
      std::string shown = (stream == 2 ? err_mask : out_mask)->Write(chunk);
      if (shown.empty()) return;
      record_tail(shown);
      Emit(shared_, ProgressEvent::Kind::kStepOutput, current_step_, "", shown, stream);
    };
    shared_.run_slots.Acquire();
    auto status = shared_.worker.Run(rootfs, req);
    shared_.run_slots.Release();
    for (auto* m : {&out_mask, &err_mask}) {
      std::string rest = (*m)->Flush();
      if (!rest.empty()) {
        record_tail(rest);
        Emit(shared_, ProgressEvent::Kind::kStepOutput, current_step_, "", rest, m == &out_mask ? 1 : 2);
      }
    }
    // Wipe secret values from the env copy before anything else can fail.
    WipeStrings(req.env);
    if (step_secrets) KILN_TRY(step_secrets->Cleanup());
    if (step_ssh) step_ssh->Stop();
    if (!script_dir.empty()) KILN_TRY(RemoveAll(script_dir));
    if (!status) return Fail(std::move(status).error());
    if (*status != 0) {
      if (!partial.empty()) tail.push_back(partial);
      std::string shown_cmd = c.form == df::Command::Form::kExec ? JsonArray(argv) : Join(argv, " ");
      Error e(ErrorCode::kStepFailed,
              fmt::format("process {} did not complete successfully: exit code: {}",
                          Quote(shared_.masker->MaskString(shown_cmd)), *status));
      e.At(ins.loc);
      if (!tail.empty()) e.WithHint("last output lines:\n  " + Join(tail, "\n  "));
      return Fail(std::move(e));
    }
    if (uses_secrets && shared_.options.secret_leaks != SecretLeakMode::kOff &&
        shared_.leak_scanner->pattern_count() > 0) {
      auto scanner = shared_.leak_scanner;
      auto mode = shared_.options.secret_leaks;
      SourceLoc loc = ins.loc;
      Diagnostics* diags = &shared_.diags;
      commit.inspect = [scanner, mode, loc, diags](const std::string& upper) -> Result<void> {
        KILN_TRY_ASSIGN(auto findings, scanner->ScanDirectory(upper));
        if (findings.empty()) return Ok();
        std::vector<std::string> lines;
        for (const auto& f : findings) lines.push_back(secrets::DescribeFinding(f));
        std::string msg = "secret leaked into the layer: " + Join(lines, "; ");
        if (mode == SecretLeakMode::kWarn) {
          diags->Warn(Warning{"SecretLeak", msg, loc});
          return Ok();
        }
        return Fail(Error::Invalid(msg).At(loc).WithHint(
            "write secrets only to paths that are not kept, or pass --secret-leaks=warn if this is intended"));
      };
    }
    return Ok();
  };
  KILN_TRY(FilesystemStep(record, ins, true, make, &empty));
  History(ShellCreatedBy(argv, c.form == df::Command::Form::kShell), empty);
  return Ok();
}

Result<void> StageBuilder::DoWorkdir(const df::Instruction& ins) {
  std::string path = ins.As<df::WorkdirArgs>().path;
  auto& cfg = image_.config.config;
  if (!path.starts_with('/')) path = JoinPath(cfg.working_dir.empty() ? "/" : cfg.working_dir, path);
  path = CleanPath(path);
  cfg.working_dir = path;
  std::string user = cfg.user;
  std::string record = fmt::format("WORKDIR\npath={}\nuser={}\n", path, user);
  bool empty = false;
  auto make = [&](Rootfs& rootfs, CommitOptions&) -> Result<void> {
    UserIds ids;
    if (!user.empty()) {
    KILN_TRY_ASSIGN(ids, ResolveUser(rootfs.fd(), user));
  }
    return MkdirAllInRoot(rootfs.fd(), path, ids.uid, ids.gid);
  };
  KILN_TRY(FilesystemStep(record, ins, true, make, &empty));
  History("WORKDIR " + path, empty);
  return Ok();
}

Result<bool> StageBuilder::CopyIntoEmptyDir(Rootfs& rootfs, int source_fd, const std::string& src,
                                          const std::string& dest, const std::string& link_key, CopyOptions opt) {
  // Only where the image has nothing yet (no such path, or an empty
  // directory such as WORKDIR makes): there the upper dir alone is the
  // result, and writing it directly lets the kernel copy file data
  // (copy_file_range) and unchanged files be hard-linked from the snapshot
  // the same COPY made last time, which overlayfs would both prevent.
  auto existing = OpenInRoot(rootfs.fd(), dest, O_RDONLY | O_DIRECTORY);
  if (existing) {
    KILN_TRY_ASSIGN(auto names, ListDirectory(existing->get(), dest));
    if (!names.empty()) return false;
    // Touching the directory's owner through the overlay copies it up, so
    // it exists in the upper dir with the image's metadata.
    struct stat st;
    if (::fstat(existing->get(), &st) != 0 || ::fchown(existing->get(), st.st_uid, st.st_gid) != 0)
      return Fail(Error::Io(dest, errno, "chown"));
  } else if (existing.error().sys_errno() == ENOENT) {
    KILN_TRY(MkdirAllInRoot(rootfs.fd(), dest, 0, 0));
  } else {
    return false;  // not a directory: the usual copy says what is wrong
  }
  if (existing) existing->Reset();
  // The directory as the container resolves it (through any symlinks in
  // the image), relative to the root.
  KILN_TRY_ASSIGN(Fd made, OpenInRoot(rootfs.fd(), dest, O_PATH | O_DIRECTORY));
  auto fd_path = [&](int fd) -> Result<std::string> {
    char buf[PATH_MAX];
    std::string proc = fmt::format("/proc/self/fd/{}", fd);
    ssize_t n = ::readlink(proc.c_str(), buf, sizeof buf);
    if (n <= 0 || static_cast<size_t>(n) >= sizeof buf) return Fail(Error::Io(dest, errno, "readlink"));
    return std::string(buf, static_cast<size_t>(n));
  };
  KILN_TRY_ASSIGN(std::string where, fd_path(made.get()));
  KILN_TRY_ASSIGN(std::string root, fd_path(rootfs.fd()));
  if (!where.starts_with(root + "/")) return false;
  std::string rel = where.substr(root.size());
  made.Reset();
  auto upper = rootfs.UpperDir();
  if (!upper) {
    if (upper.error().code() == ErrorCode::kUnsupported) return false;
    return Fail(std::move(upper).error());
  }
  KILN_TRY_ASSIGN(Fd upper_fd, OpenFile(*upper, O_RDONLY | O_DIRECTORY));
  Fd previous;
  if (!no_cache_) {
    KILN_TRY_ASSIGN(std::optional<Commit> last, shared_.worker.CacheGet(link_key));
    if (last && last->layer && !last->layer->snapshot.empty()) {
      if (auto fd = OpenFile(last->layer->snapshot, O_RDONLY | O_DIRECTORY)) previous = std::move(*fd);
    }
  }
  opt.stamp_digests = true;
  opt.digest_cache = shared_.worker.digest_cache();
  opt.link_from = previous.get();
  opt.parallel = true;
  KILN_TRY(CopyPath(source_fd, src, upper_fd.get(), rel, DestKind::kDirectory, opt));
  return true;
}

Result<void> StageBuilder::DoCopy(const df::Instruction& ins, bool is_add) {
  const auto& args = ins.As<df::CopyArgs>();
  auto& cfg = image_.config.config;
  std::string dest = args.dest;
  std::string workdir = cfg.working_dir.empty() ? "/" : cfg.working_dir;
  // "dir/" and "." name a directory; several sources need one (checked
  // once wildcards are expanded).
  bool dest_dir = dest.ends_with('/') || dest == "." || dest.ends_with("/.");
  if (!dest.starts_with('/')) dest = JoinPath(workdir, dest);
  if (dest_dir && !dest.ends_with('/')) dest += '/';

  // Where the sources come from: the context, another stage or an image.
  std::unique_ptr<Rootfs> source_root;
  int source_fd = shared_.context_fd.get();
  std::string source_key = "context";
  ImageState source_image;
  bool from_image = false;
  const df::Matcher* ignore = &shared_.ignore;
  if (const LocalContext* local = FindLocalContext(args.from)) {
    source_fd = local->fd.get();
    ignore = &local->ignore;
    source_key = "context:" + args.from;
  } else if (!args.from.empty()) {
    KILN_TRY_ASSIGN(source_image, ResolveSource(args.from, ins.loc, &source_key));
    from_image = true;
    ignore = nullptr;
  }

  std::vector<std::string> excludes = args.excludes;
  KILN_TRY_ASSIGN(df::Matcher exclude_matcher, df::Matcher::Parse(Join(excludes, "\n"), "--exclude"));
  // .dockerignore matches context paths; --exclude matches paths relative
  // to the source being copied (BuildKit's copy ExcludePatterns), and a
  // wildcard's matches by their base name. With `test` CanSkipDir it says
  // whether either matcher leaves out everything below a directory.
  using MatcherTest = bool (df::Matcher::*)(std::string_view) const;
  auto excluded_under = [ignore, &exclude_matcher](std::string root,
                                                   MatcherTest test = &df::Matcher::Matches) -> ExcludeFn {
    return [ignore, &exclude_matcher, root, test](const std::string& p) {
      if (ignore && (ignore->*test)(p)) return true;
      if (root == ".") return (exclude_matcher.*test)(p);
      return p.starts_with(root + "/") && (exclude_matcher.*test)(p.substr(root.size() + 1));
    };
  };

  if (from_image) {
    KILN_TRY_ASSIGN(source_root, shared_.worker.Mount(source_image.layers));
    source_fd = source_root->fd();
  }

  // Expand wildcards and hash what will be copied: the key covers content,
  // not mtimes.
  std::string record = fmt::format("{}\ndest={}\nchown={}\nchmod={}\nparents={}\nfrom={}\nexclude={}\n",
                                   is_add ? "ADD" : "COPY", dest, args.chown, args.chmod, args.parents, source_key,
                                   JsonArray(excludes));
  std::vector<std::string> sources;
  std::vector<ExcludeFn> source_excludes;  // one per source
  std::vector<ExcludeFn> source_skip_dirs;  // one per source
  std::vector<const df::Heredoc*> heredocs;
  std::vector<RemoteAdd> remotes;
  for (const auto& src : args.sources) {
    const df::Heredoc* heredoc = nullptr;
    for (const auto& h : args.heredocs)
      if (IsHeredocMarker(src, h.name)) heredoc = &h;
    if (heredoc) {
      heredocs.push_back(heredoc);
      record += fmt::format("heredoc {} {}\n", heredoc->name, Digest::Of(heredoc->content).str());
      continue;
    }
    SourceKind kind = ClassifySource(src);
    if (kind.kind != SourceKind::Kind::kLocal) {
      bool git = kind.kind == SourceKind::Kind::kGit;
      if (!is_add)
        return Fail(Error::Syntax(ins.loc, git ? "source can't be a git ref for COPY"
                                               : "source can't be a URL for COPY")
                        .WithHint("use ADD to fetch remote sources"));
      KILN_TRY_ASSIGN(RemoteAdd remote, FetchRemote(src, kind, args, ins.loc));
      record += remote.record;
      remotes.push_back(std::move(remote));
      continue;
    }
    if (!args.checksum.empty())
      return Fail(Error::Syntax(ins.loc, "checksum can't be specified for non-HTTP(S) sources"));
    if (!from_image && source_fd < 0) return Fail(Error::Invalid("COPY needs a build context").At(ins.loc));
    ExcludeFn expand_excluded = [ignore, &exclude_matcher, wild = HasWildcard(src)](const std::string& p) {
      return (ignore && ignore->Matches(p)) || (wild && exclude_matcher.Matches(Basename(p)));
    };
    ExcludeFn expand_skip_dir = [ignore, &exclude_matcher, wild = HasWildcard(src)](const std::string& p) {
      return (ignore && ignore->CanSkipDir(p)) || (wild && exclude_matcher.CanSkipDir(Basename(p)));
    };
    auto matches = ExpandSources(source_fd, src, expand_excluded, expand_skip_dir);
    if (!matches) {
      Error e = std::move(matches).error();
      return Fail(Error(e.code(), fmt::format("failed to compute cache key: {}", e.message()))
                      .At(ins.loc)
                      .WithHint(from_image ? "check the path in the source stage or image"
                                           : "the path must exist in the build context and not be excluded by "
                                             ".dockerignore"));
    }
    for (auto& m : *matches) {
      ExcludeFn excluded = excluded_under(m);
      ExcludeFn can_skip_dir = excluded_under(m, &df::Matcher::CanSkipDir);
      KILN_TRY_ASSIGN(Digest d, HashPath(source_fd, m, excluded, can_skip_dir, shared_.worker.digest_cache()));
      record += fmt::format("src {} {}\n", m, d.str());
      sources.push_back(std::move(m));
      source_excludes.push_back(std::move(excluded));
      source_skip_dirs.push_back(std::move(can_skip_dir));
    }
  }
  if (sources.size() + heredocs.size() + remotes.size() > 1 && !dest.ends_with('/'))
    return Fail(Error::Syntax(ins.loc, "When using COPY with more than one source file, the destination must be a "
                                       "directory and end with a /"));

  std::optional<uint32_t> chmod;
  if (!args.chmod.empty()) {
    KILN_TRY_ASSIGN(chmod, ParseOctal(args.chmod, ins.loc, "--chmod"));
  }
  // One directory copied from the context: where it may go straight into
  // the step's upper dir (CopyIntoEmptyDir), the snapshot this COPY made the
  // last time it ran is kept under a key of everything but the content.
  bool one_local_dir = sources.size() == 1 && heredocs.empty() && remotes.empty() && !from_image && !is_add &&
                       !args.parents && OpenInRoot(source_fd, sources[0], O_RDONLY | O_DIRECTORY).has_value();
  std::string link_key = ChainKey(key_, fmt::format("link source\n{}\nsrc {}", record.substr(0, record.find("\nsrc ")),
                                                    one_local_dir ? sources[0] : ""));
  bool ran = false;
  bool empty = false;
  auto make = [&](Rootfs& rootfs, CommitOptions&) -> Result<void> {
    ran = true;
    CopyOptions opt;
    opt.chmod = chmod;
    opt.owners = from_image ? CopyOptions::Owners::kSourceOwners : CopyOptions::Owners::kRoot;
    if (!args.chown.empty()) {
      KILN_TRY_ASSIGN(UserIds ids, ResolveUser(rootfs.fd(), args.chown));
      opt.uid = ids.uid;
      opt.gid = ids.gid;
    }
    if (one_local_dir) {
      CopyOptions into = opt;
      into.excluded = source_excludes[0];
      into.can_skip_dir = source_skip_dirs[0];
      KILN_TRY_ASSIGN(bool done, CopyIntoEmptyDir(rootfs, source_fd, sources[0], dest, link_key, into));
      if (done) return Ok();
    }
    for (size_t i = 0; i < sources.size(); ++i) {
      const std::string& src = sources[i];
      opt.excluded = source_excludes[i];
      opt.can_skip_dir = source_skip_dirs[i];
      std::string target = dest;
      if (args.parents) target = JoinPath(dest, Dirname("/" + src)) + "/";
      if (is_add && !from_image) {
        KILN_TRY_ASSIGN(bool extracted, ExtractLocalArchive(source_fd, src, rootfs.fd(), target));
        if (extracted) continue;
      }
      KILN_TRY(CopyPath(source_fd, src, rootfs.fd(), target,
                        target.ends_with('/') ? DestKind::kDirectory : DestKind::kAuto, opt));
    }
    for (auto& remote : remotes) {
      KILN_TRY(CopyRemote(remote, rootfs.fd(), dest, opt));
    }
    for (const auto* h : heredocs) {
      std::string target = dest.ends_with('/') ? dest + h->name : dest;
      KILN_TRY(MkdirAllInRoot(rootfs.fd(), Dirname(target), 0, 0));
      KILN_TRY_ASSIGN(Fd dir, OpenInRoot(rootfs.fd(), Dirname(target), O_RDONLY | O_DIRECTORY));
      std::string base = Basename(target);
      ::unlinkat(dir.get(), base.c_str(), 0);
      int fd = ::openat(dir.get(), base.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0) return Fail(Error::Io(target, errno, "create"));
      Fd owned(fd);
      KILN_TRY(WriteAll(fd, h->content, target));
      ::fchmod(fd, chmod.value_or(0644));
      ::fchown(fd, opt.uid.value_or(0), opt.gid.value_or(0));
    }
    return Ok();
  };
  KILN_TRY(FilesystemStep(record, ins, true, make, &empty));
  if (one_local_dir && ran && !empty) {
    Commit made;
    made.layer = image_.layers.back();
    KILN_TRY(shared_.worker.CachePut(link_key, made));
  }
  // BuildKit records an ADD URL as written; kiln redacts its password, which
  // would otherwise ship in the image config.
  std::vector<std::string> shown;
  for (const auto& src : args.sources) shown.push_back(RedactUrl(src));
  shown.push_back(args.dest);
  History(fmt::format("{} {} # buildkit", is_add ? "ADD" : "COPY", Join(shown, " ")), empty);
  return Ok();
}

}  // namespace

SourceKind ClassifySource(std::string_view src) {
  SourceKind out;
  size_t scheme_end = src.find("://");
  bool has_scheme = scheme_end != std::string_view::npos && scheme_end > 0 &&
                    std::all_of(src.begin(), src.begin() + scheme_end,
                                [](char c) { return std::isalnum(static_cast<unsigned char>(c)); });
  if (has_scheme) {
    std::string scheme = ToLower(src.substr(0, scheme_end));
    bool http = scheme == "http" || scheme == "https";
    if (scheme != "ssh" && scheme != "git" && !http)
      return out;  // BuildKit: an unknown protocol is a local path
    Cut frag = CutString(src, '#');
    std::string path = UrlPath(frag.first);
    if (http && !path.ends_with(".git")) {
      out.kind = SourceKind::Kind::kHttp;
      std::string base = Basename(path);
      out.filename = path.empty() || base == "/" || base == "." || base.empty() ? "__unnamed__" : base;
      return out;
    }
    out.kind = SourceKind::Kind::kGit;
    out.git.remote = std::string(frag.first);
    SplitGitFragment(frag.second, out);
    return out;
  }
  // scp-like "user@host:path[#ref:subdir]".
  Cut at = CutString(src, '@');
  if (!at.found || at.first.empty()) return out;
  bool user_ok = std::all_of(at.first.begin(), at.first.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
  Cut host = CutString(at.second, ':');
  bool host_ok =
      host.found && !host.first.empty() && std::all_of(host.first.begin(), host.first.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
      });
  if (!user_ok || !host_ok) return out;
  Cut frag = CutString(src, '#');
  out.kind = SourceKind::Kind::kGit;
  out.git.remote = std::string(frag.first);
  SplitGitFragment(frag.second, out);
  return out;
}

Result<StageResult> BuildStage(BuildShared& shared, int stage) {
  StageBuilder builder(shared, stage);
  auto r = builder.Run();
  if (!r) shared.failed = true;
  return r;
}

}  // namespace kiln::solver
