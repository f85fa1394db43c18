#pragma once

// Streaming tar writer and reader.
//
// Format written (kept stable: layer digests depend on it):
//  * POSIX ustar headers: magic "ustar\0" version "00", octal fields
//    zero-padded and NUL-terminated, empty uname/gname (numeric ids only),
//    prefix field unused, mtime in whole seconds.
//  * Directories are named with a trailing '/'. Only regular files carry
//    data; data is padded with zeros to 512 bytes.
//  * A PAX 'x' header (named "PaxHeaders/<name>", truncated to 100 bytes)
//    precedes a member only when ustar cannot hold a value, with records in
//    this order: path (name > 100 bytes), linkpath (> 100), uid, gid
//    (> 07777777), size (> 077777777777), mtime (negative or too large),
//    then SCHILY.xattr.<name> records sorted by name.
//  * The archive ends with two zero blocks, no further padding.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "archive/stream.h"
#include "base/error.h"

namespace kiln::archive {

enum class TarType {
  kFile,
  kHardLink,
  kSymlink,
  kCharDevice,
  kBlockDevice,
  kDirectory,
  kFifo,
};

std::string_view TarTypeName(TarType type);

// One archive member, as plain data. `path` is the member name without a
// trailing '/' for directories (the writer adds it, the reader strips it)
// and without a leading "./".
struct TarEntry {
  std::string path;
  TarType type = TarType::kFile;
  // Permission bits including setuid/setgid/sticky (07777).
  uint32_t mode = 0644;
  int64_t uid = 0;
  int64_t gid = 0;
  // Data size; only kFile entries carry data when written.
  int64_t size = 0;
  // Seconds since the epoch. Sub-second times are not kept.
  int64_t mtime = 0;
  // Symlink target or hard link target (a member path).
  std::string link_target;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  // Extended attributes, name -> raw value (written as SCHILY.xattr.*).
  std::map<std::string, std::string> xattrs;

  friend bool operator==(const TarEntry&, const TarEntry&) = default;
};

// Largest member data size the reader accepts (1 TiB); anything larger is
// treated as a corrupt header.
inline constexpr int64_t kMaxTarEntrySize = int64_t{1} << 40;

// Writes a tar stream to `sink` (which must outlive the writer). Output is
// buffered; nothing is guaranteed to reach the sink before Finish().
// Usage: for each member, WriteHeader(); for kFile, then exactly `size`
// bytes through WriteData(); finally Finish(). Not thread-safe.
class TarWriter {
 public:
  explicit TarWriter(ByteSink& sink);
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Starts a member. kInvalid if the previous file's data is incomplete,
  // the path is empty, or a field cannot be encoded (negative ids/size).
  [[nodiscard]] Result<void> WriteHeader(const TarEntry& entry);
  // Appends data of the current kFile member. kInvalid if it would exceed
  // the size declared in its header.
  [[nodiscard]] Result<void> WriteData(std::string_view data);
  // Appends `size` bytes of data read from `fd` (ByteSink::WriteFrom), the
  // same as WriteData of them.
  [[nodiscard]] Result<void> WriteFileData(int fd, int64_t size, const std::string& shown);
  // Pads the last member, writes the two zero blocks and flushes.
  // kInvalid if the last member's data is incomplete.
  [[nodiscard]] Result<void> Finish();

  uint64_t bytes_written() const { return bytes_written_; }

 private:
  Result<void> Emit(std::string_view data);
  Result<void> Flush();
  Result<void> WritePadding();

  ByteSink& sink_;
  std::string buf_;
  uint64_t bytes_written_ = 0;
  int64_t remaining_ = 0;
  int64_t pad_ = 0;
  std::string current_;
};

// Reads a tar stream (ustar, GNU long names, PAX local and global headers)
// from `source`, which must outlive the reader. Memory use is bounded
// (headers are limited to 1 MiB of PAX/long-name data). Not thread-safe.
//
// Errors are kInvalid and read like
//   layer sha256:ab…: entry 12 "a/b": truncated data
// where the prefix is the `label` given to the constructor and entries
// are numbered from 1. Unsupported member types (sparse files, volume
// headers) are kUnsupported.
class TarReader {
 public:
  TarReader(ByteSource& source, std::string label);
  ~TarReader();
  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // Skips any unread data of the current member and returns the next one,
  // or nullopt at the end of the archive (two zero blocks, one zero block
  // then end of stream, or end of stream exactly at a header boundary).
  [[nodiscard]] Result<std::optional<TarEntry>> Next();
  // Reads up to `buf.size()` bytes of the current member's data; 0 at its
  // end. kInvalid ("truncated data") if the stream ends early.
  [[nodiscard]] Result<size_t> ReadData(std::span<char> buf);

  // 1-based number of the current member (0 before the first Next()).
  int entry_index() const { return index_; }
  const std::string& label() const { return label_; }
  // An error about the current entry, prefixed like the reader's own
  // errors, for callers (ApplyLayer) that reject an entry.
  Error EntryError(ErrorCode code, std::string_view message) const;

 private:
  struct Pax;
  Result<size_t> Fill(std::span<char> buf);
  Result<bool> ReadBlock(char* block);
  Result<std::string> ReadSpecialData(int64_t size, std::string_view what);
  Result<void> SkipRemaining();
  Error HeaderError(std::string_view message) const;

  ByteSource& source_;
  std::string label_;
  int index_ = 0;
  std::string current_path_;
  int64_t remaining_ = 0;
  int64_t pad_ = 0;
  bool done_ = false;
  std::unique_ptr<Pax> global_;
};

}  // namespace kiln::archive
