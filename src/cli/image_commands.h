#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"

namespace kiln::cli {

// images, tag, rmi, inspect, history, load, save, import, pull, push,
// login, logout, prune, system.
std::vector<Command> ImageCommands();

// Reads stdin to its end (binary safe).
Result<std::string> ReadAllStdinBytes();

}  // namespace kiln::cli
