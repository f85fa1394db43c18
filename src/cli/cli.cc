#include "cli/cli.h"

#include <cstdio>
#include <string_view>

#include "base/error.h"
#include "base/strings.h"
#include "cli/commands.h"

namespace kiln::cli {

namespace {

int ExitStatus(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kUsage: return 2;
    case ErrorCode::kInterrupted: return 130;
    default: return 1;
  }
}

void PrintUsage() {
  std::string out = "Usage: kiln [--root DIR] [--insecure-registry HOST] COMMAND [OPTIONS]\n\nA daemonless container image builder.\n\nCommands:\n";
  for (const auto& c : Commands()) out += fmt::format("  {:<10} {}\n", c.name, c.summary);
  out += "\nRun 'kiln COMMAND --help' for more information on a command.\n";
  std::fputs(out.c_str(), stdout);
}

}  // namespace

int Main(const std::vector<std::string>& args) {
  GlobalOptions global;
  size_t i = 0;
  // Global flags come before the verb, as with docker.
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--root" && i + 1 < args.size()) {
      global.root = args[++i];
    } else if (a.starts_with("--root=")) {
      global.root = std::string(a.substr(7));
    } else if (a == "--insecure-registry" && i + 1 < args.size()) {
      global.insecure_registries.push_back(args[++i]);
    } else if (a.starts_with("--insecure-registry=")) {
      global.insecure_registries.push_back(std::string(a.substr(20)));
    } else if (a == "--debug" || a == "-D") {
      global.debug = true;
    } else {
      break;
    }
  }
  if (i >= args.size() || args[i] == "--help" || args[i] == "-h" || args[i] == "help") {
    PrintUsage();
    return i >= args.size() ? 2 : 0;
  }
  if (args[i] == "--version" || args[i] == "version") {
    std::puts("kiln version 0.1.0");
    return 0;
  }
  const std::string& verb = args[i];
  std::vector<std::string> rest(args.begin() + i + 1, args.end());
  for (const auto& c : Commands()) {
    if (c.name != verb) continue;
    Result<void> r = c.run(global, rest);
    if (r) return 0;
    std::string text = "error: " + r.error().Render();
    // An error without a message is a kiln bug; still say what kind it was.
    if (r.error().message().empty())
      text = fmt::format("error: {} error (no message){}", ErrorCodeName(r.error().code()),
                         r.error().Render());
    std::fputs(text.c_str(), stderr);
    return ExitStatus(r.error());
  }
  std::vector<std::string> names;
  for (const auto& c : Commands()) names.push_back(c.name);
  std::string near = Spellcheck(verb, names);
  std::fprintf(stderr, "error: unknown command \"%s\"%s\nhint: run 'kiln --help' for the list of commands\n",
               verb.c_str(), near.empty() ? "" : fmt::format(" (did you mean \"{}\"?)", near).c_str());
  return 2;
}

}  // namespace kiln::cli
