#include "archive/tar.h"

#include <algorithm>
#include <cstring>

#include "base/strings.h"

namespace kiln::archive {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kWriteBuffer = 256 * 1024;
// PAX and GNU long-name payloads larger than this are refused: no real
// header needs them and they would let a layer make us buffer unboundedly.
constexpr int64_t kMaxSpecialSize = 1 << 20;

// ustar header field offsets and widths.
struct Field {
  size_t offset;
  size_t size;
};
constexpr Field kName{0, 100};
constexpr Field kMode{100, 8};
constexpr Field kUid{108, 8};
constexpr Field kGid{116, 8};
constexpr Field kSize{124, 12};
constexpr Field kMtime{136, 12};
constexpr Field kChksum{148, 8};
constexpr size_t kTypeflag = 156;
constexpr Field kLinkname{157, 100};
constexpr Field kMagic{257, 6};
constexpr Field kVersion{263, 2};
constexpr Field kDevmajor{329, 8};
constexpr Field kDevminor{337, 8};
constexpr Field kPrefix{345, 155};

constexpr int64_t kMaxOctal7 = 07777777;
constexpr int64_t kMaxOctal11 = 077777777777;

std::string_view FieldView(const char* block, Field f) {
  std::string_view v(block + f.offset, f.size);
  size_t nul = v.find('\0');
  return nul == std::string_view::npos ? v : v.substr(0, nul);
}

void PutString(char* block, Field f, std::string_view s) {
  if (s.empty()) return;  // an empty view may have a null data()
  std::memcpy(block + f.offset, s.data(), std::min(s.size(), f.size));
}

// Zero-padded octal with a trailing NUL, as GNU tar and Go write it.
void PutOctal(char* block, Field f, int64_t value) {
  std::string s = fmt::format("{:0{}o}", value, f.size - 1);
  std::memcpy(block + f.offset, s.data(), f.size - 1);
}

char TypeFlag(TarType type) {
  switch (type) {
    case TarType::kFile: return '0';
    case TarType::kHardLink: return '1';
    case TarType::kSymlink: return '2';
    case TarType::kCharDevice: return '3';
    case TarType::kBlockDevice: return '4';
    case TarType::kDirectory: return '5';
    case TarType::kFifo: return '6';
  }
  return '0';
}

unsigned Checksum(const char* block, bool as_signed) {
  unsigned sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    if (i >= kChksum.offset && i < kChksum.offset + kChksum.size) {
      sum += ' ';
    } else if (as_signed) {
      sum += static_cast<unsigned>(static_cast<int>(static_cast<signed char>(block[i])));
    } else {
      sum += static_cast<unsigned char>(block[i]);
    }
  }
  return sum;
}

void FinishHeader(char* block) {
  std::memcpy(block + kMagic.offset, "ustar\0", 6);
  std::memcpy(block + kVersion.offset, "00", 2);
  std::string s = fmt::format("{:06o}", Checksum(block, false));
  std::memcpy(block + kChksum.offset, s.data(), 6);
  block[kChksum.offset + 6] = '\0';
  block[kChksum.offset + 7] = ' ';
}

// One "<len> key=value\n" record; <len> counts the whole record.
void AppendPaxRecord(std::string& out, std::string_view key, std::string_view value) {
  size_t base = key.size() + value.size() + 3;
  size_t len = base + 1;
  while (std::to_string(len).size() + base != len) ++len;
  out += fmt::format("{} {}={}\n", len, key, value);
}

bool AllZero(const char* block) {
  for (size_t i = 0; i < kBlock; ++i)
    if (block[i] != 0) return false;
  return true;
}

