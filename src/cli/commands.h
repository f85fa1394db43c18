#pragma once

// The command table (crun's commands[], ninja's kTools[]). Each verb lives in
// its own file and is a thin layer over the library.

#include <functional>
#include <string>
#include <vector>

#include "base/error.h"

namespace kiln::cli {

// Flags that come before the verb.
struct GlobalOptions {
  // Store root: --root, else $KILN_ROOT, else /var/lib/kiln.
  std::string root;
  bool debug = false;
  // --insecure-registry HOST[:PORT], repeatable.
  std::vector<std::string> insecure_registries;
};

struct Command {
  std::string name;
  std::string summary;
  std::function<Result<void>(const GlobalOptions&, const std::vector<std::string>&)> run;
};

const std::vector<Command>& Commands();

// --root, then $KILN_ROOT, then /var/lib/kiln.
std::string StoreRoot(const GlobalOptions& global);

}  // namespace kiln::cli
