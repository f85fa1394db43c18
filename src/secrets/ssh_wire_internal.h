#pragma once

// SSH wire encoding (RFC 4251 section 5): uint32, string, mpint. Private to
// src/secrets.

#include <cstdint>
#include <string>
#include <string_view>

#include "base/error.h"

namespace kiln::secrets::internal {

// Sequential reader over a byte buffer; every read fails with kInvalid
// naming `what` once the buffer is exhausted.
class WireReader {
 public:
  explicit WireReader(std::string_view data) : data_(data) {}

  Result<uint8_t> Byte(std::string_view what);
  Result<uint32_t> U32(std::string_view what);
  Result<std::string_view> String(std::string_view what);
  bool empty() const { return data_.empty(); }
  std::string_view rest() const { return data_; }

 private:
  std::string_view data_;
};

void PutByte(std::string* out, uint8_t b);
void PutU32(std::string* out, uint32_t v);
void PutString(std::string* out, std::string_view s);
// `magnitude` is an unsigned big-endian integer; leading zeros are stripped
// and a 0x00 is prepended when the top bit is set, as mpint requires.
void PutMpint(std::string* out, std::string_view magnitude);
// An mpint's bytes without the sign-padding zero.
std::string_view MpintMagnitude(std::string_view mpint);

}  // namespace kiln::secrets::internal
