#include "secrets/scanner.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/digest.h"
#include "base/fs.h"
#include "base/strings.h"
#include "secrets/masker.h"

namespace kiln::secrets {

std::string_view EncodingName(Encoding e) {
  switch (e) {
    case Encoding::kRaw: return "raw";
    case Encoding::kBase64: return "base64";
    case Encoding::kBase64Url: return "base64url";
    case Encoding::kHexLower: return "hex";
    case Encoding::kHexUpper: return "HEX";
  }
  return "?";
}

std::string_view FoundInName(FoundIn f) {
  switch (f) {
    case FoundIn::kContent: return "content";
    case FoundIn::kName: return "name";
    case FoundIn::kLinkTarget: return "link target";
    case FoundIn::kXattr: return "xattr";
    case FoundIn::kPaxHeader: return "pax header";
  }
  return "?";
}

std::string DescribeFinding(const LeakFinding& f) {
  std::string where(FoundInName(f.found_in));
  if (!f.detail.empty()) where += " " + f.detail;
  return fmt::format("secret {} found ({}) in {} of {}", Quote(f.secret_id),
                     EncodingName(f.encoding), where, f.path);
}

Result<void> RequireNoLeaks(const std::vector<LeakFinding>& findings) {
  if (findings.empty()) return Ok();
  std::vector<std::string> parts;
  for (const auto& f : findings) parts.push_back(DescribeFinding(f));
  return Fail(Error(ErrorCode::kStepFailed,
                    "the step wrote secrets into its layer: " + Join(parts, "; "))
                  .WithHint("secret mounts disappear after the step, but copies made by the "
                            "step stay; remove them in the same RUN or keep them out of the "
                            "filesystem"));
}

namespace {

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Base64 without padding.
std::string Base64NoPad(std::string_view in) {
  std::string out;
  size_t i = 0;
  auto b = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8) | b(i + 2);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  size_t r = in.size() - i;
  if (r == 1) {
    uint32_t v = b(i) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
  } else if (r == 2) {
    uint32_t v = (b(i) << 16) | (b(i + 1) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
  }
  return out;
}

}  // namespace

std::vector<std::pair<Encoding, std::string>> EncodedForms(std::string_view value) {
  std::vector<std::pair<Encoding, std::string>> out;
  auto add = [&](Encoding e, std::string s) {
    if (s.empty()) return;
    for (const auto& [oe, os] : out)
      if (os == s) {
        SecureZero(s.data(), s.size());
        return;
      }
    out.emplace_back(e, std::move(s));
  };
  add(Encoding::kRaw, std::string(value));
  for (size_t k = 0; k < 3; ++k) {
    // `k` unknown bytes precede the value within its 3-byte group. The first
    // k>0 groups' characters that mix in those bytes are dropped: 0, 2 or 3
    // characters. At the end, the characters of a partial group that would
    // mix in the following unknown bytes are dropped too.
    std::string shifted(k, '\0');
    shifted.append(value);
    std::string enc = Base64NoPad(shifted);
    size_t len = shifted.size();
    size_t stable_end = 4 * (len / 3) + (len % 3 == 0 ? 0 : len % 3 == 1 ? 1 : 2);
    size_t start = k == 0 ? 0 : k + 1;
    std::string core = stable_end > start ? enc.substr(start, stable_end - start) : "";
    SecureZero(shifted.data(), shifted.size());
    SecureZero(enc.data(), enc.size());
    std::string url = core;
    std::replace(url.begin(), url.end(), '+', '-');
    std::replace(url.begin(), url.end(), '/', '_');
    add(Encoding::kBase64, std::move(core));
    add(Encoding::kBase64Url, std::move(url));
  }
  std::string hex = HexEncode(value);
  std::string upper = hex;
  for (char& c : upper) c = (c >= 'a' && c <= 'f') ? c - 'a' + 'A' : c;
  add(Encoding::kHexLower, std::move(hex));
  add(Encoding::kHexUpper, std::move(upper));
  return out;
}

void LeakScanner::AddSecret(const std::string& id, std::string_view value) {
  // The value and, as for masking, each of its lines: a file secret usually
  // ends in a newline that `$(cat /run/secrets/x)` strips before the step
  // writes it somewhere.
  std::vector<std::string_view> parts;
  for (std::string_view p : MaskPatternsOf(value))
    if (p.size() >= kMinMaskLength && std::find(parts.begin(), parts.end(), p) == parts.end()) parts.push_back(p);
  for (std::string_view part : parts) {
    for (auto& [enc, bytes] : EncodedForms(part)) {
      patterns_.push_back({id, enc, SecretValue(bytes)});
      max_len_ = std::max(max_len_, bytes.size());
      SecureZero(bytes.data(), bytes.size());
    }
  }
}

std::shared_ptr<const LeakScanner> LeakScanner::Create(const SecretStore& store,
                                                       Diagnostics& diag) {
  auto s = std::make_shared<LeakScanner>(Private());
  for (const auto& id : store.ids()) {
    std::string_view v = store.Find(id)->view();
    if (v.size() < kMinMaskLength) {
      diag.Warn({"SecretTooShortToMask",
                 fmt::format("secret {} is shorter than {} bytes; the leak guard does not "
                             "search for it",
                             Quote(id), kMinMaskLength),
                 {}});
      continue;
    }
    s->AddSecret(id, v);
  }
  return s;
}

std::shared_ptr<const LeakScanner> LeakScanner::FromValues(
    const std::vector<std::pair<std::string, std::string_view>>& values) {
  auto s = std::make_shared<LeakScanner>(Private());
  for (const auto& [id, v] : values)
    if (v.size() >= kMinMaskLength) s->AddSecret(id, v);
  return s;
}

std::vector<LeakFinding> LeakScanner::ScanBytes(std::string_view data, const std::string& path,
                                                FoundIn found_in) const {
  LeakStream stream(shared_from_this(), path, found_in, "");
  stream.Feed(data);
  return stream.Finish();
}

std::unique_ptr<LeakStream> LeakScanner::NewStream(std::string path, FoundIn found_in,
                                                   std::string detail) const {
  return std::make_unique<LeakStream>(shared_from_this(), std::move(path), found_in,
                                      std::move(detail));
}

LeakStream::LeakStream(std::shared_ptr<const LeakScanner> scanner, std::string path,
                       FoundIn found_in, std::string detail)
    : scanner_(std::move(scanner)),
      path_(std::move(path)),
      detail_(std::move(detail)),
      found_in_(found_in),
      found_(scanner_->patterns_.size(), false) {}

LeakStream::~LeakStream() { SecureZero(tail_.data(), tail_.size()); }

void LeakStream::Feed(std::string_view chunk) {
  if (scanner_->patterns_.empty() || chunk.empty()) return;
  // Search tail+chunk; the tail holds the last max_len-1 bytes seen, so a
  // match straddling the boundary is complete in the joined buffer.
  std::string joined;
  std::string_view buf = chunk;
  if (!tail_.empty()) {
    joined.reserve(tail_.size() + chunk.size());
    joined.append(tail_).append(chunk);
    buf = joined;
  }
  const auto& pats = scanner_->patterns_;
  for (size_t i = 0; i < pats.size(); ++i) {
    if (found_[i]) continue;
    std::string_view p = pats[i].bytes.view();
    if (p.size() <= buf.size() && memmem(buf.data(), buf.size(), p.data(), p.size()) != nullptr)
      found_[i] = true;
  }
  size_t keep = std::min(buf.size(), scanner_->max_len_ - 1);
  std::string next(buf.substr(buf.size() - keep));
  SecureZero(tail_.data(), tail_.size());
  SecureZero(joined.data(), joined.size());
  tail_ = std::move(next);
}

std::vector<LeakFinding> LeakStream::Finish() {
  std::vector<LeakFinding> out;
  const auto& pats = scanner_->patterns_;
  for (size_t i = 0; i < pats.size(); ++i)
    if (found_[i]) out.push_back({pats[i].secret_id, path_, pats[i].encoding, found_in_, detail_});
  // Several base64 alignments can hit; report each encoding once.
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  SecureZero(tail_.data(), tail_.size());
  tail_.clear();
  return out;
}

namespace {

void Append(std::vector<LeakFinding>* out, std::vector<LeakFinding> more) {
  for (auto& f : more) out->push_back(std::move(f));
}

class DirWalker {
 public:
  DirWalker(const LeakScanner& scanner, std::string root)
      : scanner_(scanner), root_(std::move(root)) {}

