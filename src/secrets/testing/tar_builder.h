#pragma once

// Test-only helpers: build small ustar archives in memory and read them
// back through a ReadFn in fixed-size chunks.

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>

#include "secrets/scanner.h"

namespace kiln::secrets::testing {

// A ustar header with a correct checksum.
inline std::string TarHeader(const std::string& name, char type, size_t size,
                             const std::string& link = "") {
  std::string h(512, '\0');
  std::copy(name.begin(), name.end(), h.begin());
  auto octal = [&](size_t off, size_t len, uint64_t v) {
    std::string s = fmt::format("{:0{}o}", v, len - 1);
    std::copy(s.begin(), s.end(), h.begin() + off);
  };
  octal(100, 8, 0644);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 0);
  h[156] = type;
  std::copy(link.begin(), link.end(), h.begin() + 157);
  std::string magic = "ustar";
  std::copy(magic.begin(), magic.end(), h.begin() + 257);
  h[263] = '0';
  h[264] = '0';
  std::fill(h.begin() + 148, h.begin() + 156, ' ');
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::string s = fmt::format("{:06o}", sum);
  std::copy(s.begin(), s.end(), h.begin() + 148);
  h[154] = '\0';
  return h;
}

// Header, data and padding of one entry.
inline std::string TarEntry(const std::string& name, const std::string& data, char type = '0',
                            const std::string& link = "") {
  std::string out = TarHeader(name, type, data.size(), link) + data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

// One PAX record, "LEN key=value\n".
inline std::string PaxRecord(const std::string& key, const std::string& value) {
  std::string body = " " + key + "=" + value + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

// Serves `data` (which must outlive the reader) at most `chunk` bytes a call.
inline ReadFn ReaderOf(const std::string& data, size_t chunk) {
  auto pos = std::make_shared<size_t>(0);
  return [&data, pos, chunk](char* buf, size_t cap) -> Result<size_t> {
    size_t n = std::min({cap, chunk, data.size() - *pos});
    std::copy(data.begin() + *pos, data.begin() + *pos + n, buf);
    *pos += n;
    return n;
  };
}

}  // namespace kiln::secrets::testing
