#pragma once

// What a verb needs from the outside world, opened once per command: the
// store at --root, the image layer over it, and the registry client.

#include <memory>

#include "base/error.h"
#include "cli/commands.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "registry/http.h"
#include "store/store.h"
#include "worker/image_store.h"

namespace kiln::cli {

struct Env {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<worker::ImageStore> images;
  std::unique_ptr<registry::HttpClient> http;
  std::unique_ptr<registry::CredentialHelperRunner> helpers;
  std::unique_ptr<registry::CredentialStore> creds;
  std::unique_ptr<registry::Client> registry;
};

// Opens the store and the registry client. Insecure (plain HTTP)
// registries come from --insecure-registry and $KILN_INSECURE_REGISTRIES
// (comma-separated); localhost and 127.0.0.1 always are.
Result<std::unique_ptr<Env>> OpenEnv(const GlobalOptions& global);

}  // namespace kiln::cli