  Result<void> Walk(int dir_fd, const std::string& rel) {
    KILN_TRY_ASSIGN(std::vector<std::string> names, ListDirectory(dir_fd, Display(rel)));
    for (const auto& name : names) {
      std::string child = rel.empty() ? name : rel + "/" + name;
      KILN_TRY(Entry(dir_fd, name, child));
    }
    return Ok();
  }

  std::vector<LeakFinding> findings;

 private:
  std::string Display(const std::string& rel) const {
    return rel.empty() ? root_ : JoinPath(root_, rel);
  }

  Result<void> Entry(int dir_fd, const std::string& name, const std::string& rel) {
    struct stat st;
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
      return Fail(Error::Io(Display(rel), errno, "stat"));
    Append(&findings, scanner_.ScanBytes(name, rel, FoundIn::kName));
    KILN_TRY(Xattrs(rel));
    if (S_ISLNK(st.st_mode)) {
      std::string target(st.st_size > 0 ? st.st_size + 1 : 4096, '\0');
      ssize_t n = readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) return Fail(Error::Io(Display(rel), errno, "readlink"));
      target.resize(n);
      Append(&findings, scanner_.ScanBytes(target, rel, FoundIn::kLinkTarget));
    } else if (S_ISREG(st.st_mode)) {
      int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
      if (fd < 0) return Fail(Error::Io(Display(rel), errno, "open"));
      Fd owned(fd);
      auto stream = scanner_.NewStream(rel, FoundIn::kContent);
      std::string buf(1 << 16, '\0');
      while (true) {
        ssize_t n = read(fd, buf.data(), buf.size());
        if (n < 0) {
          if (errno == EINTR) continue;
          return Fail(Error::Io(Display(rel), errno, "read"));
        }
        if (n == 0) break;
        stream->Feed(std::string_view(buf.data(), n));
      }
      SecureZero(buf.data(), buf.size());
      Append(&findings, stream->Finish());
    } else if (S_ISDIR(st.st_mode)) {
      int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return Fail(Error::Io(Display(rel), errno, "open"));
      Fd owned(fd);
      KILN_TRY(Walk(fd, rel));
    }
    return Ok();
  }

