#pragma once

// Turns the merged YAML tree into a Project; private to src/compose/.

#include <string>
#include <vector>

#include "base/diagnostics.h"
#include "compose/project.h"

namespace kiln::compose::internal {

// Validates `root` (key names, types, references) and fills the services,
// secrets, networks, volumes and configs of `project`, whose name,
// working_dir, environment and profiles must already be set. Applies
// profiles and the command-line selection `selected`.
Result<void> BuildModel(Node root, const std::vector<std::string>& selected, Project& project,
                        Diagnostics& diag);

// The platform kiln builds for, e.g. "linux/amd64".
std::string HostPlatform();

}  // namespace kiln::compose::internal
