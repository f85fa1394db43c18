#include "solver/copy.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "archive/layer.h"
#include "base/strings.h"

namespace kiln::solver {

namespace {

std::string RelativeToRoot(const std::string& path) {
  std::string clean = CleanPath("/" + path);
  return clean == "/" ? "." : clean.substr(1);
}

std::string JoinRel(const std::string& dir, const std::string& name) {
  return dir.empty() || dir == "." ? name : dir + "/" + name;
}

// One read buffer per thread for hashing and copying: allocating (and
// zero-filling) 1 MiB per file cost more than reading a small file.
constexpr size_t kBufferSize = 1 << 20;
char* ThreadBuffer() {
  thread_local std::unique_ptr<char[]> buf(new char[kBufferSize]);
  return buf.get();
}

// Files at least this big are hashed or copied by Background.
constexpr off_t kLargeFile = 1 << 20;

// Work on large files handed to one more thread while the walk goes on with
// the small ones, so that reading and hashing, or creating files and
// copying data, keep two cores busy. At most kMaxPending jobs wait, each
// holding its open files. Jobs run in order; the first error is kept.
class Background {
 public:
  using Job = std::function<Result<void>()>;
  Background() = default;
  ~Background() { (void)Wait(); }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;

  // Runs `job` here when there is no second core.
  Result<void> Submit(Job job) {
    if (std::thread::hardware_concurrency() < 2) return job();
    std::unique_lock<std::mutex> lock(mu_);
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    idle_.wait(lock, [&] { return jobs_.size() < kMaxPending; });
    if (error_) return Ok();  // Wait() reports it
    jobs_.push_back(std::move(job));
    work_.notify_one();
    return Ok();
  }

  // Waits for every submitted job; the first one's error.
  Result<void> Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!thread_.joinable()) return Ok();
    stop_ = true;
    work_.notify_one();
    lock.unlock();
    thread_.join();
    if (error_) return Fail(*std::exchange(error_, std::nullopt));
    return Ok();
  }

 private:
  static constexpr size_t kMaxPending = 8;

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      Job job = std::move(jobs_.front());
      jobs_.pop_front();
      idle_.notify_one();
      bool skip = error_.has_value();
      lock.unlock();
      Result<void> r = skip ? Result<void>() : job();
      job = nullptr;  // closes its files outside the lock
      lock.lock();
      if (!r && !error_) error_ = std::move(r).error();
    }
  }

  std::mutex mu_;
  std::condition_variable work_, idle_;
  std::deque<Job> jobs_;
  bool stop_ = false;
  std::optional<Error> error_;
  std::thread thread_;
};

// CopyOptions::parallel: directories wait in a queue and several threads
// copy them, each directory's entries by one thread. A directory's own
// owner, mode and times are set only once every directory is done (a later
// entry would change its mtime).
class ParallelWalk {
 public:
  struct Dir {
    std::string src_rel, shown;  // in the source root; in the destination root
    struct stat st;              // the source directory's
    bool fresh = true;           // made by this copy (nothing to replace in it)
  };

  void Push(Dir dir) {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::move(dir));
    cv_.notify_one();
  }

  // Runs `process` on every directory pushed, before or meanwhile, on
  // `threads` threads (this one among them). The first error.
  Result<void> Run(int threads, const std::function<Result<void>(const Dir&)>& process) {
    std::vector<std::thread> helpers;
    for (int i = 1; i < threads; ++i) helpers.emplace_back([&] { Loop(process); });
    Loop(process);
    for (auto& t : helpers) t.join();
    if (error_) return Fail(*std::exchange(error_, std::nullopt));
    return Ok();
  }

  // Every directory processed, once Run has returned.
  const std::vector<Dir>& done() const { return done_; }

 private:
  void Loop(const std::function<Result<void>(const Dir&)>& process) {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return error_ || !queue_.empty() || busy_ == 0; });
      if (error_ || queue_.empty()) break;
      Dir dir = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
      lock.unlock();
      Result<void> r = process(dir);
      lock.lock();
      --busy_;
      if (!r && !error_) error_ = std::move(r).error();
      done_.push_back(std::move(dir));
    }
    cv_.notify_all();
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Dir> queue_;       // guarded by mu_
  int busy_ = 0;                // guarded by mu_
  std::vector<Dir> done_;       // guarded by mu_
  std::optional<Error> error_;  // guarded by mu_
};

