#include "cli/commands.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "base/fs.h"
#include "cli/audit_command.h"
#include "cli/build_command.h"
#include "cli/compose_command.h"
#include "cli/image_commands.h"

namespace kiln::cli {

std::string StoreRoot(const GlobalOptions& global) {
  std::string root = "/var/lib/kiln";
  if (!global.root.empty()) {
    root = global.root;
  } else if (const char* env = std::getenv("KILN_ROOT"); env && *env) {
    root = env;
  }
  // Made absolute once: overlayfs and runc want absolute upper and work
  // dirs, and no path kiln derives from the root may depend on the cwd.
  if (!root.starts_with('/')) {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd)) root = JoinPath(cwd, root);
  }
  return CleanPath(root);
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
