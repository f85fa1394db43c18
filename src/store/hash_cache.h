#pragma once

// The hash cache: content digests of files outside the store (build
// contexts), remembered across builds so that an unchanged file is not read
// again to compute a COPY's cache key. An entry is keyed by the file's stat
// identity (device, inode, size, mtime, ctime, mode); any write to a file
// changes its ctime, which no user can set, so a changed file never matches
// an old entry. Format: docs/formats/store.md, "Hash cache".

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

#include "base/digest.h"
#include "base/error.h"
#include "store/thread_annotations.h"

namespace kiln::store {

// What identifies one version of a file's content.
struct FileStamp {
  uint64_t dev = 0;
  uint64_t ino = 0;
  int64_t size = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  uint32_t mode = 0;
  static FileStamp Of(const struct stat& st);
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

struct HashCacheOptions {
  // A file whose ctime is less than this before the moment it was stat'ed is
  // hashed but not recorded: a write in the same clock tick as an earlier
  // one may leave ctime unchanged (git's "racy clean" problem).
  int64_t racy_window_ns = 2'000'000'000;
  // Unix time in ns; empty means CLOCK_REALTIME.
  std::function<int64_t()> clock;
};

// One table per tree (a build context directory, named by the stamp of its
// root), loaded on first use and written back by Flush. Thread-safe. A
// missing, truncated or corrupt table file reads as empty: the cache only
// ever saves work, it is never needed for correctness.
class HashCache {
 public:
  // `dir` is <store root>/hashcache; it is created on the first Flush.
  explicit HashCache(std::string dir, HashCacheOptions options = {});
  // Flushes, ignoring errors.
  ~HashCache();
  HashCache(const HashCache&) = delete;
  HashCache& operator=(const HashCache&) = delete;

  // The current time, as the clock option gives it; callers pass the value
  // taken before their stat calls to Add.
  int64_t Now() const;
  // The digest recorded for `file` in the tree rooted at `tree`, if its stamp
  // is unchanged.
  std::optional<Digest> Find(const FileStamp& tree, const FileStamp& file);
  // Records `digest` as the content of `file`, whose stamp was taken at
  // `stat_time_ns` (see racy_window_ns) before the content was read.
  void Add(const FileStamp& tree, const FileStamp& file, const Digest& digest, int64_t stat_time_ns);
  // Writes every table that gained entries (atomically, without fsync). kIo
  // naming the file.
  [[nodiscard]] Result<void> Flush();
  // Forgets every table, in memory and on disk (prune of the build cache).
  [[nodiscard]] Result<void> Clear();

  // The table file of `tree`, for tests.
  std::string TEST_TablePath(const FileStamp& tree) const { return TablePath(tree); }

 private:
  struct Entry {
    FileStamp stamp;
    Digest digest;
  };
  struct InodeHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const { return k.first * 1000003u ^ k.second; }
  };
  struct Table {
    std::unordered_map<std::pair<uint64_t, uint64_t>, Entry, InodeHash> entries;
    bool dirty = false;
  };

  std::string TablePath(const FileStamp& tree) const;
  Table& Load(const FileStamp& tree) KILN_REQUIRES(mu_);

  const std::string dir_;
  HashCacheOptions options_;
  std::mutex mu_;
  std::map<std::pair<uint64_t, uint64_t>, Table> tables_ KILN_GUARDED_BY(mu_);
};

}  // namespace kiln::store
