#include "image/reference.h"

#include <fmt/format.h>

#include "base/strings.h"

namespace kiln::image {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsLowerAlnum(c) || (c >= 'A' && c <= 'Z'); }
bool IsWordChar(char c) { return IsAlnum(c) || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsHexDigit(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool HasUpper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*
// separator      := [._] | "__" | [-]+
bool IsValidPathComponent(std::string_view s) {
  size_t i = 0;
  auto alnum_run = [&] {
    size_t start = i;
    while (i < s.size() && IsLowerAlnum(s[i])) ++i;
    return i > start;
  };
  if (!alnum_run()) return false;
  while (i < s.size()) {
    if (s[i] == '.') {
      ++i;
    } else if (s[i] == '_') {
      ++i;
      if (i < s.size() && s[i] == '_') ++i;
    } else if (s[i] == '-') {
      while (i < s.size() && s[i] == '-') ++i;
    } else {
      return false;
    }
    if (!alnum_run()) return false;
  }
  return true;
}

// domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]
bool IsValidDomainComponent(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s)
    if (!IsAlnum(c) && c != '-') return false;
  return true;
}

// domain := (domain-name | "[" ipv6 "]") (":" [0-9]+)?
bool IsValidDomain(std::string_view s) {
  std::string_view host = s;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : s.substr(1, close - 1))
      if (!IsHexDigit(c) && c != ':') return false;
    host = {};
    s.remove_prefix(close + 1);
  } else {
    size_t colon = s.find(':');
    host = s.substr(0, colon);
    s = colon == std::string_view::npos ? std::string_view() : s.substr(colon);
    for (const std::string& part : Split(host, '.'))
      if (!IsValidDomainComponent(part)) return false;
  }
  if (s.empty()) return true;
  if (s.front() != ':' || s.size() == 1) return false;
  for (char c : s.substr(1))
    if (!IsDigit(c)) return false;
  return true;
}

// algorithm := [A-Za-z][A-Za-z0-9]* ([+._-][A-Za-z][A-Za-z0-9]*)*
bool IsValidDigestAlgorithm(std::string_view s) {
  bool need_alpha = true;
  for (char c : s) {
    if (need_alpha) {
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
      need_alpha = false;
    } else if (c == '+' || c == '.' || c == '_' || c == '-') {
      need_alpha = true;
    } else if (!IsAlnum(c)) {
      return false;
    }
  }
  return !need_alpha;
}

// splitDockerDomain's test for "the first component is a domain".
bool LooksLikeDomain(std::string_view first) {
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost" || HasUpper(first);
}

bool IsHexIdentifier(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!IsDigit(c) && !(c >= 'a' && c <= 'f')) return false;
  return true;
}

Error FormatError(std::string_view text, std::string_view reason) {
  return Error::Invalid(fmt::format("invalid reference format {}: {}", Quote(text), reason));
}

// Validates the parts; `text` is only used for messages.
Result<void> Validate(std::string_view text, const std::string& domain, const std::string& path,
                      const std::string& tag) {
  if (path.empty()) return Fail(FormatError(text, "repository name must have at least one component"));
  if (HasUpper(path)) return Fail(FormatError(text, "repository name must be lowercase"));
  if (!IsValidDomain(domain))
    return Fail(FormatError(text, fmt::format("invalid domain {}", Quote(domain))));
  for (const std::string& component : Split(path, '/')) {
    if (!IsValidPathComponent(component))
      return Fail(FormatError(text, fmt::format("invalid path component {}", Quote(component))));
  }
  if (domain.size() + 1 + path.size() > kMaxNameLength)
    return Fail(FormatError(text, "repository name must not be more than 255 characters"));
  if (!tag.empty() && !IsValidTag(tag))
    return Fail(FormatError(text, fmt::format("invalid tag {}", Quote(tag))));
  return Ok();
}

Result<std::optional<Digest>> ParseDigestPart(std::string_view text, std::string_view digest) {
  Cut algo_hex = CutString(digest, ':');
  if (!algo_hex.found || !IsValidDigestAlgorithm(algo_hex.first) || algo_hex.second.size() < 32)
    return Fail(FormatError(text, fmt::format("invalid digest {}", Quote(digest))));
  for (char c : algo_hex.second)
    if (!IsHexDigit(c)) return Fail(FormatError(text, fmt::format("invalid digest {}", Quote(digest))));
  auto parsed = Digest::Parse(digest);
  if (!parsed) return Fail(FormatError(text, parsed.error().message()));
  return std::optional<Digest>(*parsed);
}

}  // namespace

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128 || !IsWordChar(tag.front())) return false;
  for (char c : tag)
    if (!IsWordChar(c) && c != '.' && c != '-') return false;
  return true;
}

