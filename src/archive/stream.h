#pragma once

// Byte streams for the archive subsystem: ByteSink (where tar and
// compressed bytes go) and ByteSource (where they come from), plus small
// concrete implementations over strings and file descriptors and a
// digesting pass-through used to compute layer digests while streaming.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/error.h"

namespace kiln::archive {

// A destination for bytes. Not thread-safe; one writer at a time.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Appends all of `data`. Errors are kIo (or whatever the sink's backend
  // reports); after an error the sink's state is unspecified.
  [[nodiscard]] virtual Result<void> Write(std::string_view data) = 0;
  // Appends the next `size` bytes of `fd` (from its offset; the caller's fd
  // may be closed once this returns). kInvalid "<shown>: file shrank while
  // archiving" if it ends early. By default this reads and Writes; a sink
  // may hand the reading to another thread.
  [[nodiscard]] virtual Result<void> WriteFrom(int fd, int64_t size, const std::string& shown);
};

// Reads the next `size` bytes of `fd` in pieces of at most `buf_size`,
// passing each to `take`; the same errors as ByteSink::WriteFrom.
[[nodiscard]] Result<void> ReadPieces(int fd, int64_t size, const std::string& shown, size_t buf_size,
                                      const std::function<Result<void>(std::string_view)>& take);

// A source of bytes. Not thread-safe.
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `buf.size()` bytes into `buf`. Returns the count, 0 only at
  // end of stream (or when `buf` is empty).
  [[nodiscard]] virtual Result<size_t> Read(std::span<char> buf) = 0;
};

// Appends to a caller-owned string, which must outlive the sink.
class StringSink : public ByteSink {
 public:
  explicit StringSink(std::string& out) : out_(out) {}
  Result<void> Write(std::string_view data) override {
    out_.append(data);
    return Ok();
  }

 private:
  std::string& out_;
};

// Discards everything (benchmarks, digest-only passes).
class NullSink : public ByteSink {
 public:
  Result<void> Write(std::string_view) override { return Ok(); }
};

// Writes to a caller-owned file descriptor, fully, retrying short writes.
class FdSink : public ByteSink {
 public:
  // `what` names the destination in errors ("write <what>: ...").
  FdSink(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  Result<void> Write(std::string_view data) override;

 private:
  int fd_;
  std::string what_;
};

// Reads from a view of memory that must outlive the source.
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string_view data) : data_(data) {}
  Result<size_t> Read(std::span<char> buf) override;

 private:
  std::string_view data_;
};

// Reads from a caller-owned file descriptor.
class FdSource : public ByteSource {
 public:
  FdSource(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  Result<size_t> Read(std::span<char> buf) override;

 private:
  int fd_;
  std::string what_;
};

// Passes bytes through to `inner` (which must outlive it) while computing
// their sha256 and count.
class DigestingSink : public ByteSink {
 public:
  explicit DigestingSink(ByteSink& inner) : inner_(inner) {}
  Result<void> Write(std::string_view data) override {
    hasher_.Update(data);
    return inner_.Write(data);
  }
  uint64_t bytes() const { return hasher_.bytes(); }
  // Finishes the hash; call once, after the last Write.
  Digest Finish() { return hasher_.Finish(); }

 private:
  ByteSink& inner_;
  Sha256 hasher_;
};

// Reads through `inner` (which must outlive it) while computing the sha256
// and count of everything read.
class DigestingSource : public ByteSource {
 public:
  explicit DigestingSource(ByteSource& inner) : inner_(inner) {}
  Result<size_t> Read(std::span<char> buf) override {
    KILN_TRY_ASSIGN(size_t n, inner_.Read(buf));
    hasher_.Update(buf.data(), n);
    return n;
  }
  uint64_t bytes() const { return hasher_.bytes(); }
  // Finishes the hash; call once, after the last Read.
  Digest Finish() { return hasher_.Finish(); }

 private:
  ByteSource& inner_;
  Sha256 hasher_;
};

// Reads exactly `buf.size()` bytes unless the stream ends first. Returns the
// number read (less than requested only at end of stream).
[[nodiscard]] Result<size_t> ReadFull(ByteSource& source, std::span<char> buf);

// Reads `source` to its end and discards the bytes. Returns the count.
[[nodiscard]] Result<uint64_t> Drain(ByteSource& source);

}  // namespace kiln::archive
