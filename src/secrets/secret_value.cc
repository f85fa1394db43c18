#include "secrets/secret_value.h"

#include <sys/mman.h>

#include <cstring>

#include <openssl/crypto.h>

namespace kiln::secrets {

void SecureZero(void* p, size_t size) {
  if (size > 0) OPENSSL_cleanse(p, size);
}

SecretValue SecretValue::WithSize(size_t size) {
  SecretValue v;
  v.capacity_ = size;
  v.size_ = size;
  // Always allocate at least one byte so data() is never null.
  v.data_ = std::make_unique<char[]>(size == 0 ? 1 : size);
  // mlock can fail under RLIMIT_MEMLOCK; the value is still usable, just
  // swappable, so this is best effort.
  v.locked_ = size > 0 && mlock(v.data_.get(), size) == 0;
  return v;
}

SecretValue::SecretValue(std::string_view bytes) : SecretValue(WithSize(bytes.size())) {
  if (!bytes.empty()) std::memcpy(data_.get(), bytes.data(), bytes.size());
}

SecretValue::~SecretValue() { Wipe(); }

SecretValue::SecretValue(SecretValue&& o) noexcept
    : data_(std::move(o.data_)), size_(o.size_), capacity_(o.capacity_), locked_(o.locked_) {
  o.size_ = 0;
  o.capacity_ = 0;
  o.locked_ = false;
}

SecretValue& SecretValue::operator=(SecretValue&& o) noexcept {
  if (this != &o) {
    Wipe();
    data_ = std::move(o.data_);
    size_ = o.size_;
    capacity_ = o.capacity_;
    locked_ = o.locked_;
    o.size_ = 0;
    o.capacity_ = 0;
    o.locked_ = false;
  }
  return *this;
}

void SecretValue::Truncate(size_t size) {
  if (size >= size_) return;
  SecureZero(data_.get() + size, size_ - size);
  size_ = size;
}

void SecretValue::Wipe() {
  if (data_) {
    SecureZero(data_.get(), capacity_);
    if (locked_) munlock(data_.get(), capacity_);
  }
  data_.reset();
  size_ = 0;
  capacity_ = 0;
  locked_ = false;
}

}  // namespace kiln::secrets