// Parses a numeric header field: octal (space/NUL padded) or GNU base-256.
Result<int64_t> ParseNumeric(std::string_view raw, std::string_view field) {
  if (!raw.empty() && (static_cast<unsigned char>(raw[0]) & 0x80)) {
    if (static_cast<unsigned char>(raw[0]) == 0xff)
      return Fail(Error::Invalid(fmt::format("negative {} field", field)));
    uint64_t v = static_cast<unsigned char>(raw[0]) & 0x7f;
    for (size_t i = 1; i < raw.size(); ++i) {
      if (v >> 55) return Fail(Error::Invalid(fmt::format("{} field overflows", field)));
      v = (v << 8) | static_cast<unsigned char>(raw[i]);
    }
    return static_cast<int64_t>(v);
  }
  size_t b = 0, e = raw.size();
  while (b < e && (raw[b] == ' ' || raw[b] == '\0')) ++b;
  while (e > b && (raw[e - 1] == ' ' || raw[e - 1] == '\0')) --e;
  uint64_t v = 0;
  for (size_t i = b; i < e; ++i) {
    if (raw[i] < '0' || raw[i] > '7')
      return Fail(Error::Invalid(fmt::format("non-octal {} field {}", field, Quote(raw))));
    if (v >> 60) return Fail(Error::Invalid(fmt::format("{} field overflows", field)));
    v = v * 8 + (raw[i] - '0');
  }
  return static_cast<int64_t>(v);
}

Result<int64_t> ParseDecimal(std::string_view s, std::string_view key) {
  if (s.empty()) return Fail(Error::Invalid(fmt::format("empty PAX {} value", key)));
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10)
      return Fail(Error::Invalid(fmt::format("invalid PAX {} value {}", key, Quote(s))));
    v = v * 10 + (c - '0');
  }
  return v;
}

// PAX mtime: [-]digits[.digits]; the fraction is dropped.
Result<int64_t> ParsePaxTime(std::string_view s) {
  bool neg = !s.empty() && s[0] == '-';
  if (neg) s.remove_prefix(1);
  std::string_view whole = s.substr(0, s.find('.'));
  if (whole.size() < s.size()) {
    for (char c : s.substr(whole.size() + 1))
      if (c < '0' || c > '9')
        return Fail(Error::Invalid(fmt::format("invalid PAX mtime value {}", Quote(s))));
  }
  KILN_TRY_ASSIGN(int64_t v, ParseDecimal(whole, "mtime"));
  return neg ? -v : v;
}

}  // namespace

std::string_view TarTypeName(TarType type) {
  switch (type) {
    case TarType::kFile: return "file";
    case TarType::kHardLink: return "hard link";
    case TarType::kSymlink: return "symlink";
    case TarType::kCharDevice: return "char device";
    case TarType::kBlockDevice: return "block device";
    case TarType::kDirectory: return "directory";
    case TarType::kFifo: return "fifo";
  }
  return "unknown";
}

// ---------------------------------------------------------------- writer

TarWriter::TarWriter(ByteSink& sink) : sink_(sink) { buf_.reserve(kWriteBuffer); }

Result<void> TarWriter::Emit(std::string_view data) {
  bytes_written_ += data.size();
  if (buf_.size() + data.size() > kWriteBuffer) {
    KILN_TRY(Flush());
    if (data.size() >= kWriteBuffer) return sink_.Write(data);
  }
  buf_.append(data);
  return Ok();
}

Result<void> TarWriter::Flush() {
  if (buf_.empty()) return Ok();
  KILN_TRY(sink_.Write(buf_));
  buf_.clear();
  return Ok();
}

Result<void> TarWriter::WritePadding() {
  if (remaining_ != 0)
    return Fail(Error::Invalid(fmt::format("tar entry {}: {} bytes of data missing",
                                           Quote(current_), remaining_)));
  static const char kZeros[kBlock] = {};
  if (pad_ > 0) KILN_TRY(Emit(std::string_view(kZeros, pad_)));
  pad_ = 0;
  return Ok();
}

