#pragma once

// SecretValue: bytes that must not outlive their use. The buffer is locked
// into RAM where the kernel allows it (mlock) so it is not swapped out, and
// zeroed with OPENSSL_cleanse before it is freed.

#include <cstddef>
#include <memory>
#include <string_view>

namespace kiln::secrets {

// Owns a copy of a secret's bytes. Move-only; a moved-from value is empty.
// Not thread-safe for mutation; concurrent const reads are fine.
class SecretValue {
 public:
  SecretValue() = default;
  // Copies `bytes` into a fresh locked buffer. The caller is responsible for
  // wiping its own copy.
  explicit SecretValue(std::string_view bytes);
  // A zero-filled buffer of `size` bytes to be written through data().
  static SecretValue WithSize(size_t size);
  ~SecretValue();

  SecretValue(SecretValue&& o) noexcept;
  SecretValue& operator=(SecretValue&& o) noexcept;
  SecretValue(const SecretValue&) = delete;
  SecretValue& operator=(const SecretValue&) = delete;

  // An explicit copy, so copies are visible in review.
  SecretValue Clone() const { return SecretValue(view()); }

  std::string_view view() const { return {data_.get(), size_}; }
  char* data() { return data_.get(); }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Shrinks the logical size (bytes past it are wiped); for readers that
  // allocate an upper bound first.
  void Truncate(size_t size);
  // True if the pages are mlock()ed.
  bool locked() const { return locked_; }

 private:
  void Wipe();

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  bool locked_ = false;
};

// Zeroes `size` bytes at `p` in a way the compiler may not elide.
void SecureZero(void* p, size_t size);

}  // namespace kiln::secrets
