#pragma once

// `kiln audit`: looks through a built image for secrets that escaped —
// provided secret values in any layer, the config or annotations (in every
// encoding the leak guard knows), ENV/ARG names that look like secrets, and
// build args recorded in history. Also the --build-arg hygiene check run
// before a build. See docs/secrets.md.

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/diagnostics.h"
#include "base/error.h"
#include "secrets/scanner.h"
#include "secrets/source.h"

namespace kiln::secrets {

// BuildKit's SecretsUsedInArgOrEnv rule: the name, split on '_', has a
// token (case-insensitive) among apikey, auth, credential, credentials, key,
// password, pword, passwd, secret, token, and none equal to "public".
bool LooksSecretName(std::string_view name);

// BuildKit prefixes RUN's created_by with the build args the step saw:
// "|2 A=b B=c /bin/sh -c make". Returns the (name, value) pairs, or an empty
// vector when there is no such prefix.
std::vector<std::pair<std::string, std::string>> HistoryBuildArgs(std::string_view created_by);

enum class AuditKind {
  kSecretValue,     // a provided secret's bytes (some encoding)
  kSecretNamedEnv,  // ENV whose name looks secret
  kSecretNamedArg,  // ARG / recorded build arg whose name looks secret
};

struct AuditFinding {
  AuditKind kind = AuditKind::kSecretValue;
  std::string secret_id;  // kSecretValue
  std::string name;       // kSecretNamed*: the variable name
  std::string layer;      // layer digest, "" when not in a layer
  std::string location;   // path in the layer, or "config", "history[3]", "annotation k"
  Encoding encoding = Encoding::kRaw;
  FoundIn found_in = FoundIn::kContent;

  friend bool operator==(const AuditFinding&, const AuditFinding&) = default;
};

// One line for users, e.g.
//   layer sha256:ab…: secret "npm" found (base64) in content of app/.npmrc
//   history[2]: build arg API_TOKEN looks like a secret and is recorded in the image
std::string DescribeAuditFinding(const AuditFinding& f);

struct AuditLayer {
  std::string digest;  // of the (compressed) layer blob, as in the manifest
  // Opens the layer's decompressed tar stream. Called once.
  std::function<Result<ReadFn>()> open;
};

struct AuditInput {
  std::vector<AuditLayer> layers;
  std::string config_json;                        // the image config blob
  std::map<std::string, std::string> annotations;  // manifest annotations
};

// Runs every check. `scanner` carries the provided secrets (may be empty).
// Errors: kInvalid for a config that is not JSON; layer read errors wrapped
// with "auditing layer <digest>".
Result<std::vector<AuditFinding>> AuditImage(const AuditInput& input, const LeakScanner& scanner);

// --build-arg hygiene, before a build: warns (through `diag`)
// "BuildArgLooksSecret" when a name looks secret and "BuildArgIsSecret" when a
// value equals a provided secret's value. Values are never shown.
void CheckBuildArgs(const std::vector<std::pair<std::string, std::string>>& build_args,
                    const SecretStore& store, Diagnostics& diag);

}  // namespace kiln::secrets