Result<void> TarWriter::WriteHeader(const TarEntry& e) {
  KILN_TRY(WritePadding());
  if (e.path.empty()) return Fail(Error::Invalid("tar entry with an empty path"));
  if (e.path.find('\0') != std::string::npos || e.link_target.find('\0') != std::string::npos)
    return Fail(Error::Invalid(fmt::format("tar entry {}: NUL byte in name or link target", Quote(e.path))));
  if (e.uid < 0 || e.gid < 0 || e.size < 0)
    return Fail(Error::Invalid(fmt::format("tar entry {}: negative uid, gid or size", Quote(e.path))));
  if (e.dev_major > kMaxOctal7 || e.dev_minor > kMaxOctal7)
    return Fail(Error::Invalid(fmt::format("tar entry {}: device number too large", Quote(e.path))));
  int64_t size = e.type == TarType::kFile ? e.size : 0;
  std::string name = e.path;
  if (e.type == TarType::kDirectory && name.back() != '/') name += '/';

  std::string pax;
  if (name.size() > kName.size) AppendPaxRecord(pax, "path", name);
  if (e.link_target.size() > kLinkname.size) AppendPaxRecord(pax, "linkpath", e.link_target);
  if (e.uid > kMaxOctal7) AppendPaxRecord(pax, "uid", std::to_string(e.uid));
  if (e.gid > kMaxOctal7) AppendPaxRecord(pax, "gid", std::to_string(e.gid));
  if (size > kMaxOctal11) AppendPaxRecord(pax, "size", std::to_string(size));
  if (e.mtime < 0 || e.mtime > kMaxOctal11) AppendPaxRecord(pax, "mtime", std::to_string(e.mtime));
  // std::map iterates in key order, so xattr records are deterministic.
  for (const auto& [k, v] : e.xattrs) AppendPaxRecord(pax, "SCHILY.xattr." + k, v);
  // Records must be in a stable order; the fixed-key ones above are
  // emitted in a fixed sequence and xattrs are sorted.
  int64_t mtime = std::clamp<int64_t>(e.mtime, 0, kMaxOctal11);

  char block[kBlock];
  if (!pax.empty()) {
    std::memset(block, 0, kBlock);
    PutString(block, kName, std::string_view("PaxHeaders/" + name).substr(0, kName.size));
    PutOctal(block, kMode, 0644);
    PutOctal(block, kUid, 0);
    PutOctal(block, kGid, 0);
    PutOctal(block, kSize, static_cast<int64_t>(pax.size()));
    PutOctal(block, kMtime, mtime);
    block[kTypeflag] = 'x';
    FinishHeader(block);
    KILN_TRY(Emit(std::string_view(block, kBlock)));
    KILN_TRY(Emit(pax));
    size_t pad = (kBlock - pax.size() % kBlock) % kBlock;
    static const char kZeros[kBlock] = {};
    KILN_TRY(Emit(std::string_view(kZeros, pad)));
  }

  std::memset(block, 0, kBlock);
  PutString(block, kName, name.size() <= kName.size ? std::string_view(name) : std::string_view());
  PutOctal(block, kMode, e.mode & 07777);
  PutOctal(block, kUid, e.uid <= kMaxOctal7 ? e.uid : 0);
  PutOctal(block, kGid, e.gid <= kMaxOctal7 ? e.gid : 0);
  PutOctal(block, kSize, size <= kMaxOctal11 ? size : 0);
  PutOctal(block, kMtime, mtime);
  block[kTypeflag] = TypeFlag(e.type);
  if (e.link_target.size() <= kLinkname.size) PutString(block, kLinkname, e.link_target);
  if (e.type == TarType::kCharDevice || e.type == TarType::kBlockDevice) {
    PutOctal(block, kDevmajor, e.dev_major);
    PutOctal(block, kDevminor, e.dev_minor);
  }
  FinishHeader(block);
  KILN_TRY(Emit(std::string_view(block, kBlock)));
  current_ = e.path;
  remaining_ = size;
  pad_ = (kBlock - size % kBlock) % kBlock;
  return Ok();
}

Result<void> TarWriter::WriteData(std::string_view data) {
  if (static_cast<int64_t>(data.size()) > remaining_)
    return Fail(Error::Invalid(fmt::format("tar entry {}: more data than its declared size",
                                           Quote(current_))));
  remaining_ -= data.size();
  return Emit(data);
}

