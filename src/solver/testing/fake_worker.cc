#include "solver/testing/fake_worker.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "base/strings.h"
#include "image/reference.h"

namespace kiln::solver::testing {

namespace {

// One filesystem entry as the fake compares and hashes it.
struct Entry {
  char type = 'f';  // 'f' file, 'd' dir, 'l' symlink
  mode_t mode = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string content;  // file data or link target

  bool operator==(const Entry&) const = default;
  std::string Describe() const {
    std::string kind = type == 'f' ? "file" : type == 'd' ? "dir" : "symlink";
    std::string out = fmt::format("{} {:o} {}:{}", kind, mode, uid, gid);
    if (type != 'd') out += " " + Quote(content);
    return out;
  }
};

using Tree = std::map<std::string, Entry>;  // "/a/b" -> entry

Result<void> ListInto(const std::string& root, const std::string& rel, Tree& out) {
  std::string dir_path = root + rel;
  DIR* dir = ::opendir(dir_path.c_str());
  if (!dir) return Fail(Error::Io(dir_path, errno, "opendir"));
  std::vector<std::string> names;
  while (dirent* d = ::readdir(dir)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(dir);
  for (const auto& name : names) {
    std::string child = rel + "/" + name;
    std::string full = root + child;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) return Fail(Error::Io(full, errno, "lstat"));
    Entry e;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    if (S_ISDIR(st.st_mode)) {
      e.type = 'd';
      out[child] = e;
      KILN_TRY(ListInto(root, child, out));
    } else if (S_ISLNK(st.st_mode)) {
      e.type = 'l';
      char buf[4096];
      ssize_t n = ::readlink(full.c_str(), buf, sizeof buf);
      if (n < 0) return Fail(Error::Io(full, errno, "readlink"));
      e.content.assign(buf, n);
      out[child] = e;
    } else {
      KILN_TRY_ASSIGN(e.content, ReadFile(full));
      out[child] = e;
    }
  }
  return Ok();
}

Result<Tree> ListTree(const std::string& root) {
  Tree t;
  KILN_TRY(ListInto(root, "", t));
  return t;
}

// Creates `e` at root+rel, replacing what is there.
Result<void> Materialize(const std::string& root, const std::string& rel, const Entry& e) {
  std::string full = root + rel;
  struct stat st;
  bool exists = ::lstat(full.c_str(), &st) == 0;
  if (exists && !(e.type == 'd' && S_ISDIR(st.st_mode))) KILN_TRY(RemoveAll(full));
  switch (e.type) {
    case 'd':
      if (!(exists && S_ISDIR(st.st_mode)) && ::mkdir(full.c_str(), 0755) != 0)
        return Fail(Error::Io(full, errno, "mkdir"));
      if (::chmod(full.c_str(), e.mode) != 0) return Fail(Error::Io(full, errno, "chmod"));
      if (::lchown(full.c_str(), e.uid, e.gid) != 0) return Fail(Error::Io(full, errno, "chown"));
      return Ok();
    case 'l':
      if (::symlink(e.content.c_str(), full.c_str()) != 0) return Fail(Error::Io(full, errno, "symlink"));
      if (::lchown(full.c_str(), e.uid, e.gid) != 0) return Fail(Error::Io(full, errno, "chown"));
      return Ok();
    default:
      KILN_TRY(WriteFile(full, e.content, static_cast<int>(e.mode)));
      if (::chmod(full.c_str(), e.mode) != 0) return Fail(Error::Io(full, errno, "chmod"));
      if (::lchown(full.c_str(), e.uid, e.gid) != 0) return Fail(Error::Io(full, errno, "chown"));
      return Ok();
  }
}

Result<void> CopyTree(const std::string& src, const std::string& dst) {
  KILN_TRY_ASSIGN(Tree t, ListTree(src));
  // Sorted order puts every directory before its children.
  for (const auto& [rel, e] : t) KILN_TRY(Materialize(dst, rel, e));
  return Ok();
}

class FakeRootfs : public Rootfs {
 public:
  FakeRootfs(std::string path, Fd fd, Tree base) : path_(std::move(path)), fd_(std::move(fd)), base_(std::move(base)) {}
  int fd() const override { return fd_.get(); }
  const std::string& path() const override { return path_; }
  const Tree& base() const { return base_; }

