#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"

namespace kiln::cli {

// kiln compose [global compose flags] build|config ...
Result<void> RunCompose(const GlobalOptions& global, const std::vector<std::string>& argv);

}  // namespace kiln::cli
