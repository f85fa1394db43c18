#include "base/error.h"

#include <cerrno>
#include <cstring>

#include "base/strings.h"

namespace kiln {

std::string_view ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUsage: return "usage";
    case ErrorCode::kSyntax: return "syntax";
    case ErrorCode::kInvalid: return "invalid";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kDigestMismatch: return "digest mismatch";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kNetwork: return "network";
    case ErrorCode::kAuth: return "auth";
    case ErrorCode::kStepFailed: return "step failed";
    case ErrorCode::kInterrupted: return "interrupted";
  }
  return "unknown";
}

Error Error::Syntax(SourceLoc loc, std::string msg) {
  Error e(ErrorCode::kSyntax, std::move(msg));
  e.loc_ = std::move(loc);
  return e;
}

Error Error::Io(std::string_view path, int err, std::string_view op) {
  std::string msg;
  if (!op.empty()) msg = fmt::format("{} {}: {}", op, path, std::strerror(err));
  else msg = fmt::format("{}: {}", path, std::strerror(err));
  Error e(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, std::move(msg));
  e.errno_ = err;
  return e;
}

Error Error::Errno(std::string_view what, int err) {
  Error e(ErrorCode::kIo, fmt::format("{}: {}", what, std::strerror(err)));
  e.errno_ = err;
  return e;
}

Error& Error::operator=(Error&& o) noexcept {
  if (this == &o) return *this;
  code_ = o.code_;
  message_ = std::move(o.message_);
  loc_ = std::move(o.loc_);
  context_ = std::move(o.context_);
  errno_ = o.errno_;
  hint_ = std::move(o.hint_);
  return *this;
}

std::string Error::Summary() const {
  if (loc_ && loc_->known()) {
    if (loc_->line > 0 && loc_->col > 0)
      return fmt::format("{}:{}:{}: {}", loc_->file, loc_->line, loc_->col, message_);
    if (loc_->line > 0) return fmt::format("{}:{}: {}", loc_->file, loc_->line, message_);
    return fmt::format("{}: {}", loc_->file, message_);
  }
  return message_;
}

std::string Error::Render() const {
  std::string out = Summary();
  out += '\n';
  if (loc_ && loc_->line > 0 && !loc_->line_text.empty()) {
    std::string num = std::to_string(loc_->line);
    // A URL's password in the quoted line (ADD https://u:pw@host/...) must
    // not reach a CI log.
    std::string text = RedactUrlPasswords(loc_->line_text);
    out += fmt::format(" {} | {}\n", num, text);
    if (loc_->col > 0) {
      std::string pad;
      // Keep tabs so the caret lines up under the same column in a terminal.
      for (int i = 0; i + 1 < loc_->col && i < static_cast<int>(text.size()); ++i)
        pad += text[i] == '\t' ? '\t' : ' ';
      out += fmt::format(" {} | {}^\n", std::string(num.size(), ' '), pad);
    }
  }
  // Innermost context first: it is closest to what failed.
  for (const auto& c : context_) out += fmt::format("while {}\n", c);
  if (!hint_.empty()) out += fmt::format("hint: {}\n", hint_);
  return out;
}

}  // namespace kiln
