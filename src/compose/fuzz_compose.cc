// libFuzzer target for the compose loader: YAML, merge keys, interpolation,
// .env parsing, merging, extends/include and rendering.
//
// Input: "<compose.yaml>\n#####\n<.env>\n#####\n<compose.override.yaml>"
// (missing parts are empty). Invariant checked: whatever loads renders to
// YAML that parses again, and it has a build order.

#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "base/diagnostics.h"
#include "base/fs.h"
#include "compose/env.h"
#include "compose/node.h"
#include "compose/project.h"

namespace {

const std::string& FuzzDir() {
  static const std::string dir = [] {
    auto t = kiln::TempDir::Create("fuzz-compose");
    if (!t) std::abort();
    // Leaked on purpose: lives for the whole process.
    static kiln::TempDir keep(std::move(*t));
    return keep.path();
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Paths into /dev, /proc or /sys could make include/extends read forever.
  for (std::string_view bad : {"/dev", "/proc", "/sys", ".."})
    if (input.find(bad) != std::string_view::npos) return 0;

  std::string parts[3];
  size_t start = 0;
  for (int i = 0; i < 3; ++i) {
    size_t sep = input.find("\n#####\n", start);
    if (i == 2 || sep == std::string_view::npos) {
      parts[i] = std::string(input.substr(start));
      break;
    }
    parts[i] = std::string(input.substr(start, sep - start));
    start = sep + 7;
  }

  kiln::compose::Lookup lookup = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SET") return std::string("value");
    if (name == "EMPTY") return std::string();
    return std::nullopt;
  };
  (void)kiln::compose::ParseDotEnv(".env", parts[1], lookup);
  (void)kiln::compose::Interpolate(parts[0], lookup);

  const std::string& dir = FuzzDir();
  if (!kiln::WriteFile(dir + "/compose.yaml", parts[0])) return 0;
  if (!kiln::WriteFile(dir + "/.env", parts[1])) return 0;
  if (!kiln::WriteFile(dir + "/compose.override.yaml", parts[2])) return 0;

  kiln::compose::LoadOptions options;
  options.working_dir = dir;
  options.files = {"compose.yaml", "compose.override.yaml"};
  options.environment = {{"SET", "value"}, {"EMPTY", ""}};
  kiln::CollectingDiagnostics diag;
  auto project = kiln::compose::LoadProject(options, diag);
  if (!project) {
    (void)project.error().Render();
    return 0;
  }
  // Every loaded project has a build order (the loader rejected unknown
  // services and cycles) in which a service comes after the built services
  // its `service:` contexts read.
  auto order = kiln::compose::BuildOrder(*project, {}, kiln::compose::WithDependencies::kYes);
  if (!order) {
    fprintf(stderr, "no build order: %s\n", order.error().Summary().c_str());
    std::abort();
  }
  std::set<std::string> built;
  for (const auto* s : *order) {
    for (const auto& c : s->build->service_contexts) {
      const auto* read = project->FindService(c.service);
      if (!read) std::abort();
      if (read->build && !built.count(c.service)) {
        fprintf(stderr, "%s is built before %s, which it reads\n", s->name.c_str(), c.service.c_str());
        std::abort();
      }
    }
    built.insert(s->name);
  }
  std::string rendered = kiln::compose::RenderConfig(*project);
  auto reparsed = kiln::compose::ParseYaml("rendered.yaml", rendered);
  if (!reparsed) {
    fprintf(stderr, "rendered config does not parse: %s\n%s", reparsed.error().Summary().c_str(),
            rendered.c_str());
    std::abort();
  }
  return 0;
}
