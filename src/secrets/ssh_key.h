#pragma once

// Private keys served by kiln's in-process ssh-agent (`--ssh ID=KEYFILE`):
// ed25519 and RSA, from OpenSSH's "openssh-key-v1" format (unencrypted) or
// PEM (PKCS#1 RSA, PKCS#8). Key material stays in this process; containers
// only ever see the agent socket.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/error.h"

namespace kiln::secrets {

// Sign request flags from the agent protocol (draft-miller-ssh-agent).
inline constexpr uint32_t kSshAgentRsaSha2_256 = 2;
inline constexpr uint32_t kSshAgentRsaSha2_512 = 4;

enum class SshKeyType { kEd25519, kRsa };

// A loaded private key. Copies share the same immutable key; thread-safe.
class SshKey {
 public:
  // Reads and parses `path`. Errors name the path: kNotFound/kIo for the
  // file, kUnsupported for encrypted keys and other key types, kInvalid for
  // malformed ones.
  static Result<SshKey> FromFile(const std::string& path);
  // Parses key text; `name` is used in errors and as the default comment.
  static Result<SshKey> Parse(std::string_view text, std::string_view name);

  SshKeyType type() const;
  // The public key in SSH wire format (what IDENTITIES_ANSWER carries).
  const std::string& public_blob() const;
  const std::string& comment() const;
  // "ssh-ed25519 AAAA… comment", as in authorized_keys.
  std::string AuthorizedKey() const;
  // "SHA256:…" as ssh-keygen -l prints it.
  std::string Fingerprint() const;

  // An SSH signature blob (string algorithm, string signature) over `data`.
  // For RSA, `flags` picks rsa-sha2-512, rsa-sha2-256 or (neither) ssh-rsa.
  Result<std::string> Sign(std::string_view data, uint32_t flags) const;

  struct Impl;

 private:
  explicit SshKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace kiln::secrets
