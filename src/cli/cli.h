#pragma once

// The kiln command line: a table of thin verbs over the library. This is
// the only place that prints errors or chooses an exit status.

#include <string>
#include <vector>

namespace kiln::cli {

// Runs kiln with `args` (argv without the program name) and returns the exit
// status: 0 ok, 1 failure, 2 usage error, 130 interrupted.
int Main(const std::vector<std::string>& args);

}  // namespace kiln::cli