 private:
  std::string path_;
  Fd fd_;
  Tree base_;
};

class FakeKeyLock : public Worker::KeyLock {
 public:
  explicit FakeKeyLock(std::mutex& mu) : lock_(mu) {}

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace

FakeWorker::FakeWorker() {
  auto dir = TempDir::Create("kiln-fakeworker");
  if (!dir) {
    std::fprintf(stderr, "FakeWorker: %s\n", dir.error().Summary().c_str());
    std::abort();
  }
  root_ = std::make_unique<TempDir>(std::move(*dir));
  scratch_ = root_->path() + "/scratch";
  if (!MakeDirs(scratch_)) std::abort();
}

FakeWorker::~FakeWorker() = default;

std::string FakeWorker::NewDir(const std::string& kind) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string dir = fmt::format("{}/{}-{}", root_->path(), kind, next_dir_++);
  (void)MakeDirs(dir);
  return dir;
}

bool FakeWorker::AddImage(const std::string& ref, const image::ImageConfig& config,
                          const std::map<std::string, FakeFile>& files) {
  auto parsed = image::Reference::Parse(ref);
  if (!parsed) return false;
  std::string snapshot = NewDir("image");
  std::vector<std::string> lines;
  for (const auto& [path, f] : files) {
    std::string rel = CleanPath("/" + path);
    if (!MakeDirs(snapshot + Dirname(rel))) return false;
    Entry e{f.symlink ? 'l' : 'f', f.mode, f.uid, f.gid, f.content};
    if (!Materialize(snapshot, rel, e)) return false;
    lines.push_back(rel + ": " + e.Describe());
  }
  ImageState state;
  state.config = config;
  LayerRef layer;
  layer.diff_id = Digest::Of(Join(lines, "\n"));
  layer.chain_id = layer.diff_id;
  layer.snapshot = snapshot;
  state.layers.push_back(layer);
  state.source = Digest::Of(parsed->String());
  std::lock_guard<std::mutex> lock(mu_);
  listings_[snapshot] = lines;
  images_[parsed->String()] = std::move(state);
  return true;
}

void FakeWorker::OnRun(std::string argv_substring, Effect effect) {
  std::lock_guard<std::mutex> lock(mu_);
  effects_.emplace_back(std::move(argv_substring), std::move(effect));
}

std::vector<RunRequest> FakeWorker::commands_ran() const {
  std::lock_guard<std::mutex> lock(mu_);
  return commands_ran_;
}

std::vector<std::string> FakeWorker::argvs_ran() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  for (const auto& r : commands_ran_) out.push_back(Join(r.argv, " "));
  return out;
}

void FakeWorker::ClearCommands() {
  std::lock_guard<std::mutex> lock(mu_);
  commands_ran_.clear();
  cache_hits_ = 0;
}

int FakeWorker::cache_hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cache_hits_;
}

int FakeWorker::mounts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mounts_;
}

Result<std::string> FakeWorker::ReadFileIn(const std::vector<LayerRef>& layers, const std::string& path) {
  KILN_TRY_ASSIGN(auto root, Mount(layers));
  return ReadFile(root->path() + CleanPath("/" + path));
}

std::string FakeWorker::StatIn(const std::vector<LayerRef>& layers, const std::string& path) {
  auto root = Mount(layers);
  if (!root) return "";
  struct stat st;
  if (::lstat(((*root)->path() + CleanPath("/" + path)).c_str(), &st) != 0) return "";
  return fmt::format("{:o} {}:{}", st.st_mode, st.st_uid, st.st_gid);
}

std::vector<std::string> FakeWorker::LayerListing(const LayerRef& layer) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = listings_.find(layer.snapshot);
  return it == listings_.end() ? std::vector<std::string>{} : it->second;
}

Result<ImageState> FakeWorker::ResolveImage(const std::string& ref, PullPolicy, ProgressSink&, int) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = images_.find(ref);
  if (it == images_.end()) return Fail(Error::NotFound(fmt::format("image {} not found", Quote(ref))));
  return it->second;
}

