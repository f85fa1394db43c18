#include "cli/commands.h"

#include <cstdlib>

namespace kiln::cli {

std::string StoreRoot(const GlobalOptions& global) {
  if (!global.root.empty()) return global.root;
  if (const char* env = std::getenv("KILN_ROOT"); env && *env) return env;
  return "/var/lib/kiln";
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = {};
  return commands;
}

}  // namespace kiln::cli