// A sha256 digest as the 32 bytes kContentDigestXattr holds: small enough
// to live inside an ext4 inode, where the hex form would take a 4 KiB
// block per file.
std::string DigestBytes(const Digest& d) {
  std::string out;
  const std::string& hex = d.hex();
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(nibble(hex[i]) << 4 | nibble(hex[i + 1]));
  return out;
}

// The walk rule ExpandSources, HashPath and CopyPath share, so that a cache
// key covers exactly what is copied.
struct Filter {
  const ExcludeFn& excluded;
  const ExcludeFn& can_skip_dir;

  // Whether entry `name` of `dirfd` (at `rel`) is walked: it is not
  // excluded, or it is an excluded directory that may not be skipped and
  // holds something walked (BuildKit creates the directories above a
  // re-included path, and only those).
  Result<bool> Walked(int dirfd, const std::string& name, const std::string& rel) const {
    if (!excluded || !excluded(rel)) return true;
    if (!can_skip_dir || can_skip_dir(rel)) return false;
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Fail(Error::Io(rel, errno, "stat"));
    if (!S_ISDIR(st.st_mode)) return false;
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return Fail(Error::Io(rel, errno, "open"));
    Fd owned(fd);
    KILN_TRY_ASSIGN(auto names, ListDirectory(fd, rel));
    for (const auto& n : names) {
      KILN_TRY_ASSIGN(bool walked, Walked(fd, n, JoinRel(rel, n)));
      if (walked) return true;
    }
    return false;
  }
};

// Whether source `rel` is kept by `filter` (Filter::Walked).
Result<bool> Kept(int root_fd, const std::string& rel, const Filter& filter) {
  if (rel == "." || !filter.excluded || !filter.excluded(rel)) return true;
  KILN_TRY_ASSIGN(Fd parent, OpenInRoot(root_fd, Dirname(rel), O_PATH | O_DIRECTORY));
  return filter.Walked(parent.get(), Basename(rel), rel);
}

}  // namespace

Result<void> MkdirAllInRoot(int root_fd, const std::string& path, uid_t uid, gid_t gid) {
  auto made = sys::MkdirInRoot(root_fd, path, uid, gid);
  if (made) return Ok();
  if (made.error().sys_errno() != ENOTDIR) return Fail(std::move(made).error());
  // Name the file in the way, as COPY and WORKDIR users need to see it.
  std::string rel = RelativeToRoot(path), prefix;
  for (const auto& part : Split(rel, '/')) {
    prefix = JoinRel(prefix, part);
    auto fd = OpenInRoot(root_fd, prefix, O_PATH);
    struct stat st;
    if (!fd || ::fstat(fd->get(), &st) != 0) break;
    if (!S_ISDIR(st.st_mode))
      return Fail(Error::Invalid(fmt::format("cannot create directory /{}: /{} is not a directory", rel, prefix)));
  }
  return Fail(std::move(made).error());
}

bool HasWildcard(std::string_view s) { return s.find_first_of("*?[\\") != std::string_view::npos; }

namespace {

// One step of Go's path.Match: does `chunk` (no '*') match a prefix of `s`?
// Returns the rest of `s`, or nullopt; kInvalid for a bad class.
Result<std::optional<std::string_view>> MatchChunk(std::string_view chunk, std::string_view s) {
  while (!chunk.empty()) {
    if (s.empty()) return std::optional<std::string_view>();
    switch (chunk[0]) {
      case '[': {
        char c = s[0];
        s.remove_prefix(1);
        chunk.remove_prefix(1);
        bool negated = !chunk.empty() && chunk[0] == '^';
        if (negated) chunk.remove_prefix(1);
        bool match = false;
        int nrange = 0;
        for (;;) {
          if (!chunk.empty() && chunk[0] == ']' && nrange > 0) {
            chunk.remove_prefix(1);
            break;
          }
          auto get = [&](char& out) -> bool {
            if (chunk.empty() || chunk[0] == '-' || chunk[0] == ']') return false;
            if (chunk[0] == '\\') {
              chunk.remove_prefix(1);
              if (chunk.empty()) return false;
            }
            out = chunk[0];
            chunk.remove_prefix(1);
            return true;
          };
          char lo, hi;
          if (!get(lo)) return Fail(Error::Invalid("syntax error in pattern"));
          hi = lo;
          if (!chunk.empty() && chunk[0] == '-') {
            chunk.remove_prefix(1);
            if (!get(hi)) return Fail(Error::Invalid("syntax error in pattern"));
          }
          if (lo <= c && c <= hi) match = true;
          ++nrange;
        }
        if (match == negated) return std::optional<std::string_view>();
        break;
      }
      case '?':
        if (s[0] == '/') return std::optional<std::string_view>();
        s.remove_prefix(1);
        chunk.remove_prefix(1);
        break;
      case '\\':
        chunk.remove_prefix(1);
        if (chunk.empty()) return Fail(Error::Invalid("syntax error in pattern"));
        [[fallthrough]];
      default:
        if (chunk[0] != s[0]) return std::optional<std::string_view>();
        s.remove_prefix(1);
        chunk.remove_prefix(1);
    }
  }
  return std::optional<std::string_view>(s);
}

}  // namespace