Result<Reference> Reference::Parse(std::string_view text, DefaultTag default_tag) {
  if (text.empty()) return Fail(FormatError(text, "repository name must have at least one component"));
  if (IsHexIdentifier(text)) {
    return Fail(Error::Invalid(fmt::format(
        "invalid repository name {}: cannot specify 64-byte hexadecimal strings", Quote(text))));
  }
  // Split off the domain (distribution/reference splitDockerDomain).
  std::string domain, remainder;
  size_t slash = text.find('/');
  std::string_view first = slash == std::string_view::npos ? std::string_view() : text.substr(0, slash);
  if (slash == std::string_view::npos ||
      !LooksLikeDomain(first)) {
    domain = kDefaultDomain;
    remainder = text;
  } else {
    domain = first;
    remainder = text.substr(slash + 1);
  }
  if (domain == kLegacyDefaultDomain) domain = kDefaultDomain;

  // remainder := path (":" tag)? ("@" digest)?
  std::string_view rest = remainder;
  std::optional<Digest> digest;
  size_t at = rest.find('@');
  if (at != std::string_view::npos) {
    KILN_TRY_ASSIGN(digest, ParseDigestPart(text, rest.substr(at + 1)));
    rest = rest.substr(0, at);
  }
  std::string path, tag;
  size_t colon = rest.find(':');
  if (colon != std::string_view::npos) {
    path = rest.substr(0, colon);
    tag = rest.substr(colon + 1);
    if (tag.empty() || !IsValidTag(tag))
      return Fail(FormatError(text, fmt::format("invalid tag {}", Quote(tag))));
  } else {
    path = rest;
  }
  if (domain == kDefaultDomain && path.find('/') == std::string::npos && !path.empty())
    path = std::string(kOfficialRepoPrefix) + path;
  KILN_TRY(Validate(text, domain, path, tag));
  if (tag.empty() && !digest && default_tag == DefaultTag::kAdd) tag = kDefaultTag;

  Reference ref;
  ref.domain_ = std::move(domain);
  ref.path_ = std::move(path);
  ref.tag_ = std::move(tag);
  ref.digest_ = std::move(digest);
  return ref;
}

Result<Reference> Reference::FromParts(std::string domain, std::string path, std::string tag,
                                       std::optional<Digest> digest) {
  std::string text = domain + "/" + path;
  if (!tag.empty()) text += ":" + tag;
  if (digest) text += "@" + digest->str();
  KILN_TRY(Validate(text, domain, path, tag));
  Reference ref;
  ref.domain_ = std::move(domain);
  ref.path_ = std::move(path);
  ref.tag_ = std::move(tag);
  ref.digest_ = std::move(digest);
  return ref;
}

std::string Reference::String() const {
  std::string out = Name();
  if (!tag_.empty()) out += ":" + tag_;
  if (digest_) out += "@" + digest_->str();
  return out;
}

std::string Reference::FamiliarName() const {
  if (domain_ != kDefaultDomain) return Name();
  // "docker.io/foo.bar/x" cannot drop its domain: "foo.bar/x" would
  // parse with domain "foo.bar".
  std::string_view first = std::string_view(path_).substr(0, path_.find('/'));
  if (path_.find('/') != std::string::npos && LooksLikeDomain(first)) return Name();
  if (StartsWith(path_, kOfficialRepoPrefix) &&
      path_.find('/', kOfficialRepoPrefix.size()) == std::string::npos)
    return path_.substr(kOfficialRepoPrefix.size());
  return path_;
}

std::string Reference::FamiliarString() const {
  std::string out = FamiliarName();
  if (!tag_.empty()) out += ":" + tag_;
  if (digest_) out += "@" + digest_->str();
  return out;
}

Result<Reference> Reference::WithTag(std::string_view tag) const {
  if (!tag.empty() && !IsValidTag(tag))
    return Fail(Error::Invalid(fmt::format("invalid tag format {}", Quote(tag))));
  Reference out = *this;
  out.tag_ = std::string(tag);
  return out;
}

Reference Reference::WithDigest(std::optional<Digest> digest) const {
  Reference out = *this;
  out.digest_ = std::move(digest);
  return out;
}

Reference Reference::NameOnly() const {
  Reference out = *this;
  out.tag_.clear();
  out.digest_.reset();
  return out;
}

}  // namespace kiln::image