Result<void> TarWriter::WriteFileData(int fd, int64_t size, const std::string& shown) {
  if (size > remaining_)
    return Fail(Error::Invalid(fmt::format("tar entry {}: more data than its declared size",
                                           Quote(current_))));
  remaining_ -= size;
  bytes_written_ += size;
  KILN_TRY(Flush());  // what is buffered goes first
  return sink_.WriteFrom(fd, size, shown);
}

Result<void> TarWriter::Finish() {
  KILN_TRY(WritePadding());
  static const char kZeros[2 * kBlock] = {};
  KILN_TRY(Emit(std::string_view(kZeros, sizeof kZeros)));
  return Flush();
}

// ---------------------------------------------------------------- reader

struct TarReader::Pax {
  std::map<std::string, std::string> records;
};

TarReader::TarReader(ByteSource& source, std::string label)
    : source_(source), label_(std::move(label)) {}
TarReader::~TarReader() = default;

Error TarReader::EntryError(ErrorCode code, std::string_view message) const {
  return Error(code, fmt::format("{}: entry {} {}: {}", label_, index_, Quote(current_path_), message));
}

Error TarReader::HeaderError(std::string_view message) const {
  return Error::Invalid(fmt::format("{}: entry {}: {}", label_, index_, message));
}

Result<size_t> TarReader::Fill(std::span<char> buf) {
  Result<size_t> n = ReadFull(source_, buf);
  if (!n) {
    Error e = std::move(n).error();
    std::string where = current_path_.empty() ? fmt::format("{}: entry {}", label_, index_)
                                              : fmt::format("{}: entry {} {}", label_, index_,
                                                            Quote(current_path_));
    return Fail(Error(e.code(), fmt::format("{}: {}", where, e.message())).WithErrno(e.sys_errno()));
  }
  return *n;
}

Result<bool> TarReader::ReadBlock(char* block) {
  KILN_TRY_ASSIGN(size_t n, Fill(std::span<char>(block, kBlock)));
  if (n == 0) return false;
  if (n < kBlock) return Fail(HeaderError("truncated header"));
  return true;
}

Result<std::string> TarReader::ReadSpecialData(int64_t size, std::string_view what) {
  if (size > kMaxSpecialSize)
    return Fail(HeaderError(fmt::format("{} of {} bytes is too large", what, size)));
  std::string data(static_cast<size_t>(size + (kBlock - size % kBlock) % kBlock), '\0');
  KILN_TRY_ASSIGN(size_t n, Fill(std::span<char>(data.data(), data.size())));
  if (n < data.size()) return Fail(HeaderError(fmt::format("truncated {}", what)));
  data.resize(static_cast<size_t>(size));
  return data;
}

Result<void> TarReader::SkipRemaining() {
  char buf[16 * 1024];
  while (remaining_ > 0) {
    KILN_TRY_ASSIGN(size_t n, ReadData(std::span<char>(buf, sizeof buf)));
    (void)n;
  }
  while (pad_ > 0) {
    KILN_TRY_ASSIGN(size_t n, Fill(std::span<char>(buf, static_cast<size_t>(pad_))));
    if (n < static_cast<size_t>(pad_)) return Fail(EntryError(ErrorCode::kInvalid, "truncated data"));
    pad_ = 0;
  }
  return Ok();
}

Result<size_t> TarReader::ReadData(std::span<char> buf) {
  if (remaining_ == 0 || buf.empty()) return size_t{0};
  size_t want = static_cast<size_t>(std::min<int64_t>(remaining_, buf.size()));
  KILN_TRY_ASSIGN(size_t n, Fill(buf.subspan(0, want)));
  if (n == 0) return Fail(EntryError(ErrorCode::kInvalid, "truncated data"));
  remaining_ -= n;
  return n;
}