Result<std::unique_ptr<Rootfs>> FakeWorker::Mount(const std::vector<LayerRef>& layers) {
  std::string dir = NewDir("rootfs");
  for (const auto& layer : layers) {
    std::vector<std::string> deleted;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = deletions_.find(layer.snapshot); it != deletions_.end()) deleted = it->second;
    }
    for (const auto& d : deleted) KILN_TRY(RemoveAll(dir + d));
    KILN_TRY(CopyTree(layer.snapshot, dir));
  }
  KILN_TRY_ASSIGN(Tree base, ListTree(dir));
  KILN_TRY_ASSIGN(Fd fd, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++mounts_;
  }
  return std::unique_ptr<Rootfs>(std::make_unique<FakeRootfs>(dir, std::move(fd), std::move(base)));
}

Result<int> FakeWorker::Run(Rootfs& rootfs, const RunRequest& request) {
  Effect effect;
  std::string joined = Join(request.argv, " ");
  {
    std::lock_guard<std::mutex> lock(mu_);
    RunRequest copy = request;
    copy.on_output = nullptr;
    commands_ran_.push_back(std::move(copy));
    for (const auto& [substring, e] : effects_) {
      if (joined.find(substring) != std::string::npos) {
        effect = e;
        break;
      }
    }
  }
  if (!effect) return 0;
  return effect(request, rootfs.path());
}

Result<Commit> FakeWorker::CommitRootfs(std::unique_ptr<Rootfs> rootfs, const Digest& parent_chain,
                                        const CommitOptions& options) {
  auto* fake = dynamic_cast<FakeRootfs*>(rootfs.get());
  if (!fake) return Fail(Error::Invalid("FakeWorker::CommitRootfs: not a FakeWorker rootfs"));
  KILN_TRY_ASSIGN(Tree now, ListTree(fake->path()));
  std::vector<std::string> lines;
  std::vector<std::string> changed;
  std::vector<std::string> deleted;
  for (const auto& [path, e] : now) {
    auto it = fake->base().find(path);
    if (it != fake->base().end() && it->second == e) continue;
    changed.push_back(path);
    lines.push_back(path + ": " + e.Describe());
  }
  for (const auto& [path, e] : fake->base()) {
    if (now.count(path)) continue;
    // Only the topmost deleted path matters.
    if (!deleted.empty() && path.starts_with(deleted.back() + "/")) continue;
    deleted.push_back(path);
    lines.push_back(path + ": deleted");
  }
  std::sort(lines.begin(), lines.end());
  if (lines.empty()) return Commit{};

  std::string snapshot = NewDir("layer");
  int64_t size = 0;
  for (const auto& path : changed) {
    // Parents the layer does not change still need to exist in it.
    std::string parent = Dirname(path);
    std::vector<std::string> missing;
    while (parent != "/" && !PathExists(snapshot + parent)) {
      missing.push_back(parent);
      parent = Dirname(parent);
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) KILN_TRY(Materialize(snapshot, *it, now.at(*it)));
    KILN_TRY(Materialize(snapshot, path, now.at(path)));
    size += static_cast<int64_t>(now.at(path).content.size());
  }
  if (options.inspect) KILN_TRY(options.inspect(snapshot));

  Commit commit;
  LayerRef layer;
  layer.diff_id = Digest::Of(Join(lines, "\n"));
  layer.chain_id = parent_chain.empty() ? layer.diff_id : Digest::Of(parent_chain.str() + " " + layer.diff_id.str());
  layer.snapshot = snapshot;
  commit.layer = layer;
  commit.size = size;
  std::lock_guard<std::mutex> lock(mu_);
  deletions_[snapshot] = deleted;
  listings_[snapshot] = lines;
  return commit;
}

Result<std::optional<Commit>> FakeWorker::CacheGet(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cache_.find(key);
  if (it == cache_.end()) return std::optional<Commit>();
  ++cache_hits_;
  return std::optional<Commit>(it->second);
}

Result<void> FakeWorker::CachePut(const std::string& key, const Commit& commit) {
  std::lock_guard<std::mutex> lock(mu_);
  cache_[key] = commit;
  return Ok();
}

