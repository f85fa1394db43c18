// LeakScanner::ScanTar: a minimal tar reader that only needs names, link
// targets, extension headers and contents. It validates header checksums
// and sizes but does not interpret modes, owners or times.

#include <algorithm>
#include <cstring>

#include "base/fs.h"
#include "base/strings.h"
#include "secrets/scanner.h"

namespace kiln::secrets {
namespace {

constexpr size_t kBlock = 512;
// Extension headers (PAX, GNU long names) larger than this are rejected.
constexpr uint64_t kMaxExtHeader = 1 << 20;

std::string_view Field(const char* h, size_t off, size_t len) {
  std::string_view f(h + off, len);
  size_t nul = f.find('\0');
  return nul == std::string_view::npos ? f : f.substr(0, nul);
}

Result<uint64_t> ParseNumber(const char* h, size_t off, size_t len, std::string_view what) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(h + off);
  if (p[0] & 0x80) {
    // GNU base-256: big-endian, first byte's top bit is the marker.
    uint64_t v = p[0] & 0x7f;
    for (size_t i = 1; i < len; ++i) {
      if (v >> 55) return Fail(Error::Invalid(fmt::format("tar header: {} overflows", what)));
      v = (v << 8) | p[i];
    }
    return v;
  }
  uint64_t v = 0;
  size_t i = 0;
  while (i < len && (p[i] == ' ' || p[i] == '\0')) ++i;
  for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i) {
    if (v >> 60) return Fail(Error::Invalid(fmt::format("tar header: {} overflows", what)));
    v = v * 8 + (p[i] - '0');
  }
  for (; i < len; ++i)
    if (p[i] != ' ' && p[i] != '\0')
      return Fail(Error::Invalid(fmt::format("tar header: bad {} field", what)));
  return v;
}

// Reads exactly `n` bytes unless the stream ends first; returns the count.
Result<size_t> ReadFull(const ReadFn& read, char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    KILN_TRY_ASSIGN(size_t r, read(buf + got, n - got));
    if (r == 0) break;
    got += r;
  }
  return got;
}

// PAX records "LEN key=value\n"; returns the value of `key` or nullopt.
std::optional<std::string> PaxValue(std::string_view data, std::string_view key) {
  size_t pos = 0;
  while (pos < data.size()) {
    size_t sp = data.find(' ', pos);
    if (sp == std::string_view::npos) break;
    size_t len = 0;
    for (size_t i = pos; i < sp; ++i) {
      if (data[i] < '0' || data[i] > '9') return std::nullopt;
      len = len * 10 + (data[i] - '0');
      if (len > data.size()) return std::nullopt;
    }
    if (len == 0 || pos + len > data.size()) break;
    std::string_view rec = data.substr(sp + 1, pos + len - sp - 1);
    if (!rec.empty() && rec.back() == '\n') rec.remove_suffix(1);
    Cut kv = CutString(rec, '=');
    if (kv.found && kv.first == key) return std::string(kv.second);
    pos += len;
  }
  return std::nullopt;
}

}  // namespace

Result<std::vector<LeakFinding>> LeakScanner::ScanTar(const ReadFn& read) const {
  std::vector<LeakFinding> out;
  auto add = [&](std::vector<LeakFinding> more) {
    for (auto& f : more) out.push_back(std::move(f));
  };
  char h[kBlock];
  std::optional<std::string> long_name, long_link;
  std::string pending_ext;  // extension header bytes, attributed to the next entry
  std::string buf(1 << 16, '\0');
  uint64_t entry = 0;
  while (true) {
    KILN_TRY_ASSIGN(size_t got, ReadFull(read, h, kBlock));
    if (got == 0) break;  // tolerate a missing end-of-archive marker
    if (got < kBlock) return Fail(Error::Invalid("tar: truncated header"));
    if (std::all_of(h, h + kBlock, [](char c) { return c == '\0'; })) break;
    ++entry;
    auto bad = [&](Error e) {
      return Fail(std::move(e).Wrap("reading tar entry {}", entry));
    };
    // Header checksum: sum of bytes with the checksum field as spaces.
    auto sum = ParseNumber(h, 148, 8, "checksum");
    if (!sum) return bad(std::move(sum).error());
    uint64_t computed = 0;
    for (size_t i = 0; i < kBlock; ++i)
      computed += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    if (computed != *sum) return bad(Error::Invalid("tar header: checksum mismatch"));
    auto size_r = ParseNumber(h, 124, 12, "size");
    if (!size_r) return bad(std::move(size_r).error());
    uint64_t size = *size_r;
    char type = h[156];
    std::string name(Field(h, 0, 100));
    if (Field(h, 257, 5) == "ustar") {
      std::string prefix(Field(h, 345, 155));
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    std::string link(Field(h, 157, 100));

    bool ext = type == 'x' || type == 'g' || type == 'L' || type == 'K';
    if (ext && size > kMaxExtHeader)
      return bad(Error::Invalid(fmt::format("tar: extension header of {} bytes is too large", size)));

    // Contents: extension headers are kept, file data is streamed.
    std::string ext_data;
    auto stream = NewStream("", FoundIn::kContent);
    uint64_t left = size;
    while (left > 0) {
      size_t want = std::min<uint64_t>(left, buf.size());
      KILN_TRY_ASSIGN(size_t n, ReadFull(read, buf.data(), want));
      if (n < want) return bad(Error::Invalid("tar: truncated entry data"));
      if (ext) ext_data.append(buf.data(), n);
      else stream->Feed(std::string_view(buf.data(), n));
      left -= n;
    }
    size_t pad = (kBlock - size % kBlock) % kBlock;
    if (pad > 0) {
      KILN_TRY_ASSIGN(size_t n, ReadFull(read, buf.data(), pad));
      if (n < pad) return bad(Error::Invalid("tar: truncated entry padding"));
    }

    if (type == 'L') {
      long_name = std::string(Field(ext_data.data(), 0, ext_data.size()));
    } else if (type == 'K') {
      long_link = std::string(Field(ext_data.data(), 0, ext_data.size()));
    } else if (type == 'x') {
      if (auto p = PaxValue(ext_data, "path")) long_name = *p;
      if (auto p = PaxValue(ext_data, "linkpath")) long_link = *p;
    }
    if (ext) {
      // Scanned in full (xattrs travel as SCHILY.xattr.* records).
      pending_ext += ext_data;
      SecureZero(ext_data.data(), ext_data.size());
      continue;
    }
    if (long_name) name = *long_name;
    if (long_link) link = *long_link;
    long_name.reset();
    long_link.reset();
    std::string path = CleanPath(name);
    add(ScanBytes(name, path, FoundIn::kName));
    if (!link.empty()) add(ScanBytes(link, path, FoundIn::kLinkTarget));
    if (!pending_ext.empty()) {
      add(ScanBytes(pending_ext, path, FoundIn::kPaxHeader));
      SecureZero(pending_ext.data(), pending_ext.size());
      pending_ext.clear();
    }
    for (auto& f : stream->Finish()) {
      f.path = path;
      out.push_back(std::move(f));
    }
  }
  SecureZero(buf.data(), buf.size());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace kiln::secrets
