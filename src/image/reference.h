#pragma once

// Image references ("busybox", "ghcr.io/a/b:1.0", "x@sha256:...") parsed and
// normalized exactly as docker does (distribution/reference's
// ParseNormalizedNamed followed by TagNameOnly). See
// docs/formats/image-reference.md for the grammar.

#include <optional>
#include <string>
#include <string_view>

#include "base/digest.h"
#include "base/error.h"

namespace kiln::image {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kLegacyDefaultDomain = "index.docker.io";
inline constexpr std::string_view kOfficialRepoPrefix = "library/";
inline constexpr std::string_view kDefaultTag = "latest";
// Longest allowed "domain/path" (without tag or digest).
inline constexpr size_t kMaxNameLength = 255;

// Whether Parse adds ":latest" when the reference has neither tag nor digest.
enum class DefaultTag { kAdd, kNone };

// A parsed, normalized reference: always has a domain and a path; may have
// a tag, a digest or both. Immutable value type, safe to copy and share.
class Reference {
 public:
  // Parses `text` with docker's normalization rules:
  //   "busybox"            -> docker.io/library/busybox:latest
  //   "user/repo"          -> docker.io/user/repo:latest
  //   "index.docker.io/x"  -> docker.io/library/x:latest
  //   "host:5000/a/b:tag"  -> host:5000/a/b:tag
  //   "a:tag@sha256:..."   -> docker.io/library/a:tag@sha256:... (both kept)
  //   "a@sha256:..."       -> docker.io/library/a@sha256:... (no tag added)
  // The first component is a domain when it contains '.' or ':', is
  // "localhost", or has an uppercase letter. Returns kInvalid with messages
  // like `invalid reference format "Foo": repository name must be lowercase`.
  [[nodiscard]] static Result<Reference> Parse(std::string_view text,
                                               DefaultTag default_tag = DefaultTag::kAdd);

  // Builds a reference from already-validated parts; for tests and for
  // callers that assemble names themselves. Returns kInvalid if the parts
  // do not form a valid reference.
  [[nodiscard]] static Result<Reference> FromParts(std::string domain, std::string path,
                                                   std::string tag,
                                                   std::optional<Digest> digest);

  // "docker.io", "localhost:5000", "ghcr.io".
  const std::string& domain() const { return domain_; }
  // "library/busybox", "a/b".
  const std::string& path() const { return path_; }
  // "" when the reference has no tag.
  const std::string& tag() const { return tag_; }
  // Empty when the reference has no digest.
  const std::optional<Digest>& digest() const { return digest_; }

  // "docker.io/library/busybox".
  std::string Name() const { return domain_ + "/" + path_; }
  // Full normalized form: "docker.io/library/busybox:latest",
  // "docker.io/library/busybox:1@sha256:...".
  std::string String() const;
  // Short name as docker shows it: "busybox", "user/repo", "ghcr.io/a/b".
  std::string FamiliarName() const;
  // Short form with tag/digest: "busybox:latest", as `docker images` shows.
  std::string FamiliarString() const;

  // Copies with the tag or digest replaced (or removed when empty).
  // `tag` must match the tag grammar; returns kInvalid otherwise.
  [[nodiscard]] Result<Reference> WithTag(std::string_view tag) const;
  Reference WithDigest(std::optional<Digest> digest) const;
  // Name only, no tag and no digest.
  Reference NameOnly() const;

  friend bool operator==(const Reference&, const Reference&) = default;

 private:
  std::string domain_;
  std::string path_;
  std::string tag_;
  std::optional<Digest> digest_;
};

// True if `tag` matches `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
bool IsValidTag(std::string_view tag);

}  // namespace kiln::image
