#pragma once

// BuildKit's build checks (`docker build --check`), reported as
// Warning{name, message, loc} with BuildKit's names and wording.

#include <functional>
#include <string>
#include <vector>

#include "base/diagnostics.h"
#include "base/error.h"
#include "dockerfile/ast.h"
#include "dockerfile/expand.h"

namespace kiln::dockerfile {

class Matcher;

struct CheckOptions {
  EvalOptions eval;
  // The .dockerignore matcher of the context, for CopyIgnoredFile; may be null.
  const Matcher* ignore = nullptr;
  // Env of a base image, for UndefinedVar; when unset, UndefinedVar only
  // runs for stages whose base chain ends in `scratch`.
  std::function<std::optional<std::vector<std::string>>(const std::string& image)> image_env;
};

struct CheckResult {
  int warnings = 0;  // reported (not skipped) warnings
  // True when the Dockerfile says `# check=error=true` and warnings > 0: the
  // build must fail.
  bool fail = false;
};

// Runs every check not skipped by the `check` directive and reports each
// finding to `diags`. Never fails on findings; kInvalid only if the
// Dockerfile cannot be evaluated at all.
[[nodiscard]] Result<CheckResult> RunChecks(const Dockerfile& df, const CheckOptions& opts,
                                            Diagnostics& diags);

// Every check name, in BuildKit's order.
const std::vector<std::string>& CheckNames();

}  // namespace kiln::dockerfile
