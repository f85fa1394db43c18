// Helpers for `kiln compose build` about build secrets.

#include <fmt/format.h>

#include "base/strings.h"
#include "compose/project.h"

namespace kiln::compose {

int CheckBuildSecrets(const Service& service, const std::set<std::string>& mounted_ids,
                      Diagnostics& diag) {
  int count = 0;
  for (const auto& id : mounted_ids) {
    bool in_build = false;
    if (service.build) {
      for (const auto& r : service.build->secrets)
        if (r.target == id) in_build = true;
    }
    if (in_build) continue;
    for (const auto& r : service.secrets) {
      if (r.source != id && r.target != id) continue;
      diag.Warn(Warning{
          "ComposeSecretNotInBuild",
          fmt::format("service {}: secret {} is listed under services.{}.secrets (runtime) but the "
                      "Dockerfile mounts it at build time; add it under services.{}.build.secrets",
                      Quote(service.name), Quote(id), service.name, service.name),
          r.loc});
      ++count;
      break;
    }
  }
  return count;
}

Result<std::string> EnvironmentSecretValue(const Project& project, const SecretDef& secret) {
  if (secret.environment.empty())
    return Fail(Error::Invalid(fmt::format("secret {} does not come from an environment variable", Quote(secret.name))));
  auto it = project.environment.find(secret.environment);
  if (it == project.environment.end()) {
    Error e = Error::NotFound(fmt::format(
        "secrets.{}: environment variable {} is not set (neither in the environment nor in the .env file)",
        secret.name, Quote(secret.environment)));
    if (secret.loc.known()) e.At(secret.loc);
    return Fail(std::move(e));
  }
  return it->second;
}

}  // namespace kiln::compose
