// Parses and checks a generated 10,000-line Dockerfile and prints the time.
// Build: cmake --build B --target kiln_bench_dockerfile; run B/bench/dockerfile/kiln_bench_dockerfile.

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include <fmt/format.h>

#include "base/diagnostics.h"
#include "dockerfile/checks.h"
#include "dockerfile/parser.h"

namespace {

double CpuMs() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

std::string Generate(int lines) {
  std::string out = "# syntax=docker/dockerfile:1\nARG BASE=alpine:3.19\n";
  int n = 2;
  int stage = 0;
  out.reserve(lines * 48);
  while (n < lines) {
    out += fmt::format("FROM ${{BASE}} AS s{}\n", stage);
    out += "ARG VERSION=1.2.3\nENV APP_HOME=/app PATH=/app/bin:$PATH\nWORKDIR $APP_HOME\n";
    out += "RUN --mount=type=cache,target=/root/.cache \\\n    apk add --no-cache curl && \\\n    echo ${VERSION%.*}\n";
    out += fmt::format("COPY --chown=1000:1000 --chmod=644 src/{} /app/src/\n", stage);
    if (stage > 0) out += fmt::format("COPY --from=s{} /app /prev\n", stage - 1);
    out += "LABEL org.opencontainers.image.version=$VERSION\nEXPOSE 8080/tcp\n";
    out += "HEALTHCHECK --interval=30s CMD [\"curl\", \"-f\", \"http://localhost/\"]\n";
    out += "CMD [\"/app/bin/server\"]\n";
    n += 13;  // physical lines per stage, continuation lines included
    ++stage;
  }
  return out;
}

}  // namespace

int main() {
  std::string text = Generate(10000);
  int lines = 0;
  for (char c : text) lines += c == '\n';
  double best = 1e9, best_parse = 1e9, best_cpu = 1e9, best_parse_cpu = 1e9;
  size_t warnings = 0;
  for (int round = 0; round < 10; ++round) {
    auto start = std::chrono::steady_clock::now();
    double cpu_start = CpuMs();
    auto df = kiln::dockerfile::Parse(text, "Dockerfile");
    if (!df) {
      std::fprintf(stderr, "%s", df.error().Render().c_str());
      return 1;
    }
    best_parse_cpu = std::min(best_parse_cpu, CpuMs() - cpu_start);
    best_parse = std::min(
        best_parse, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    kiln::CollectingDiagnostics diags;
    auto r = kiln::dockerfile::RunChecks(*df, {}, diags);
    if (!r) {
      std::fprintf(stderr, "%s", r.error().Render().c_str());
      return 1;
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, ms);
    best_cpu = std::min(best_cpu, CpuMs() - cpu_start);
    warnings = diags.warnings().size();
  }
  std::printf("%d lines: parse %.2f ms wall / %.2f ms CPU, parse+check %.2f ms wall / %.2f ms CPU "
              "(best of 10; %zu warnings)\n",
              lines, best_parse, best_parse_cpu, best, best_cpu, warnings);
  return 0;
}