Result<bool> MatchPattern(std::string_view pattern, std::string_view name) {
  while (!pattern.empty()) {
    bool star = false;
    while (!pattern.empty() && pattern[0] == '*') {
      pattern.remove_prefix(1);
      star = true;
    }
    // The next chunk runs to the next unescaped '*' outside a class.
    size_t i = 0;
    bool in_class = false;
    for (; i < pattern.size(); ++i) {
      char c = pattern[i];
      if (c == '\\' && i + 1 < pattern.size()) ++i;
      else if (c == '[') in_class = true;
      else if (c == ']') in_class = false;
      else if (c == '*' && !in_class) break;
    }
    std::string_view chunk = pattern.substr(0, i);
    pattern.remove_prefix(i);
    if (star && chunk.empty()) return name.find('/') == std::string_view::npos;
    KILN_TRY_ASSIGN(auto rest, MatchChunk(chunk, name));
    if (rest && (rest->empty() || !pattern.empty())) {
      name = *rest;
      continue;
    }
    if (star) {
      bool found = false;
      for (size_t k = 0; k < name.size() && name[k] != '/'; ++k) {
        KILN_TRY_ASSIGN(auto r, MatchChunk(chunk, name.substr(k + 1)));
        if (r && (pattern.empty() ? r->empty() : true)) {
          name = *r;
          found = true;
          break;
        }
      }
      if (found) continue;
    }
    return false;
  }
  return name.empty();
}

Result<std::vector<std::string>> ExpandSources(int root_fd, const std::string& pattern, const ExcludeFn& excluded,
                                               const ExcludeFn& can_skip_dir) {
  Filter filter{excluded, can_skip_dir};
  std::string rel = RelativeToRoot(pattern);
  if (!HasWildcard(rel)) {
    bool found = OpenInRoot(root_fd, rel, O_PATH).has_value();
    if (found) {
      KILN_TRY_ASSIGN(found, Kept(root_fd, rel, filter));
    }
    if (!found) return Fail(Error::NotFound(fmt::format("\"/{}\": not found", rel == "." ? "" : rel)));
    return std::vector<std::string>{rel};
  }
  std::vector<std::string> current = {"."};
  for (const auto& part : Split(rel, '/')) {
    std::vector<std::string> next;
    for (const auto& dir : current) {
      if (!HasWildcard(part)) {
        std::string p = JoinRel(dir, part);
        if (OpenInRoot(root_fd, p, O_PATH)) next.push_back(p);
        continue;
      }
      auto dfd = OpenInRoot(root_fd, dir, O_RDONLY | O_DIRECTORY);
      if (!dfd) continue;
      KILN_TRY_ASSIGN(auto names, ListDirectory(dfd->get(), dir));
      for (const auto& n : names) {
        KILN_TRY_ASSIGN(bool m, MatchPattern(part, n));
        if (m) next.push_back(JoinRel(dir, n));
      }
    }
    current = std::move(next);
  }
  std::vector<std::string> out;
  for (auto& p : current) {
    KILN_TRY_ASSIGN(bool kept, Kept(root_fd, p, filter));
    if (kept) out.push_back(std::move(p));
  }
  if (out.empty()) return Fail(Error::NotFound(fmt::format("no source files were specified matching \"{}\"", pattern)));
  return out;
}

namespace {

Result<Digest> HashFileContent(int fd, const std::string& shown) {
  Sha256 h;
  char* buf = ThreadBuffer();
  for (;;) {
    ssize_t n = ::read(fd, buf, kBufferSize);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(shown, errno, "read"));
    }
    if (n == 0) break;
    h.Update(buf, n);
  }
  return h.Finish();
}

