#pragma once

// Masking of secret values in step output and error messages. Every
// occurrence of a secret's value, and of each line of a multi-line value,
// is replaced with "****". Values shorter than kMinMaskLength bytes are not
// masked (they would mask unrelated output); a SecretTooShortToMask warning
// says so. See docs/secrets.md.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostics.h"
#include "secrets/secret_value.h"
#include "secrets/source.h"

namespace kiln::secrets {

inline constexpr size_t kMinMaskLength = 6;
inline constexpr std::string_view kMask = "****";

class MaskingStream;

// The set of byte strings to mask, built once per build. Immutable after
// construction, so it can be shared by every step's streams across threads.
class Masker : public std::enable_shared_from_this<Masker> {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Use the factories below: instances must live in a shared_ptr.
  explicit Masker(Private) {}

  // Collects the patterns of every secret in `store`, warning through
  // `diag` once per secret that is too short to mask.
  static std::shared_ptr<const Masker> Create(const SecretStore& store, Diagnostics& diag);
  // From raw values (tests, fuzzing); short values are skipped silently.
  static std::shared_ptr<const Masker> FromValues(const std::vector<std::string_view>& values);

  // Masks a complete string, e.g. an error message.
  std::string MaskString(std::string_view text) const;
  // `e` with its message, source line, context and hint masked; code, file,
  // line, column and errno are kept.
  Error MaskError(const Error& e) const;
  // A stream filter for one output stream (e.g. a step's stdout).
  std::unique_ptr<MaskingStream> NewStream() const;

  size_t max_pattern_length() const { return max_len_; }
  size_t pattern_count() const { return patterns_.size(); }

 private:
  friend class MaskingStream;
  void AddPattern(std::string_view p);
  void Finish();
  // Masks `buf[*pos..]` into `out`, stopping where more input could change
  // the result unless `at_end`. Advances `*pos`.
  void Process(std::string_view buf, size_t* pos, bool at_end, std::string* out) const;

  std::vector<SecretValue> patterns_;  // longest first
  bool first_byte_[256] = {};
  size_t max_len_ = 0;
};

// Streaming filter: Write() returns what may safely be shown so far; Flush()
// returns the rest at end of stream. The output of Write()s + Flush() is the
// same as MaskString() of the whole input, however the input is chunked.
// Holds back at most max_pattern_length()-1 bytes. Not thread-safe; keeps a
// reference to its Masker alive.
class MaskingStream {
 public:
  explicit MaskingStream(std::shared_ptr<const Masker> masker) : masker_(std::move(masker)) {}
  ~MaskingStream();
  MaskingStream(const MaskingStream&) = delete;
  MaskingStream& operator=(const MaskingStream&) = delete;

  std::string Write(std::string_view chunk);
  std::string Flush();

 private:
  std::shared_ptr<const Masker> masker_;
  std::string pending_;
};

// The lines of a multi-line value (split on \n, trailing \r dropped) and the
// value itself; shared by the masker and the leak scanner.
std::vector<std::string_view> MaskPatternsOf(std::string_view value);

}  // namespace kiln::secrets
