#pragma once

// Where pulled blobs go and where pushed blobs come from. The content store
// implements these (the lead adapts it); MemoryBlobStore serves tests and
// small tools.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/error.h"

namespace kiln::registry {

// One in-progress blob. Bytes are appended with Write(); Commit() makes the
// blob visible under `expected` only if the bytes hash to it and the size
// matches, else kDigestMismatch and nothing is stored. Destroying a writer
// without Commit() discards everything written. Not thread-safe.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual Result<void> Write(std::string_view data) = 0;
  virtual uint64_t written() const = 0;
  virtual Result<void> Commit(const Digest& expected, uint64_t expected_size) = 0;
};

// A destination for pulled blobs. Must be thread-safe: several blobs are
// fetched in parallel.
class BlobTarget {
 public:
  virtual ~BlobTarget() = default;
  // Whether the blob is already present (and so need not be fetched).
  virtual bool Has(const Digest& digest) = 0;
  // Starts a new blob; kIo if it cannot be created.
  virtual Result<std::unique_ptr<BlobWriter>> Begin(const Digest& digest, uint64_t size) = 0;
};

// A sequential reader of one blob.
class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Reads up to `max` bytes; an empty string means end of blob.
  virtual Result<std::string> Read(size_t max) = 0;
  virtual uint64_t size() const = 0;
};

// A source of blobs to push. Must be thread-safe.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // kNotFound when the blob is absent.
  virtual Result<std::unique_ptr<BlobReader>> Open(const Digest& digest) = 0;
};

// An in-memory BlobTarget and BlobSource. Thread-safe.
class MemoryBlobStore : public BlobTarget, public BlobSource {
 public:
  bool Has(const Digest& digest) override;
  Result<std::unique_ptr<BlobWriter>> Begin(const Digest& digest, uint64_t size) override;
  Result<std::unique_ptr<BlobReader>> Open(const Digest& digest) override;

  // Stores `data` under its sha256 and returns the digest.
  Digest Put(std::string data);
  // The blob's bytes, or kNotFound.
  Result<std::string> Get(const Digest& digest) const;
  size_t size() const;

 private:
  friend class MemoryBlobWriter;
  void Insert(const Digest& digest, std::string data);

  mutable std::mutex mu_;
  std::map<Digest, std::shared_ptr<const std::string>> blobs_;  // GUARDED_BY(mu_)
};

}  // namespace kiln::registry
