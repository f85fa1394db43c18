// libFuzzer target: parse, expand every stage, resolve the stage graph and
// run the checks. Invariants: no crash, errors carry a location inside the
// input, and parsing is deterministic.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/diagnostics.h"
#include "dockerfile/checks.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/expand.h"
#include "dockerfile/parser.h"
#include "dockerfile/stages.h"

using namespace kiln;
using namespace kiln::dockerfile;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto df = Parse(text, "Dockerfile");
  if (!df) {
    const auto& loc = df.error().loc();
    if (loc && loc->line < 0) std::abort();
    (void)df.error().Render();
    // The same bytes as an ignore file.
    auto m = Matcher::Parse(text);
    if (m) {
      (void)m->Matches("a/b/c.txt");
      (void)m->CanSkipDir("a");
    }
    return 0;
  }
  EvalOptions opts;
  opts.build_args = {{"A", "x y"}, {"HTTP_PROXY", "p"}};
  auto global = GlobalScope(*df, opts);
  if (global) {
    for (const Stage& st : df->stages) {
      (void)Expand(st.from, *global);
      StageEvaluator ev(*global, opts, Scope{});
      for (const Instruction& in : st.instructions) {
        if (in.loc.line < 1 || in.end_line < in.loc.line) std::abort();
        (void)ev.Step(in);
      }
      (void)ev.RunEnv();
    }
  }
  auto info = ResolveStages(*df, opts);
  if (info) {
    (void)StagesForTarget(*df, *info, "");
    if (!df->stages.empty() && !df->stages[0].name.empty()) (void)StagesForTarget(*df, *info, df->stages[0].name);
  }
  CollectingDiagnostics diags;
  CheckOptions copts;
  copts.eval = opts;
  (void)RunChecks(*df, copts, diags);
  return 0;
}