Result<std::string> FakeWorker::CacheMountDir(const std::string& id) {
  std::string safe = id;
  for (char& c : safe)
    if (c == '/') c = '_';
  std::string dir = root_->path() + "/cache/" + safe;
  KILN_TRY(MakeDirs(dir));
  return dir;
}

Result<std::unique_ptr<Worker::KeyLock>> FakeWorker::LockKey(const std::string& key) {
  std::mutex* mu;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& slot = key_locks_[key];
    if (!slot) slot = std::make_unique<std::mutex>();
    mu = slot.get();
  }
  return std::unique_ptr<KeyLock>(std::make_unique<FakeKeyLock>(*mu));
}

void FakeWorker::AddUrl(std::string url, std::string content, std::optional<int64_t> mtime) {
  std::lock_guard<std::mutex> lock(mu_);
  urls_[std::move(url)] = FakeUrl{std::move(content), mtime};
}

void FakeWorker::AddGitRef(std::string remote, std::string ref, std::string commit,
                           std::map<std::string, FakeFile> files) {
  std::lock_guard<std::mutex> lock(mu_);
  git_refs_[remote + "#" + ref] = FakeGitRef{std::move(commit), std::move(files)};
}

std::vector<std::string> FakeWorker::fetches() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetches_;
}

Result<FetchedSource> FakeWorker::FetchUrl(const std::string& url, const std::string& filename) {
  FakeUrl served;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fetches_.push_back("url " + url);
    auto it = urls_.find(url);
    if (it == urls_.end()) return Fail(Error::NotFound(fmt::format("GET {}: HTTP status 404", url)));
    served = it->second;
  }
  KILN_TRY_ASSIGN(TempDir dir, TempDir::Create("kiln-fake-url"));
  std::string path = dir.path() + "/" + filename;
  KILN_TRY(WriteFile(path, served.content, 0600));
  if (served.mtime) {
    struct timespec times[2] = {{*served.mtime, 0}, {*served.mtime, 0}};
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) return Fail(Error::Io(path, errno, "utimensat"));
  }
  FetchedSource out;
  out.digest = Digest::Of(served.content);
  out.dir = std::make_unique<TempDir>(std::move(dir));
  return out;
}

Result<std::string> FakeWorker::ResolveGit(const GitSource& source) {
  std::lock_guard<std::mutex> lock(mu_);
  fetches_.push_back("ls-remote " + source.remote + "#" + source.ref);
  auto it = git_refs_.find(source.remote + "#" + source.ref);
  if (it != git_refs_.end()) return it->second.commit;
  if (source.ref.size() == 40) return source.ref;
  return Fail(Error::NotFound(fmt::format("git ref {} not found in {}", Quote(source.ref), source.remote)));
}

Result<FetchedSource> FakeWorker::FetchGit(const GitSource& source) {
  FakeGitRef served;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fetches_.push_back("git " + source.remote + "#" + source.ref);
    auto it = git_refs_.find(source.remote + "#" + source.ref);
    if (it == git_refs_.end()) {
      // By commit, as the solver fetches what ResolveGit returned.
      it = std::find_if(git_refs_.begin(), git_refs_.end(), [&](const auto& kv) {
        return kv.first.starts_with(source.remote + "#") && kv.second.commit == source.ref;
      });
    }
    if (it == git_refs_.end())
      return Fail(
          Error::NotFound(fmt::format("git ref {} not found in {}", Quote(source.ref), source.remote)));
    served = it->second;
  }
  KILN_TRY_ASSIGN(TempDir dir, TempDir::Create("kiln-fake-git"));
  auto files = served.files;
  if (source.keep_git_dir) files["/.git/HEAD"] = FakeFile{served.commit + "\n"};
  for (const auto& [path, f] : files) {
    std::string rel = CleanPath("/" + path);
    KILN_TRY(MakeDirs(dir.path() + Dirname(rel)));
    KILN_TRY(Materialize(dir.path(), rel, Entry{f.symlink ? 'l' : 'f', f.mode, f.uid, f.gid, f.content}));
  }
  FetchedSource out;
  out.commit = served.commit;
  out.dir = std::make_unique<TempDir>(std::move(dir));
  return out;
}

}  // namespace kiln::solver::testing
