#include "cli/env.h"

#include <cstdlib>

#include "base/strings.h"

namespace kiln::cli {

Result<std::unique_ptr<Env>> OpenEnv(const GlobalOptions& global) {
  auto env = std::make_unique<Env>();
  std::string root = StoreRoot(global);
  auto st = store::Store::Open(root);
  if (!st) return Fail(std::move(st).error().Wrap("opening the store at {}", root));
  env->store = std::move(*st);
  env->images = std::make_unique<worker::ImageStore>(*env->store);
  env->http = registry::NewCurlHttpClient();
  env->helpers = registry::NewExecCredentialHelperRunner();
  env->creds = std::make_unique<registry::CredentialStore>(registry::CredentialStore::DefaultConfigDir(), *env->helpers);
  registry::ClientOptions options;
  options.endpoints.insecure_registries = global.insecure_registries;
  if (const char* e = std::getenv("KILN_INSECURE_REGISTRIES"); e && *e)
    for (const auto& r : Split(e, ',')) options.endpoints.insecure_registries.push_back(std::string(TrimSpace(r)));
  env->registry = std::make_unique<registry::Client>(*env->http, *env->creds, options);
  return env;
}

}  // namespace kiln::cli
