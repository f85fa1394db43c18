#pragma once

// The leak guard: searches layer contents, a step's overlay upper dir, or
// any byte stream for secret values in raw, base64 (every alignment), URL-safe
// base64 and hex form. See docs/secrets.md.

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostics.h"
#include "base/error.h"
#include "secrets/secret_value.h"
#include "secrets/source.h"

namespace kiln::secrets {

enum class Encoding { kRaw, kBase64, kBase64Url, kHexLower, kHexUpper };
std::string_view EncodingName(Encoding e);

// Where in a file system entry a secret was found.
enum class FoundIn { kContent, kName, kLinkTarget, kXattr, kPaxHeader };
std::string_view FoundInName(FoundIn f);

struct LeakFinding {
  std::string secret_id;
  std::string path;  // relative to the scanned root / as named in the tar
  Encoding encoding = Encoding::kRaw;
  FoundIn found_in = FoundIn::kContent;
  std::string detail;  // the xattr name for kXattr, else ""

  friend bool operator==(const LeakFinding&, const LeakFinding&) = default;
  friend auto operator<=>(const LeakFinding&, const LeakFinding&) = default;
};

// "npm" found (base64) in content of app/.npmrc
std::string DescribeFinding(const LeakFinding& f);

// Ok for no findings; else kStepFailed "the step wrote secrets into its
// layer: <DescribeFinding>; <DescribeFinding>..." with a hint. The solver
// calls it with ScanDirectory(upper dir) after each step that mounted
// secrets, and adds the step's file:line.
Result<void> RequireNoLeaks(const std::vector<LeakFinding>& findings);

// Pulls bytes from a stream into `buf`; returns the count, 0 at end.
using ReadFn = std::function<Result<size_t>(char* buf, size_t cap)>;

class LeakStream;

// The encoded forms of every secret, built once per build. Immutable, so
// safe to share between threads.
class LeakScanner : public std::enable_shared_from_this<LeakScanner> {
  struct Private {
    explicit Private() = default;
  };

 public:
  // Use the factories below: instances must live in a shared_ptr.
  explicit LeakScanner(Private) {}

  // Searches for each value and, like the Masker, each of its lines (a
  // trailing "\r" dropped) of at least kMinMaskLength bytes. Warns
  // SecretTooShortToMask through `diag` for each value shorter than
  // kMinMaskLength bytes, which is not scanned for.
  static std::shared_ptr<const LeakScanner> Create(const SecretStore& store, Diagnostics& diag);
  // (id, value) pairs; short values are skipped silently.
  static std::shared_ptr<const LeakScanner> FromValues(
      const std::vector<std::pair<std::string, std::string_view>>& values);

  // One finding per (secret, encoding) in `data`.
  std::vector<LeakFinding> ScanBytes(std::string_view data, const std::string& path,
                                     FoundIn found_in) const;
  // A streaming scan of one file's bytes.
  std::unique_ptr<LeakStream> NewStream(std::string path, FoundIn found_in,
                                        std::string detail = "") const;

  // Walks `root` without following symlinks, scanning names, regular file
  // contents, symlink targets and xattr names and values. Findings are
  // sorted. kIo/kNotFound name the path that could not be read.
  Result<std::vector<LeakFinding>> ScanDirectory(const std::string& root) const;

  // Scans an uncompressed tar stream: names, link targets, PAX/GNU extension
  // headers and file contents. kInvalid for a truncated or malformed archive.
  Result<std::vector<LeakFinding>> ScanTar(const ReadFn& read) const;

  size_t pattern_count() const { return patterns_.size(); }
  size_t max_pattern_length() const { return max_len_; }

 private:
  friend class LeakStream;
  struct Pattern {
    std::string secret_id;
    Encoding encoding;
    SecretValue bytes;
  };
  void AddSecret(const std::string& id, std::string_view value);

  std::vector<Pattern> patterns_;
  size_t max_len_ = 0;
};

// Streaming search with a carry-over tail, so a value split across chunks
// is still found. Not thread-safe.
class LeakStream {
 public:
  LeakStream(std::shared_ptr<const LeakScanner> scanner, std::string path, FoundIn found_in,
             std::string detail);
  ~LeakStream();
  LeakStream(const LeakStream&) = delete;
  LeakStream& operator=(const LeakStream&) = delete;

  void Feed(std::string_view chunk);
  // Findings so far, one per secret and encoding, sorted.
  std::vector<LeakFinding> Finish();

 private:
  std::shared_ptr<const LeakScanner> scanner_;
  std::string path_, detail_;
  FoundIn found_in_;
  std::string tail_;
  std::vector<bool> found_;
};

// The encodings of `value` that are searched for, as (encoding, bytes).
// Base64 forms are the "stable cores": the characters that are the same
// whatever bytes precede or follow the value in a larger base64 stream, for
// each of the 3 offsets mod 3. Duplicates are dropped.
std::vector<std::pair<Encoding, std::string>> EncodedForms(std::string_view value);

}  // namespace kiln::secrets
