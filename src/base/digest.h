#pragma once

// Content digests ("sha256:<64 hex>") and a streaming SHA-256 hasher backed
// by OpenSSL (which uses SHA-NI where the CPU has it).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"

namespace kiln {

// A parsed, validated digest. Only sha256 is produced; sha512 is accepted
// when parsing so foreign manifests can be read.
class Digest {
 public:
  Digest() = default;
  // Parses "algo:hex". Returns kInvalid for anything but a well-formed
  // sha256 (64 lowercase hex) or sha512 (128 lowercase hex) digest.
  static Result<Digest> Parse(std::string_view text);
  static Digest FromSha256Hex(std::string hex);
  // sha256 of `data`.
  static Digest Of(std::string_view data);

  const std::string& algorithm() const { return algorithm_; }
  const std::string& hex() const { return hex_; }
  std::string str() const { return algorithm_ + ":" + hex_; }
  bool empty() const { return hex_.empty(); }
  // "sha256:abcdef012345" (12 hex digits), as docker shows IDs.
  std::string Short() const { return hex_.substr(0, 12); }

  friend bool operator==(const Digest& a, const Digest& b) = default;
  friend auto operator<=>(const Digest& a, const Digest& b) = default;

 private:
  std::string algorithm_;
  std::string hex_;
};

// Incremental SHA-256. Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Finishes the hash; the object must not be updated afterwards.
  Digest Finish();
  uint64_t bytes() const { return bytes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t bytes_ = 0;
};

// Lowercase hex and standard base64 (with padding), used for digests and for
// scanning encoded forms of secrets.
std::string HexEncode(std::string_view data);
std::string Base64Encode(std::string_view data);
Result<std::string> Base64Decode(std::string_view text);

}  // namespace kiln