namespace {

Result<void> ParsePax(std::string_view data, std::map<std::string, std::string>& out) {
  while (!data.empty()) {
    size_t sp = data.find(' ');
    if (sp == std::string_view::npos || sp == 0 || sp > 7)
      return Fail(Error::Invalid("malformed PAX record"));
    size_t len = 0;
    for (char c : data.substr(0, sp)) {
      if (c < '0' || c > '9') return Fail(Error::Invalid("malformed PAX record"));
      len = len * 10 + (c - '0');
    }
    if (len <= sp + 1 || len > data.size() || data[len - 1] != '\n')
      return Fail(Error::Invalid("malformed PAX record"));
    std::string_view rec = data.substr(sp + 1, len - sp - 2);
    size_t eq = rec.find('=');
    if (eq == std::string_view::npos || eq == 0) return Fail(Error::Invalid("malformed PAX record"));
    std::string key(rec.substr(0, eq));
    if (key.starts_with("GNU.sparse."))
      return Fail(Error::Unsupported("sparse files are not supported"));
    out[key] = std::string(rec.substr(eq + 1));
    data.remove_prefix(len);
  }
  return Ok();
}

}  // namespace

Result<std::optional<TarEntry>> TarReader::Next() {
  KILN_TRY(SkipRemaining());
  if (done_) return std::nullopt;
  ++index_;
  current_path_.clear();
  std::map<std::string, std::string> pax;
  if (global_) pax = global_->records;
  std::optional<std::string> gnu_name, gnu_link;
  bool pending_meta = false;
  char block[kBlock];
  while (true) {
    KILN_TRY_ASSIGN(bool got, ReadBlock(block));
    if (!got) {
      if (pending_meta) return Fail(HeaderError("truncated header"));
      done_ = true;
      return std::nullopt;
    }
    if (AllZero(block)) {
      KILN_TRY_ASSIGN(bool got2, ReadBlock(block));
      if (got2 && !AllZero(block)) return Fail(HeaderError("data after end-of-archive block"));
      done_ = true;
      return std::nullopt;
    }
    current_path_ = std::string(FieldView(block, kName));
    KILN_TRY_ASSIGN(int64_t stored, ParseNumeric(std::string_view(block + kChksum.offset, kChksum.size), "checksum")
                                        .map_error([&](Error e) { return HeaderError(e.message()); }));
    if (static_cast<unsigned>(stored) != Checksum(block, false) &&
        static_cast<unsigned>(stored) != Checksum(block, true)) {
      return Fail(EntryError(ErrorCode::kInvalid, "header checksum mismatch"));
    }
    auto num = [&](Field f, std::string_view what) -> Result<int64_t> {
      return ParseNumeric(std::string_view(block + f.offset, f.size), what).map_error([&](Error e) {
        return EntryError(ErrorCode::kInvalid, e.message());
      });
    };
    KILN_TRY_ASSIGN(int64_t size, num(kSize, "size"));
    if (size > kMaxTarEntrySize)
      return Fail(EntryError(ErrorCode::kInvalid, fmt::format("absurd size {}", size)));
    char flag = block[kTypeflag];
    if (flag == 'x' || flag == 'g') {
      KILN_TRY_ASSIGN(std::string data, ReadSpecialData(size, "PAX header"));
      std::map<std::string, std::string> recs;
      KILN_TRY(ParsePax(data, recs).map_error([&](Error e) {
        return Error(e.code(), fmt::format("{}: entry {}: {}", label_, index_, e.message()));
      }));
      if (flag == 'g') {
        // Per-file keys make no sense archive-wide; like Go, don't let a
        // global header rename or resize every later member.
        recs.erase("path");
        recs.erase("linkpath");
        recs.erase("size");
        if (!global_) global_ = std::make_unique<Pax>();
        for (auto& [k, v] : recs) global_->records[k] = v;
      }
      for (auto& [k, v] : recs) pax[k] = std::move(v);
      pending_meta = true;
      continue;
    }
    if (flag == 'L' || flag == 'K') {
      KILN_TRY_ASSIGN(std::string data, ReadSpecialData(size, "GNU long name"));
      size_t nul = data.find('\0');
      if (nul != std::string::npos) data.resize(nul);
      (flag == 'L' ? gnu_name : gnu_link) = std::move(data);
      pending_meta = true;
      continue;
    }

    TarEntry e;
    switch (flag) {
      case '0': case '\0': case '7': e.type = TarType::kFile; break;
      case '1': e.type = TarType::kHardLink; break;
      case '2': e.type = TarType::kSymlink; break;
      case '3': e.type = TarType::kCharDevice; break;
      case '4': e.type = TarType::kBlockDevice; break;
      case '5': e.type = TarType::kDirectory; break;
      case '6': e.type = TarType::kFifo; break;
      default:
        return Fail(EntryError(ErrorCode::kUnsupported,
                               fmt::format("unsupported entry type {}", Quote(std::string(1, flag)))));
    }
    std::string_view magic(block + kMagic.offset, kMagic.size);
    std::string path(FieldView(block, kName));
    std::string_view prefix = FieldView(block, kPrefix);
    if (magic == std::string_view("ustar\0", 6) && !prefix.empty())
      path = std::string(prefix) + "/" + path;
    if (gnu_name) path = *gnu_name;
    e.link_target = std::string(FieldView(block, kLinkname));
    if (gnu_link) e.link_target = *gnu_link;
    KILN_TRY_ASSIGN(int64_t mode, num(kMode, "mode"));
    e.mode = static_cast<uint32_t>(mode & 07777);
    KILN_TRY_ASSIGN(e.uid, num(kUid, "uid"));
    KILN_TRY_ASSIGN(e.gid, num(kGid, "gid"));
    KILN_TRY_ASSIGN(e.mtime, num(kMtime, "mtime"));
    if (e.type == TarType::kCharDevice || e.type == TarType::kBlockDevice) {
      KILN_TRY_ASSIGN(int64_t major, num(kDevmajor, "devmajor"));
      KILN_TRY_ASSIGN(int64_t minor, num(kDevminor, "devminor"));
      if (major > UINT32_MAX || minor > UINT32_MAX)
        return Fail(EntryError(ErrorCode::kInvalid, "device number too large"));
      e.dev_major = static_cast<uint32_t>(major);
      e.dev_minor = static_cast<uint32_t>(minor);
    }
    for (const auto& [k, v] : pax) {
      auto wrap = [&](Error err) { return EntryError(err.code(), err.message()); };
      if (k == "path") {
        if (!v.empty()) path = v;
      } else if (k == "linkpath") {
        if (!v.empty()) e.link_target = v;
      } else if (k == "size") {
        KILN_TRY_ASSIGN(size, ParseDecimal(v, k).map_error(wrap));
      } else if (k == "uid") {
        KILN_TRY_ASSIGN(e.uid, ParseDecimal(v, k).map_error(wrap));
      } else if (k == "gid") {
        KILN_TRY_ASSIGN(e.gid, ParseDecimal(v, k).map_error(wrap));
      } else if (k == "mtime") {
        KILN_TRY_ASSIGN(e.mtime, ParsePaxTime(v).map_error(wrap));
      } else if (k.starts_with("SCHILY.xattr.")) {
        e.xattrs[k.substr(13)] = v;
      }
    }
    current_path_ = path;
    if (size > kMaxTarEntrySize)
      return Fail(EntryError(ErrorCode::kInvalid, fmt::format("absurd size {}", size)));
    if (path.find('\0') != std::string::npos)
      return Fail(EntryError(ErrorCode::kInvalid, "NUL byte in name"));
    if (e.type == TarType::kFile && flag == '\0' && path.ends_with('/')) e.type = TarType::kDirectory;
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    while (path.starts_with("./")) path.erase(0, 2);
    // "./" (the root) is kept as "."; any other empty name is corrupt.
    if ((path.empty() || path == ".") && e.type != TarType::kDirectory)
      return Fail(EntryError(ErrorCode::kInvalid, "empty name"));
    e.path = path.empty() ? std::string(1, '.') : std::move(path);
    // Like Go's archive/tar, only regular files carry data; other types'
    // size fields are ignored.
    e.size = e.type == TarType::kFile ? size : 0;
    remaining_ = e.size;
    pad_ = (kBlock - e.size % kBlock) % kBlock;
    return e;
  }
}

}  // namespace kiln::archive
