// Loads a generated 200-service compose project (two files, .env,
// interpolation, anchors and merge keys, extends, secrets, profiles) and
// reports how long LoadProject + RenderConfig take. Target: < 50 ms.
//
//   cmake --build B --target kiln_bench_compose && B/bench/compose/kiln_bench_compose [services] [runs]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "base/diagnostics.h"
#include "base/fs.h"
#include "compose/node.h"
#include "compose/project.h"

namespace {

std::string BaseFile(int services) {
  std::string out = R"(name: bench
x-build: &build
  context: .
  dockerfile: Dockerfile
  args:
    BASE_IMAGE: ${BASE_IMAGE:-debian:12}
    VERSION: ${VERSION}
x-env: &env
  LOG_LEVEL: ${LOG_LEVEL:-info}
  REGION: ${REGION:?region is required}
services:
  common:
    image: ${REGISTRY}/common:${VERSION}
    environment:
      <<: *env
    labels:
      - tier=common
)";
  for (int i = 0; i < services; ++i) {
    out += fmt::format(R"(  svc{0}:
    extends: common
    build:
      <<: *build
      target: stage{1}
      secrets:
        - npm_token
        - source: pip_conf
          target: pip.conf
      cache_from:
        - type=local,src=/cache/svc{0}
    image: ${{REGISTRY}}/svc{0}:${{VERSION}}
    environment:
      - INDEX={0}
      - PEER=svc{2}
    depends_on: [svc{2}]
    ports:
      - "{3}:80"
    volumes:
      - ./data/svc{0}:/data
    x-meta: {{owner: team{1}}}
)",
                       i, i % 7, i == 0 ? 1 : i - 1, 10000 + i);
    if (i % 10 == 0) out += "    profiles: [extra]\n";
  }
  out += R"(secrets:
  npm_token:
    file: ./secrets/npm_token
  pip_conf:
    environment: PIP_CONF
)";
  return out;
}

std::string OverrideFile(int services) {
  std::string out = "services:\n";
  for (int i = 0; i < services; i += 2) {
    out += fmt::format(R"(  svc{0}:
    build:
      args:
        EXTRA: "{0}"
    environment:
      OVERRIDE: "yes"
    volumes:
      - ./override/svc{0}:/data
)",
                       i);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int services = argc > 1 ? std::atoi(argv[1]) : 200;
  int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  auto dir = kiln::TempDir::Create("bench-compose");
  if (!dir) return 1;
  const std::string& d = dir->path();
  if (!kiln::WriteFile(d + "/compose.yaml", BaseFile(services)) ||
      !kiln::WriteFile(d + "/compose.override.yaml", OverrideFile(services)) ||
      !kiln::WriteFile(d + "/.env", "REGISTRY=registry.local\nVERSION=1.0\nREGION=eu\n")) {
    std::fprintf(stderr, "cannot write the project\n");
    return 1;
  }
  kiln::compose::LoadOptions options;
  options.working_dir = d;
  options.files = {"compose.yaml", "compose.override.yaml"};
  options.profiles = {"extra"};
  options.environment = {{"PIP_CONF", "[global]"}};

  std::vector<double> ms;
  size_t bytes = 0;
  for (int r = 0; r < runs; ++r) {
    kiln::CollectingDiagnostics diag;
    auto start = std::chrono::steady_clock::now();
    auto project = kiln::compose::LoadProject(options, diag);
    if (!project) {
      std::fprintf(stderr, "%s", project.error().Render().c_str());
      return 1;
    }
    std::string config = kiln::compose::RenderConfig(*project);
    auto end = std::chrono::steady_clock::now();
    bytes = config.size();
    if (project->services.size() != static_cast<size_t>(services) + 1) {
      std::fprintf(stderr, "expected %d services, got %zu\n", services + 1, project->services.size());
      return 1;
    }
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  // The share of the YAML parser (yaml-cpp + conversion to Node).
  std::vector<double> parse_ms;
  std::string base = BaseFile(services), over = OverrideFile(services);
  for (int r = 0; r < runs; ++r) {
    auto start = std::chrono::steady_clock::now();
    auto a = kiln::compose::ParseYaml("compose.yaml", base);
    auto b = kiln::compose::ParseYaml("compose.override.yaml", over);
    auto end = std::chrono::steady_clock::now();
    if (!a || !b) return 1;
    parse_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(parse_ms.begin(), parse_ms.end());
  std::sort(ms.begin(), ms.end());
  std::printf("compose: %d services, load+merge+validate+render: min %.1f ms, median %.1f ms, max %.1f ms "
              "(%zu bytes of config, %d runs)\n",
              services, ms.front(), ms[ms.size() / 2], ms.back(), bytes, runs);
  std::printf("  of which YAML parsing (%zu + %zu bytes): min %.1f ms, median %.1f ms\n", base.size(),
              over.size(), parse_ms.front(), parse_ms[parse_ms.size() / 2]);
  return 0;
}
