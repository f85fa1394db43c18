#pragma once

// Content-addressed blobs under <root>/blobs/<algorithm>/<hex>. Blobs are
// written to a staging file in the store's tmp/ (same filesystem), hashed as
// they stream, fsynced, and renamed into place, so a blob path either does not
// exist or holds exactly the bytes its name says. See docs/formats/store.md.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "base/digest.h"
#include "base/error.h"
#include "base/fs.h"
#include "store/file_ops.h"

namespace kiln::store {

class BlobStore;

// Streams one new blob into a staging file. Move-only; destroying an
// uncommitted writer deletes the staging file. Not thread-safe.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&& o) noexcept
      : store_(o.store_), fd_(std::move(o.fd_)), tmp_path_(std::exchange(o.tmp_path_, {})),
        hasher_(std::move(o.hasher_)) {}
  BlobWriter& operator=(BlobWriter&&) = delete;
  ~BlobWriter();

  // Appends bytes. kIo naming the staging path on failure.
  [[nodiscard]] Result<void> Write(std::string_view data);

  // Finishes the blob: fsyncs, checks the digest against `expected` (and the
  // size against `expected_size`) when given, renames into place and fsyncs
  // the directory. Returns the blob's digest. On kDigestMismatch ("blob
  // digest mismatch: expected sha256:..., got sha256:...") or a size mismatch
  // (kDigestMismatch too) nothing is stored. If the blob already exists the
  // staging file is dropped and the existing one kept (same content).
  // The writer is finished after Commit, whatever the outcome.
  [[nodiscard]] Result<Digest> Commit(const std::optional<Digest>& expected = std::nullopt,
                                      std::optional<int64_t> expected_size = std::nullopt);

  uint64_t bytes_written() const { return hasher_->bytes(); }

 private:
  friend class BlobStore;
  BlobWriter(const BlobStore* store, Fd fd, std::string tmp_path);
  void Abort();

  const BlobStore* store_;
  Fd fd_;
  std::string tmp_path_;
  std::unique_ptr<Sha256> hasher_;
};

// Reads one blob and checks its digest as it goes: the Read that reaches the
// end returns kDigestMismatch if the bytes were not what the name says (for
// example after disk corruption). Move-only, not thread-safe.
class BlobReader {
 public:
  BlobReader(BlobReader&&) noexcept = default;
  BlobReader& operator=(BlobReader&&) = delete;

  // Reads up to `size` (> 0) bytes into `buf`; returns 0 at the verified end.
  [[nodiscard]] Result<size_t> Read(void* buf, size_t size);
  // Reads the rest of the blob.
  [[nodiscard]] Result<std::string> ReadAll();
  int64_t size() const { return size_; }

 private:
  friend class BlobStore;
  BlobReader(Fd fd, std::string path, Digest digest, int64_t size);
  Fd fd_;
  std::string path_;
  Digest digest_;
  int64_t size_;
  std::unique_ptr<Sha256> hasher_;
  bool verified_ = false;
};

// The blob directory. Thread-safe: all state is on disk, and the atomic
// rename makes concurrent writers of the same blob (threads or processes)
// safe. Owned by Store; `file_ops` must outlive it.
class BlobStore {
 public:
  // `root` is the store root; `tmp_dir` is a staging directory on the same
  // filesystem that this object may write to.
  BlobStore(std::string root, std::string tmp_dir, FileOps& file_ops);

  // Starts a new blob. kIo naming the staging path on failure.
  [[nodiscard]] Result<BlobWriter> Create() const;
  // Create + Write + Commit in one call.
  [[nodiscard]] Result<Digest> Put(std::string_view data,
                                   const std::optional<Digest>& expected = std::nullopt) const;

  bool Has(const Digest& digest) const;
  // The blob's file path (whether or not it exists).
  std::string Path(const Digest& digest) const;
  // kNotFound "blob sha256:... not found" when missing.
  [[nodiscard]] Result<int64_t> Size(const Digest& digest) const;
  [[nodiscard]] Result<BlobReader> Open(const Digest& digest) const;
  // Open + ReadAll.
  [[nodiscard]] Result<std::string> Read(const Digest& digest) const;
  // Re-hashes the file: kDigestMismatch when it no longer matches its name,
  // kNotFound when missing.
  [[nodiscard]] Result<void> Verify(const Digest& digest) const;
  // Removes the blob; a missing blob is not an error. Only GC should call
  // this: records may still name the blob.
  [[nodiscard]] Result<void> Delete(const Digest& digest) const;

 private:
  friend class BlobWriter;
  std::string root_;
  std::string tmp_dir_;
  FileOps& file_ops_;
};

}  // namespace kiln::store