// Whether remembered digests may be trusted for files on `fs`: local
// filesystems that keep ctime exactly. Not overlayfs (a COPY --from stage
// root: its device number does not outlive the mount), not network or FUSE
// filesystems (cached or server-side attributes).
bool CtimeIsTrustworthy(const struct statfs& fs) {
  switch (static_cast<unsigned long>(fs.f_type)) {
    case EXT4_SUPER_MAGIC:  // also ext2 and ext3
    case XFS_SUPER_MAGIC:
    case BTRFS_SUPER_MAGIC:
    case TMPFS_MAGIC:
    case F2FS_SUPER_MAGIC:
      return true;
    default:
      return false;
  }
}

// `cache` if remembered digests can be trusted for the tree at `root_fd`
// (whose stat it fills in), else null.
FileDigestCache* UsableCache(FileDigestCache* cache, int root_fd, struct stat* tree) {
  struct statfs fs;
  if (cache && ::fstat(root_fd, tree) == 0 && ::fstatfs(root_fd, &fs) == 0 && CtimeIsTrustworthy(fs)) return cache;
  return nullptr;
}

// HashPath's state for one call: the digest being built and where file
// digests may be remembered.
struct Hasher {
  explicit Hasher(Filter f) : filter(f) {}
  Filter filter;
  // One record per entry in walk order; a large file's digest is appended
  // to its record by the background thread (a deque's elements stay put).
  std::deque<std::string> records;
  FileDigestCache* cache = nullptr;  // null: read every file
  struct stat tree {};               // the root's stat, naming the cache table
  int64_t start_ns = 0;              // before the first stat
  Background background;             // last: joined before the rest goes

  // Appends the hex digest of file `name` and a newline to `record`, now
  // or, for a large file, on the background thread.
  Result<void> AddFileDigest(int dirfd, const std::string& name, const std::string& rel, const struct stat& st,
                             bool follow, std::string* record) {
    // Files on another mount inside the tree are not vetted: read them.
    FileDigestCache* usable = st.st_dev == tree.st_dev ? cache : nullptr;
    if (usable) {
      if (auto d = usable->Find(tree, st)) {
        *record += d->hex() + '\n';
        return Ok();
      }
    }
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (fd < 0) return Fail(Error::Io(rel, errno, "open"));
    auto hash = [this, usable, st, rel, record, owned = std::make_shared<Fd>(fd)]() -> Result<void> {
      KILN_TRY_ASSIGN(Digest d, HashFileContent(owned->get(), rel));
      // Remember it only if the file read is the one stat'ed (not replaced
      // in between) and unchanged since.
      struct stat now;
      if (usable && ::fstat(owned->get(), &now) == 0 && now.st_dev == st.st_dev && now.st_ino == st.st_ino &&
          now.st_ctim.tv_sec == st.st_ctim.tv_sec && now.st_ctim.tv_nsec == st.st_ctim.tv_nsec)
        usable->Add(tree, st, d, start_ns);
      *record += d.hex() + '\n';
      return Ok();
    };
    if (st.st_size >= kLargeFile) return background.Submit(std::move(hash));
    return hash();
  }

  Result<Digest> Finish() {
    KILN_TRY(background.Wait());
    Sha256 h;
    for (const auto& r : records) h.Update(r);
    return h.Finish();
  }

  // Appends one record per entry; see docs/formats/cache-key.md.
  Result<void> Entry(int dirfd, const std::string& name, const std::string& rel, bool follow) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
      return Fail(Error::Io(rel, errno, "stat"));
    std::string& record = records.emplace_back(rel);
    record += '\0';
    record += fmt::format("{:o}", st.st_mode);
    record += '\0';
    if (S_ISREG(st.st_mode)) {
      KILN_TRY(AddFileDigest(dirfd, name, rel, st, follow, &record));
    } else {
      if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ::readlinkat(dirfd, name.c_str(), target, sizeof target);
        if (n < 0) return Fail(Error::Io(rel, errno, "readlink"));
        record.append(target, n);
      } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
        record += fmt::format("{}", st.st_rdev);
      }
      record += '\n';
    }
    if (S_ISDIR(st.st_mode)) {
      int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
      if (fd < 0) return Fail(Error::Io(rel, errno, "open"));
      Fd owned(fd);
      KILN_TRY_ASSIGN(auto names, ListDirectory(fd, rel));
      for (const auto& n : names) {
        std::string child = JoinRel(rel, n);
        KILN_TRY_ASSIGN(bool walked, filter.Walked(fd, n, child));
        if (walked) KILN_TRY(Entry(fd, n, child, false));
      }
    }
    return Ok();
  }
};

}  // namespace

