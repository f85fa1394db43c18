// The hash cache's table files (format: docs/formats/store.md, "Hash cache").

#include "store/hash_cache.h"

#include <time.h>

#include <cstring>

#include "base/fs.h"
#include "store/store_internal.h"

namespace kiln::store {
namespace {

constexpr std::string_view kMagic = "KILNHC1\n";
// dev, ino, size, mtime_ns, ctime_ns (8 bytes each), mode (4), padding (4),
// then the digest as 64 lowercase hex digits.
constexpr size_t kRecordSize = 5 * 8 + 4 + 4 + 64;
constexpr size_t kTrailerSize = 64;  // hex sha256 of everything before it

void Put64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}

uint64_t Get64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

bool IsHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

FileStamp FileStamp::Of(const struct stat& st) {
  FileStamp s;
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
  s.ctime_ns = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
  s.mode = st.st_mode;
  return s;
}

HashCache::HashCache(std::string dir, HashCacheOptions options) : dir_(std::move(dir)), options_(std::move(options)) {}

HashCache::~HashCache() { (void)Flush(); }

int64_t HashCache::Now() const {
  if (options_.clock) return options_.clock();
  struct timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

std::string HashCache::TablePath(const FileStamp& tree) const {
  return JoinPath(dir_, fmt::format("{:x}-{:x}", tree.dev, tree.ino));
}

HashCache::Table& HashCache::Load(const FileStamp& tree) {
  auto [it, inserted] = tables_.try_emplace({tree.dev, tree.ino});
  if (!inserted) return it->second;
  Table& table = it->second;
  auto data = ReadFile(TablePath(tree));
  if (!data) return table;
  std::string_view d = *data;
  if (d.size() < kMagic.size() + kTrailerSize || !d.starts_with(kMagic) ||
      (d.size() - kMagic.size() - kTrailerSize) % kRecordSize != 0)
    return table;
  std::string_view body = d.substr(0, d.size() - kTrailerSize);
  if (Digest::Of(body).hex() != d.substr(body.size())) return table;
  for (size_t off = kMagic.size(); off < body.size(); off += kRecordSize) {
    const char* p = body.data() + off;
    Entry e;
    e.stamp.dev = Get64(p);
    e.stamp.ino = Get64(p + 8);
    e.stamp.size = static_cast<int64_t>(Get64(p + 16));
    e.stamp.mtime_ns = static_cast<int64_t>(Get64(p + 24));
    e.stamp.ctime_ns = static_cast<int64_t>(Get64(p + 32));
    e.stamp.mode = static_cast<uint32_t>(Get64(p + 40));
    std::string_view hex(p + 48, 64);
    if (!IsHex(hex)) return table = Table{};
    e.digest = Digest::FromSha256Hex(std::string(hex));
    table.entries[{e.stamp.dev, e.stamp.ino}] = std::move(e);
  }
  return table;
}

std::optional<Digest> HashCache::Find(const FileStamp& tree, const FileStamp& file) {
  std::lock_guard<std::mutex> lock(mu_);
  Table& table = Load(tree);
  auto it = table.entries.find({file.dev, file.ino});
  if (it == table.entries.end() || !(it->second.stamp == file)) return std::nullopt;
  return it->second.digest;
}

void HashCache::Add(const FileStamp& tree, const FileStamp& file, const Digest& digest, int64_t stat_time_ns) {
  if (stat_time_ns - file.ctime_ns < options_.racy_window_ns || digest.algorithm() != "sha256") return;
  std::lock_guard<std::mutex> lock(mu_);
  Table& table = Load(tree);
  table.entries[{file.dev, file.ino}] = Entry{file, digest};
  table.dirty = true;
}

Result<void> HashCache::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [key, table] : tables_) {
    if (!table.dirty) continue;
    std::string out(kMagic);
    out.reserve(kMagic.size() + table.entries.size() * kRecordSize + kTrailerSize);
    for (const auto& [inode, e] : table.entries) {
      Put64(out, e.stamp.dev);
      Put64(out, e.stamp.ino);
      Put64(out, static_cast<uint64_t>(e.stamp.size));
      Put64(out, static_cast<uint64_t>(e.stamp.mtime_ns));
      Put64(out, static_cast<uint64_t>(e.stamp.ctime_ns));
      Put64(out, e.stamp.mode);
      out += e.digest.hex();
    }
    out += Digest::Of(out).hex();
    KILN_TRY(MakeDirs(dir_, 0700));
    FileStamp tree;
    tree.dev = key.first;
    tree.ino = key.second;
    // A cache: a table lost in a crash only costs a re-hash, so no fsync.
    KILN_TRY(WriteFileAtomic(TablePath(tree), out, Durability::kNone, 0600));
    table.dirty = false;
  }
  return Ok();
}

Result<void> HashCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  tables_.clear();
  return RemoveAll(dir_);
}

}  // namespace kiln::store
