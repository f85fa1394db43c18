#include "registry/blob.h"

#include <algorithm>

namespace kiln::registry {

class MemoryBlobWriter : public BlobWriter {
 public:
  explicit MemoryBlobWriter(MemoryBlobStore& store) : store_(store) {}
  Result<void> Write(std::string_view data) override {
    hash_.Update(data);
    data_.append(data);
    return Ok();
  }
  uint64_t written() const override { return data_.size(); }
  Result<void> Commit(const Digest& expected, uint64_t expected_size) override {
    if (committed_) return Fail(Error::Invalid("blob writer already committed"));
    committed_ = true;
    Digest got = hash_.Finish();
    if (data_.size() != expected_size)
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("blob {}: size {} does not match expected size {}",
                                    expected.str(), data_.size(), expected_size)));
    if (got != expected)
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("blob {}: content has digest {}", expected.str(), got.str())));
    store_.Insert(expected, std::move(data_));
    return Ok();
  }

 private:
  MemoryBlobStore& store_;
  Sha256 hash_;
  std::string data_;
  bool committed_ = false;
};

namespace {

class MemoryBlobReader : public BlobReader {
 public:
  explicit MemoryBlobReader(std::shared_ptr<const std::string> data) : data_(std::move(data)) {}
  Result<std::string> Read(size_t max) override {
    size_t n = std::min(max, data_->size() - pos_);
    std::string out = data_->substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t size() const override { return data_->size(); }

 private:
  std::shared_ptr<const std::string> data_;
  size_t pos_ = 0;
};

}  // namespace

bool MemoryBlobStore::Has(const Digest& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  return blobs_.count(digest) > 0;
}

Result<std::unique_ptr<BlobWriter>> MemoryBlobStore::Begin(const Digest& digest, uint64_t size) {
  return std::unique_ptr<BlobWriter>(std::make_unique<MemoryBlobWriter>(*this));
}

Result<std::unique_ptr<BlobReader>> MemoryBlobStore::Open(const Digest& digest) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return Fail(Error::NotFound(fmt::format("blob {} not found", digest.str())));
  return std::unique_ptr<BlobReader>(std::make_unique<MemoryBlobReader>(it->second));
}

Digest MemoryBlobStore::Put(std::string data) {
  Digest d = Digest::Of(data);
  Insert(d, std::move(data));
  return d;
}

Result<std::string> MemoryBlobStore::Get(const Digest& digest) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) return Fail(Error::NotFound(fmt::format("blob {} not found", digest.str())));
  return *it->second;
}

size_t MemoryBlobStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return blobs_.size();
}

void MemoryBlobStore::Insert(const Digest& digest, std::string data) {
  std::lock_guard<std::mutex> lock(mu_);
  blobs_[digest] = std::make_shared<const std::string>(std::move(data));
}

}  // namespace kiln::registry
