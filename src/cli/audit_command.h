#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "cli/commands.h"

namespace kiln::cli {

// kiln audit IMAGE|ARCHIVE [--secret SPEC]...
Result<void> RunAudit(const GlobalOptions& global, const std::vector<std::string>& argv);

}  // namespace kiln::cli
