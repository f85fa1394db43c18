#include "secrets/ssh_wire_internal.h"

namespace kiln::secrets::internal {

Result<uint8_t> WireReader::Byte(std::string_view what) {
  if (data_.empty()) return Fail(Error::Invalid(fmt::format("truncated {}", what)));
  uint8_t b = static_cast<uint8_t>(data_[0]);
  data_.remove_prefix(1);
  return b;
}

Result<uint32_t> WireReader::U32(std::string_view what) {
  if (data_.size() < 4) return Fail(Error::Invalid(fmt::format("truncated {}", what)));
  auto b = [&](int i) { return static_cast<uint32_t>(static_cast<uint8_t>(data_[i])); };
  uint32_t v = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
  data_.remove_prefix(4);
  return v;
}

Result<std::string_view> WireReader::String(std::string_view what) {
  KILN_TRY_ASSIGN(uint32_t len, U32(what));
  if (len > data_.size()) return Fail(Error::Invalid(fmt::format("truncated {}", what)));
  std::string_view s = data_.substr(0, len);
  data_.remove_prefix(len);
  return s;
}

void PutByte(std::string* out, uint8_t b) { out->push_back(static_cast<char>(b)); }

void PutU32(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v >> 24));
  out->push_back(static_cast<char>(v >> 16));
  out->push_back(static_cast<char>(v >> 8));
  out->push_back(static_cast<char>(v));
}

void PutString(std::string* out, std::string_view s) {
  PutU32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}

void PutMpint(std::string* out, std::string_view magnitude) {
  while (!magnitude.empty() && magnitude[0] == '\0') magnitude.remove_prefix(1);
  bool pad = !magnitude.empty() && (static_cast<uint8_t>(magnitude[0]) & 0x80);
  PutU32(out, static_cast<uint32_t>(magnitude.size() + (pad ? 1 : 0)));
  if (pad) out->push_back('\0');
  out->append(magnitude);
}

std::string_view MpintMagnitude(std::string_view mpint) {
  while (!mpint.empty() && mpint[0] == '\0') mpint.remove_prefix(1);
  return mpint;
}

}  // namespace kiln::secrets::internal