  Result<void> Xattrs(const std::string& rel) {
    std::string path = Display(rel);
    ssize_t len = llistxattr(path.c_str(), nullptr, 0);
    if (len < 0) {
      if (errno == ENOTSUP) return Ok();
      return Fail(Error::Io(path, errno, "listxattr"));
    }
    if (len == 0) return Ok();
    std::string list(len, '\0');
    len = llistxattr(path.c_str(), list.data(), list.size());
    if (len < 0) return Fail(Error::Io(path, errno, "listxattr"));
    list.resize(len);
    for (const auto& xname : Split(list, '\0')) {
      if (xname.empty()) continue;
      auto name_hits = scanner_.ScanBytes(xname, rel, FoundIn::kXattr);
      for (auto& f : name_hits) f.detail = "name";
      Append(&findings, std::move(name_hits));
      ssize_t vlen = lgetxattr(path.c_str(), xname.c_str(), nullptr, 0);
      if (vlen < 0) return Fail(Error::Io(path, errno, "getxattr " + xname));
      std::string value(vlen, '\0');
      vlen = lgetxattr(path.c_str(), xname.c_str(), value.data(), value.size());
      if (vlen < 0) return Fail(Error::Io(path, errno, "getxattr " + xname));
      value.resize(vlen);
      auto hits = scanner_.ScanBytes(value, rel, FoundIn::kXattr);
      for (auto& f : hits) f.detail = xname;
      Append(&findings, std::move(hits));
    }
    return Ok();
  }

  const LeakScanner& scanner_;
  std::string root_;
};

}  // namespace

Result<std::vector<LeakFinding>> LeakScanner::ScanDirectory(const std::string& root) const {
  int fd = open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(Error::Io(root, errno, "open"));
  Fd owned(fd);
  DirWalker walker(*this, root);
  auto r = walker.Walk(fd, "");
  if (!r) return Fail(std::move(r).error().Wrap("scanning {} for leaked secrets", root));
  std::sort(walker.findings.begin(), walker.findings.end());
  return std::move(walker.findings);
}

}  // namespace kiln::secrets
