#pragma once

// Layer compression: a compressing sink that computes the uncompressed
// (diff_id) and compressed (blob) digests in one pass, and a decompressing
// source that sniffs gzip/zstd/plain from the stream's magic bytes.
//
// gzip output is a sequence of independently compressed gzip members, one
// per chunk (RFC 1952 allows concatenation; gzip, Go, zlib and Docker read
// it as one stream). zstd output is likewise a sequence of frames. Chunks
// are compressed on worker threads, and the output is still deterministic:
// the bytes depend only on the input, the level and the chunk size.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "archive/stream.h"
#include "base/digest.h"
#include "base/error.h"

namespace kiln::archive {

enum class Compression { kNone, kGzip, kZstd };

// "none", "gzip", "zstd".
std::string_view CompressionName(Compression c);
// Parses the names above (also "uncompressed" for kNone); kInvalid
// otherwise.
Result<Compression> ParseCompression(std::string_view name);

struct CompressionOptions {
  Compression compression = Compression::kGzip;
  // 0 picks the default: libdeflate level 1 for gzip (fast, still ~as small
  // as gzip -3), zstd level 3.
  int level = 0;
  // Uncompressed bytes per gzip member / zstd frame.
  size_t chunk_size = 1 << 20;
  // Worker threads compressing chunks; 0 compresses on the calling thread.
  int threads = 2;
};

// Digests of a finished blob.
struct BlobDigests {
  Digest diff_id;              // sha256 of the uncompressed bytes
  uint64_t uncompressed_size = 0;
  Digest digest;               // sha256 of the bytes written to the sink
  uint64_t size = 0;           // bytes written to the sink
};

// A ByteSink that compresses into `out` (which must outlive it). Call
// Close() exactly once after the last Write; the digests are valid after
// a successful Close(). Not thread-safe (it owns its worker threads).
class CompressingSink : public ByteSink {
 public:
  // kInvalid for a bad level; kIo if a compressor cannot be allocated.
  static Result<std::unique_ptr<CompressingSink>> Create(ByteSink& out, CompressionOptions options);
  ~CompressingSink() override;

  Result<void> Write(std::string_view data) override;
  Result<void> WriteFrom(int fd, int64_t size, const std::string& shown) override;
  // Compresses and writes what is buffered, waits for workers, and
  // finishes the digests.
  [[nodiscard]] Result<BlobDigests> Close();

 private:
  struct Impl;
  explicit CompressingSink(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Wraps `source` (which must outlive the result) and decompresses it,
// detecting gzip (1f 8b), zstd (28 b5 2f fd) or plain data by the first
// bytes. Memory is bounded (a few hundred KiB) regardless of input size.
// Read errors are kInvalid ("gzip: ..."/"zstd: ...") for corrupt data,
// including a truncated compressed stream.
Result<std::unique_ptr<ByteSource>> OpenDecompressor(ByteSource& source);

// Which compression `prefix` (the first bytes of a blob) starts with.
Compression SniffCompression(std::string_view prefix);

}  // namespace kiln::archive