Result<Digest> HashPath(int root_fd, const std::string& rel_in, const ExcludeFn& excluded,
                        const ExcludeFn& can_skip_dir, FileDigestCache* digest_cache) {
  std::string rel = RelativeToRoot(rel_in);
  std::string parent = Dirname(rel), name = Basename(rel);
  if (rel == ".") {
    parent = ".";
    name = ".";
  }
  KILN_TRY_ASSIGN(Fd pfd, OpenInRoot(root_fd, parent, O_RDONLY | O_DIRECTORY));
  Hasher hasher(Filter{excluded, can_skip_dir});
  if (FileDigestCache* cache = UsableCache(digest_cache, root_fd, &hasher.tree)) {
    hasher.cache = cache;
    hasher.start_ns = cache->Now();
  }
  KILN_TRY(hasher.Entry(pfd.get(), name, rel, true));
  return hasher.Finish();
}

namespace {

// Whether a destination directory may already hold entries: one this copy
// has just made is empty, so its children need no check for something to
// replace (a lookup through every layer of the overlay).
enum class DestDir { kMayHaveEntries, kFresh };

struct Copier {
  Copier(int dst_root_fd, const CopyOptions& options) : dst_root(dst_root_fd), opt(options) {}
  int dst_root;
  const CopyOptions& opt;
  std::map<std::pair<dev_t, ino_t>, std::string> links;  // source inode -> dest path
  // copy_file_range failed once with "not supported here" (EXDEV between the
  // context and an overlay mount): go straight to read/write.
  std::atomic<bool> no_copy_range = false;
  // Where source files' digests are remembered (CopyOptions::stamp_digests).
  FileDigestCache* cache = nullptr;
  struct stat tree {};
  // Copies large files' data; the caller waits for it after the walk.
  Background* background = nullptr;
  // Set in parallel mode: subdirectories go here instead of recursing.
  ParallelWalk* walk = nullptr;
  // Guards `links` (and the creation of a hard-linked file's first copy,
  // so that a second name can link to it).
  std::mutex links_mu;

  uid_t Uid(const struct stat& st) const {
    if (opt.uid) return *opt.uid;
    return opt.owners == CopyOptions::Owners::kSourceOwners ? st.st_uid : 0;
  }
  gid_t Gid(const struct stat& st) const {
    if (opt.gid) return *opt.gid;
    if (opt.uid) return *opt.uid;  // --chown=user without a group uses the user's id, as docker does
    return opt.owners == CopyOptions::Owners::kSourceOwners ? st.st_gid : 0;
  }
  Filter filter() const { return {opt.excluded, opt.can_skip_dir}; }
  mode_t Mode(const struct stat& st) const {
    if (opt.chmod) return *opt.chmod;
    return st.st_mode & 07777;
  }

  // Removes whatever is at `name` in `dirfd` unless it is a directory and
  // `keep_dir` is set. Returns true if a directory was kept.
  Result<bool> ClearDest(int dirfd, const std::string& name, const std::string& shown, bool keep_dir) {
    struct stat st;
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    if (S_ISDIR(st.st_mode)) {
      if (keep_dir) return true;
      return Fail(Error::Invalid(fmt::format("cannot replace directory {} with a non-directory", shown)));
    }
    if (::unlinkat(dirfd, name.c_str(), 0) != 0) return Fail(Error::Io(shown, errno, "unlink"));
    return false;
  }

  Result<void> CopyFileData(int src, int dst, const std::string& shown) {
    while (!no_copy_range) {
      ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, 1 << 30, 0);
      if (n == 0) return Ok();
      if (n > 0) continue;
      if (errno == EINTR) continue;
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return Fail(Error::Io(shown, errno, "copy"));
      // The offsets stay where they are; read/write continues from there.
      no_copy_range = true;
    }
    char* buf = ThreadBuffer();
    for (;;) {
      ssize_t n = ::read(src, buf, kBufferSize);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(Error::Io(shown, errno, "read"));
      if (n == 0) return Ok();
      KILN_TRY(WriteAll(dst, std::string_view(buf, n), shown));
    }
  }

