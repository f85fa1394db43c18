#pragma once

// Build secret sources, as `kiln build --secret` and `--ssh` take them (the
// same syntax as `docker buildx build`), and the SecretStore that holds the
// loaded values for the length of a build. See docs/secrets.md.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "secrets/secret_value.h"

namespace kiln::secrets {

// BuildKit's limit on one secret's size.
inline constexpr size_t kMaxSecretSize = 500 * 1024;

enum class SecretSourceType {
  kAuto,  // Bare `id=ID`: env var ID if set, else file ID.
  kFile,
  kEnv,
};

// One parsed `--secret` flag.
struct SecretSpec {
  std::string id;
  SecretSourceType type = SecretSourceType::kAuto;
  std::string file;  // for kFile (and kAuto when resolved to a file)
  std::string env;   // for kEnv

  friend bool operator==(const SecretSpec&, const SecretSpec&) = default;
};

// Parses a `--secret` value: comma-separated (CSV, double quotes allowed)
// key=value fields `id`, `type=file|env`, `src`/`source`, `env`. `id`
// defaults to the basename of `src`; `type=env` with only `src` reads the
// env var named by `src` (as buildx does). Returns kUsage naming the bad
// field, e.g. `--secret "id=a,foo=b": unexpected key "foo"`.
Result<SecretSpec> ParseSecretFlag(std::string_view flag);

// Looks up environment variables; injected so tests need not touch environ.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
// getenv(3).
EnvLookup ProcessEnv();

// The loaded secrets of one build: id -> value. Move-only; values are wiped
// when the store is destroyed. Not thread-safe for mutation; const access
// from several threads is fine.
class SecretStore {
 public:
  SecretStore() = default;
  SecretStore(SecretStore&&) = default;
  SecretStore& operator=(SecretStore&&) = default;

  // Adds or replaces `id` (a later flag wins, as in buildx).
  void Put(std::string id, SecretValue value);
  // nullptr if `id` was not provided.
  const SecretValue* Find(std::string_view id) const;
  // Ids in sorted order.
  std::vector<std::string> ids() const;
  size_t size() const { return values_.size(); }

 private:
  std::map<std::string, SecretValue, std::less<>> values_;
};

// Reads one secret's value. Errors (all start with `secret "ID": `):
// kNotFound `secret "npm": file ./npm_token.txt: No such file or directory`,
// kNotFound `secret "x": neither env var x nor file x exists`,
// kNotFound `secret "x": env var X is not set`,
// kInvalid  `secret "big": file big.txt is 600000 bytes, over the 500 KiB limit`.
Result<SecretValue> LoadSecret(const SecretSpec& spec, const EnvLookup& env);

// Loads every spec into a store, failing on the first source that cannot be
// read (so a build never starts with a missing secret).
Result<SecretStore> LoadSecrets(const std::vector<SecretSpec>& specs, const EnvLookup& env);

// One parsed `--ssh` flag: `default`, `ID=SOCKET` or `ID=KEY[,KEY...]`.
struct SshSpec {
  std::string id;                  // "default" when omitted
  std::vector<std::string> paths;  // empty: use $SSH_AUTH_SOCK

  friend bool operator==(const SshSpec&, const SshSpec&) = default;
};

// Parses a `--ssh` value. kUsage for an empty value or empty id/path.
Result<SshSpec> ParseSshFlag(std::string_view flag);

}  // namespace kiln::secrets
