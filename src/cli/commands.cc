#include "cli/commands.h"

#include <cstdlib>

#include "cli/audit_command.h"
#include "cli/build_command.h"
#include "cli/compose_command.h"
#include "cli/image_commands.h"

namespace kiln::cli {

std::string StoreRoot(const GlobalOptions& global) {
  if (!global.root.empty()) return global.root;
  if (const char* env = std::getenv("KILN_ROOT"); env && *env) return env;
  return "/var/lib/kiln";
}

const std::vector<Command>& Commands() {
  static const std::vector<Command> commands = [] {
    std::vector<Command> c = {
        {"build", "Build an image from a Dockerfile", RunBuild},
        {"compose", "Build Compose projects (compose build, compose config)", RunCompose},
        {"audit", "Scan an image or archive for leaked secrets", RunAudit},
    };
    for (auto& ic : ImageCommands()) c.push_back(std::move(ic));
    return c;
  }();
  return commands;
}

}  // namespace kiln::cli