  // Copies entry `sname` of source dir `sdir` to `dname` in dest dir `ddir`.
  // A copied directory's owner, mode and times, once its entries are in.
  Result<void> DirMetadata(int d, const struct stat& st, const std::string& shown) const {
    if (::fchown(d, Uid(st), Gid(st)) != 0) return Fail(Error::Io(shown, errno, "chown"));
    if (::fchmod(d, Mode(st)) != 0) return Fail(Error::Io(shown, errno, "chmod"));
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(d, times);
    return Ok();
  }

  // The remembered content digest of source file `st`, when stamping.
  std::optional<Digest> SourceDigest(const struct stat& st) const {
    if (!cache || st.st_dev != tree.st_dev) return std::nullopt;
    return cache->Find(tree, st);
  }

  // Hard-links `name` of `link_dir` as `dname` in `ddir` if it is a regular
  // file holding `digest` with the metadata copying `st` would give.
  // Anything else (no such file, other metadata, EXDEV) means copying.
  bool LinkUnchanged(int link_dir, const std::string& name, const struct stat& st, const Digest& digest, int ddir,
                     const std::string& dname) const {
    struct stat prev;
    if (::fstatat(link_dir, name.c_str(), &prev, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(prev.st_mode) ||
        prev.st_size != st.st_size || (prev.st_mode & 07777) != Mode(st) || prev.st_uid != Uid(st) ||
        prev.st_gid != Gid(st) || prev.st_mtim.tv_sec != st.st_mtim.tv_sec ||
        prev.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
      return false;
    int fd = ::openat(link_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    Fd owned(fd);
    char value[64];
    ssize_t n = ::fgetxattr(fd, archive::kContentDigestXattr, value, sizeof value);
    if (n <= 0 || std::string_view(value, static_cast<size_t>(n)) != DigestBytes(digest)) return false;
    return ::linkat(link_dir, name.c_str(), ddir, dname.c_str(), 0) == 0;
  }

  // `link_dir` is the directory under CopyOptions::link_from matching
  // `ddir`, or -1.
  Result<void> Entry(int sdir, const std::string& sname, int ddir, const std::string& dname, const std::string& shown,
                     bool follow_src, const std::string& src_rel, DestDir in = DestDir::kMayHaveEntries,
                     int link_dir = -1) {
    bool may_exist = in == DestDir::kMayHaveEntries;
    struct stat st;
    if (::fstatat(sdir, sname.c_str(), &st, follow_src ? 0 : AT_SYMLINK_NOFOLLOW) != 0)
      return Fail(Error::Io(src_rel, errno, "stat"));
    if (S_ISDIR(st.st_mode)) {
      bool kept = false;
      if (may_exist) {
        KILN_TRY_ASSIGN(kept, ClearDest(ddir, dname, shown, true));
      }
      if (!kept && ::mkdirat(ddir, dname.c_str(), 0700) != 0) return Fail(Error::Io(shown, errno, "mkdir"));
      if (walk) {
        walk->Push({src_rel, shown, st, !kept});
        return Ok();
      }
      int s = ::openat(sdir, sname.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow_src ? 0 : O_NOFOLLOW));
      if (s < 0) return Fail(Error::Io(src_rel, errno, "open"));
      Fd sfd(s);
      int d = ::openat(ddir, dname.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
      if (d < 0) return Fail(Error::Io(shown, errno, "open"));
      Fd dfd(d);
      Fd link_child;
      if (link_dir >= 0)
        link_child = Fd(::openat(link_dir, dname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      KILN_TRY(Contents(s, d, shown, src_rel, kept ? DestDir::kMayHaveEntries : DestDir::kFresh, link_child.get()));
      return DirMetadata(d, st, shown);
    }
    if (may_exist) KILN_TRY(ClearDest(ddir, dname, shown, false));
    std::unique_lock<std::mutex> first_of_links(links_mu, std::defer_lock);
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      first_of_links.lock();
      auto it = links.find({st.st_dev, st.st_ino});
      if (it != links.end()) {
        auto target = OpenInRoot(dst_root, it->second, O_PATH, FollowLast::kNo);
        if (target && ::linkat(target->get(), "", ddir, dname.c_str(), AT_EMPTY_PATH) == 0) return Ok();
      }
      links[{st.st_dev, st.st_ino}] = shown;
    }
    if (S_ISREG(st.st_mode)) {
      std::optional<Digest> digest;
      if (opt.stamp_digests) digest = SourceDigest(st);
      if (digest && link_dir >= 0 && LinkUnchanged(link_dir, dname, st, *digest, ddir, dname)) return Ok();
      int s = ::openat(sdir, sname.c_str(), O_RDONLY | O_CLOEXEC | (follow_src ? 0 : O_NOFOLLOW));
      if (s < 0) return Fail(Error::Io(src_rel, errno, "open"));
      Fd sfd(s);
      return RegularFile(s, st, ddir, dname, shown, digest);
    }
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlinkat(sdir, sname.c_str(), target, sizeof target - 1);
      if (n < 0) return Fail(Error::Io(src_rel, errno, "readlink"));
      target[n] = 0;
      if (::symlinkat(target, ddir, dname.c_str()) != 0) return Fail(Error::Io(shown, errno, "symlink"));
      ::fchownat(ddir, dname.c_str(), Uid(st), Gid(st), AT_SYMLINK_NOFOLLOW);
      struct timespec times[2] = {st.st_atim, st.st_mtim};
      ::utimensat(ddir, dname.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return Ok();
    }
    // Devices, fifos, sockets.
    if (::mknodat(ddir, dname.c_str(), st.st_mode, st.st_rdev) != 0) return Fail(Error::Io(shown, errno, "mknod"));
    ::fchownat(ddir, dname.c_str(), Uid(st), Gid(st), AT_SYMLINK_NOFOLLOW);
    return Ok();
  }

  // `digest`, when known, is stamped on the copy for a later LinkUnchanged.
  Result<void> RegularFile(int s, const struct stat& st, int ddir, const std::string& dname, const std::string& shown,
                           const std::optional<Digest>& digest = std::nullopt) {
    int d = ::openat(ddir, dname.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (d < 0) return Fail(Error::Io(shown, errno, "create"));
    Fd dst(d);
    if (background && st.st_size >= kLargeFile) {
      // The file exists now (a later hard link to it can be made); its data
      // and metadata follow on the background thread, with its own fds.
      auto src = std::make_shared<Fd>(::fcntl(s, F_DUPFD_CLOEXEC, 0));
      if (!src->valid()) return Fail(Error::Io(shown, errno, "dup"));
      auto out = std::make_shared<Fd>(std::move(dst));
      return background->Submit(
          [this, st, shown, digest, src, out] { return FillFile(src->get(), out->get(), st, shown, digest); });
    }
    return FillFile(s, dst.get(), st, shown, digest);
  }

  // Copies a new file's data, digest stamp, owner, mode and times.
  Result<void> FillFile(int s, int d, const struct stat& st, const std::string& shown,
                        const std::optional<Digest>& digest) {
    KILN_TRY(CopyFileData(s, d, shown));
    if (digest) {
      std::string value = DigestBytes(*digest);
      // Only an optimisation for the next build: a filesystem without
      // trusted xattrs just never links.
      (void)::fsetxattr(d, archive::kContentDigestXattr, value.data(), value.size(), 0);
    }
    if (::fchown(d, Uid(st), Gid(st)) != 0) return Fail(Error::Io(shown, errno, "chown"));
    if (::fchmod(d, Mode(st)) != 0) return Fail(Error::Io(shown, errno, "chmod"));
    struct timespec times[2] = {st.st_atim, st.st_mtim};
    ::futimens(d, times);
    return Ok();
  }

  Result<void> Contents(int sdir, int ddir, const std::string& shown, const std::string& src_rel,
                        DestDir dest = DestDir::kMayHaveEntries, int link_dir = -1) {
    KILN_TRY_ASSIGN(auto names, ListDirectory(sdir, src_rel));
    for (const auto& n : names) {
      std::string child_rel = JoinRel(src_rel, n);
      KILN_TRY_ASSIGN(bool walked, filter().Walked(sdir, n, child_rel));
      if (!walked) continue;
      KILN_TRY(Entry(sdir, n, ddir, n, shown == "/" ? "/" + n : shown + "/" + n, false, child_rel, dest, link_dir));
    }
    return Ok();
  }
};

}  // namespace

Result<void> CopyPath(int src_root_fd, const std::string& src_rel_in, int dst_root_fd, const std::string& dst_path,
                      DestKind dest_kind, const CopyOptions& options) {
  std::string src_rel = RelativeToRoot(src_rel_in);
  std::string dst = CleanPath("/" + dst_path);
  Copier copier(dst_root_fd, options);
  if (options.stamp_digests) copier.cache = UsableCache(options.digest_cache, src_root_fd, &copier.tree);
  // The source itself is followed if it is a symlink (BuildKit's
  // FollowSymlinks for COPY sources), but only inside its root.
  KILN_TRY_ASSIGN(Fd src, OpenInRoot(src_root_fd, src_rel, O_PATH));
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return Fail(Error::Io(src_rel, errno, "stat"));
  if (S_ISDIR(st.st_mode)) {
    KILN_TRY(MkdirAllInRoot(dst_root_fd, dst, 0, 0));
    KILN_TRY_ASSIGN(Fd s, OpenInRoot(src_root_fd, src_rel, O_RDONLY | O_DIRECTORY));
    KILN_TRY_ASSIGN(Fd d, OpenInRoot(dst_root_fd, dst, O_RDONLY | O_DIRECTORY));
    Fd link_dir;
    if (options.link_from >= 0)
      if (auto l = OpenInRoot(options.link_from, dst, O_RDONLY | O_DIRECTORY)) link_dir = std::move(*l);
    Background background;
    copier.background = &background;
    ParallelWalk walk;
    if (options.parallel) copier.walk = &walk;
    KILN_TRY(copier.Contents(s.get(), d.get(), dst, src_rel, DestDir::kMayHaveEntries, link_dir.get()));
    if (options.parallel) {
      int threads = static_cast<int>(std::clamp(std::thread::hardware_concurrency(), 1u, 4u));
      KILN_TRY(walk.Run(threads, [&](const ParallelWalk::Dir& dir) -> Result<void> {
        KILN_TRY_ASSIGN(Fd sdir, OpenInRoot(src_root_fd, dir.src_rel, O_RDONLY | O_DIRECTORY, FollowLast::kNo));
        KILN_TRY_ASSIGN(Fd ddir, OpenInRoot(dst_root_fd, dir.shown, O_RDONLY | O_DIRECTORY, FollowLast::kNo));
        Fd ldir;
        if (options.link_from >= 0)
          if (auto l = OpenInRoot(options.link_from, dir.shown, O_RDONLY | O_DIRECTORY, FollowLast::kNo))
            ldir = std::move(*l);
        return copier.Contents(sdir.get(), ddir.get(), dir.shown, dir.src_rel,
                               dir.fresh ? DestDir::kFresh : DestDir::kMayHaveEntries, ldir.get());
      }));
    }
    KILN_TRY(background.Wait());
    for (const auto& dir : walk.done()) {
      KILN_TRY_ASSIGN(Fd dfd, OpenInRoot(dst_root_fd, dir.shown, O_RDONLY | O_DIRECTORY, FollowLast::kNo));
      KILN_TRY(copier.DirMetadata(dfd.get(), dir.st, dir.shown));
    }
    // The destination directory takes --chown/--chmod like its contents.
    if (options.uid && ::fchown(d.get(), *options.uid, options.gid.value_or(*options.uid)) != 0)
      return Fail(Error::Io(dst, errno, "chown"));
    if (options.chmod && ::fchmod(d.get(), *options.chmod) != 0) return Fail(Error::Io(dst, errno, "chmod"));
    return Ok();
  }
  bool into_dir = dest_kind == DestKind::kDirectory || dst_path.ends_with('/');
  if (!into_dir) {
    auto existing = OpenInRoot(dst_root_fd, dst, O_PATH | O_DIRECTORY);
    into_dir = existing.has_value();
  }
  std::string target = into_dir ? JoinPath(dst, Basename(src_rel == "." ? "" : src_rel)) : dst;
  std::string parent = Dirname(target), name = Basename(target);
  if (target == "/") return Fail(Error::Invalid("cannot copy a file to /"));
  KILN_TRY(MkdirAllInRoot(dst_root_fd, parent, 0, 0));
  KILN_TRY_ASSIGN(Fd pdir, OpenInRoot(dst_root_fd, parent, O_RDONLY | O_DIRECTORY));
  // Copy from the descriptor resolved inside the source root: a symlink
  // source was followed there, never through the host.
  if (S_ISREG(st.st_mode)) {
    KILN_TRY_ASSIGN(Fd s, OpenInRoot(src_root_fd, src_rel, O_RDONLY));
    KILN_TRY(copier.ClearDest(pdir.get(), name, target, false));
    return copier.RegularFile(s.get(), st, pdir.get(), name, target);
  }
  KILN_TRY_ASSIGN(Fd sparent, OpenInRoot(src_root_fd, Dirname("/" + src_rel), O_RDONLY | O_DIRECTORY));
  return copier.Entry(sparent.get(), Basename(src_rel), pdir.get(), name, target, false, src_rel);
}

}  // namespace kiln::solver
