#include "secrets/masker.h"

#include <algorithm>
#include <cstring>

#include "base/strings.h"

namespace kiln::secrets {

std::vector<std::string_view> MaskPatternsOf(std::string_view value) {
  std::vector<std::string_view> out;
  out.push_back(value);
  if (value.find('\n') == std::string_view::npos) return out;
  size_t start = 0;
  while (start <= value.size()) {
    size_t nl = value.find('\n', start);
    size_t end = nl == std::string_view::npos ? value.size() : nl;
    std::string_view line = value.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.push_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  return out;
}

void Masker::AddPattern(std::string_view p) {
  if (p.size() < kMinMaskLength) return;
  for (const auto& q : patterns_)
    if (q.view() == p) return;
  patterns_.emplace_back(p);
}

void Masker::Finish() {
  std::stable_sort(patterns_.begin(), patterns_.end(),
                   [](const SecretValue& a, const SecretValue& b) { return a.size() > b.size(); });
  for (const auto& p : patterns_) {
    first_byte_[static_cast<unsigned char>(p.view()[0])] = true;
    max_len_ = std::max(max_len_, p.size());
  }
}

std::shared_ptr<const Masker> Masker::Create(const SecretStore& store, Diagnostics& diag) {
  auto m = std::make_shared<Masker>(Private());
  for (const auto& id : store.ids()) {
    std::string_view v = store.Find(id)->view();
    if (v.size() < kMinMaskLength) {
      diag.Warn({"SecretTooShortToMask",
                 fmt::format("secret {} is shorter than {} bytes; it will not be masked in output "
                             "or searched for by the leak guard",
                             Quote(id), kMinMaskLength),
                 {}});
      continue;
    }
    for (std::string_view p : MaskPatternsOf(v)) m->AddPattern(p);
  }
  m->Finish();
  return m;
}

std::shared_ptr<const Masker> Masker::FromValues(const std::vector<std::string_view>& values) {
  auto m = std::make_shared<Masker>(Private());
  for (std::string_view v : values) {
    if (v.size() < kMinMaskLength) continue;
    for (std::string_view p : MaskPatternsOf(v)) m->AddPattern(p);
  }
  m->Finish();
  return m;
}

// At each position: if a pattern that is longer than every complete match
// here could still match once more bytes arrive, wait; else replace the
// longest complete match, or pass one byte through. Decisions depend only
// on bytes already seen, so chunking cannot change the output.
void Masker::Process(std::string_view buf, size_t* pos, bool at_end, std::string* out) const {
  size_t i = *pos;
  while (i < buf.size()) {
    if (!first_byte_[static_cast<unsigned char>(buf[i])]) {
      out->push_back(buf[i++]);
      continue;
    }
    size_t avail = buf.size() - i;
    size_t match = 0;
    bool wait = false;
    for (const auto& p : patterns_) {  // longest first
      std::string_view pv = p.view();
      if (pv.size() <= avail) {
        if (std::memcmp(buf.data() + i, pv.data(), pv.size()) == 0) {
          match = pv.size();
          break;
        }
      } else if (!at_end && std::memcmp(buf.data() + i, pv.data(), avail) == 0) {
        wait = true;
        break;
      }
    }
    if (wait) break;
    if (match > 0) {
      out->append(kMask);
      i += match;
    } else {
      out->push_back(buf[i++]);
    }
  }
  *pos = i;
}

std::string Masker::MaskString(std::string_view text) const {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  Process(text, &pos, /*at_end=*/true, &out);
  return out;
}

Error Masker::MaskError(const Error& e) const {
  Error out(e.code(), MaskString(e.message()));
  if (e.loc()) {
    SourceLoc loc = *e.loc();
    loc.line_text = MaskString(loc.line_text);
    out.At(std::move(loc));
  }
  for (const auto& c : e.context()) out.Wrap("{}", MaskString(c));
  if (!e.hint().empty()) out.WithHint(MaskString(e.hint()));
  if (e.sys_errno() != 0) out.WithErrno(e.sys_errno());
  return out;
}

std::unique_ptr<MaskingStream> Masker::NewStream() const {
  // Masker instances only exist behind shared_ptr (see Create).
  return std::make_unique<MaskingStream>(shared_from_this());
}

MaskingStream::~MaskingStream() { SecureZero(pending_.data(), pending_.size()); }

std::string MaskingStream::Write(std::string_view chunk) {
  std::string out;
  if (masker_->patterns_.empty()) {
    out.assign(chunk);
    return out;
  }
  pending_.append(chunk);
  size_t pos = 0;
  masker_->Process(pending_, &pos, /*at_end=*/false, &out);
  SecureZero(pending_.data(), pos);
  pending_.erase(0, pos);
  return out;
}

std::string MaskingStream::Flush() {
  std::string out;
  size_t pos = 0;
  masker_->Process(pending_, &pos, /*at_end=*/true, &out);
  SecureZero(pending_.data(), pending_.size());
  pending_.clear();
  return out;
}

}  // namespace kiln::secrets
