#pragma once

// Registry credentials from docker's config.json ($DOCKER_CONFIG or
// ~/.docker): "auths" entries (base64 "user:pass" in "auth", or
// "identitytoken"), "credsStore" and "credHelpers" through
// docker-credential-<name> helpers. Read and written the way docker does, so
// `kiln login` and `docker login` share credentials. Credentials are never
// put in Error messages.

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "base/error.h"

namespace kiln::registry {

struct Credentials {
  std::string username;
  std::string password;
  // An OAuth2 refresh token used instead of the password in the bearer-token
  // flow (docker config "identitytoken", helper username "<token>").
  std::string identity_token;

  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// Runs a docker credential helper: `docker-credential-<helper> <verb>` with
// `input` on stdin; returns its stdout. kNotFound when the helper is not
// installed; kAuth when it exits non-zero (its stdout+stderr, which never
// hold secrets in the helper protocol, become the message). Thread-safe.
class CredentialHelperRunner {
 public:
  virtual ~CredentialHelperRunner() = default;
  virtual Result<std::string> Run(std::string_view helper, std::string_view verb,
                                  std::string_view input) = 0;
};

// Runs helpers found in the absolute directories of `search_path`
// (colon-separated; empty means $PATH) through sys::ProcessRunner: `input`
// goes on the helper's stdin, never on its command line; only its stdout is
// returned.
std::unique_ptr<CredentialHelperRunner> NewExecCredentialHelperRunner(std::string search_path = "");

// The key under which `registry` is stored in config.json and the server URL
// passed to helpers: "https://index.docker.io/v1/" for docker.io, else the
// registry name itself ("ghcr.io", "localhost:5000").
std::string CredentialKey(std::string_view registry);

// Where the client gets credentials for a registry. Thread-safe.
class CredentialSource {
 public:
  virtual ~CredentialSource() = default;
  // Credentials for `registry` ("docker.io", "localhost:5000"), or empty
  // Credentials for anonymous access.
  virtual Result<Credentials> Get(std::string_view registry) const = 0;
};

// The same credentials for every registry (tests, `kiln login` checks).
class StaticCredentials : public CredentialSource {
 public:
  explicit StaticCredentials(Credentials creds = {}) : creds_(std::move(creds)) {}
  Result<Credentials> Get(std::string_view) const override { return creds_; }

 private:
  Credentials creds_;
};

// Reads and writes credentials in one docker config directory. Not
// thread-safe for writes; concurrent Get() calls are fine.
class CredentialStore : public CredentialSource {
 public:
  // `config_dir` holds config.json; `runner` must outlive the store.
  CredentialStore(std::string config_dir, CredentialHelperRunner& runner)
      : config_dir_(std::move(config_dir)), runner_(runner) {}

  // $DOCKER_CONFIG if set, else $HOME/.docker.
  static std::string DefaultConfigDir();

  // Credentials for `registry`, or empty Credentials when none are stored
  // (including a missing config.json). kInvalid names config.json for bad
  // JSON or a bad "auth" value; helper failures are passed through.
  Result<Credentials> Get(std::string_view registry) const override;
  // Stores `creds` for `registry` in the helper configured for it, or in
  // config.json "auths" (mode 0600, written atomically).
  Result<void> Store(std::string_view registry, const Credentials& creds);
  // Removes credentials for `registry`; returns whether any were stored.
  Result<bool> Erase(std::string_view registry);

  const std::string& config_dir() const { return config_dir_; }

 private:
  std::string config_dir_;
  CredentialHelperRunner& runner_;
};

}  // namespace kiln::registry
