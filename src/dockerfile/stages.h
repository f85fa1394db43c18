#pragma once

// The stage graph: which stages a target needs, in dependency order.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "dockerfile/ast.h"
#include "dockerfile/expand.h"

namespace kiln::dockerfile {

// One edge out of a stage.
struct StageDep {
  enum class Kind { kStage, kImage };
  Kind kind = Kind::kStage;
  int stage = -1;     // for kStage
  std::string image;  // for kImage: an image reference ("alpine", "scratch")
  SourceLoc loc;      // the FROM / COPY --from / --mount from= that made it
};

struct StageInfo {
  StageDep base;                // what FROM resolved to (expanded)
  std::vector<StageDep> deps;   // COPY --from / RUN --mount from= (expanded)
};

// Finds a stage by name (case-insensitive) or decimal index. nullopt if none.
std::optional<int> FindStage(const Dockerfile& df, std::string_view name_or_index);

// Resolves FROM (expanded with the global scope) and every COPY --from and
// RUN --mount from= of every stage (as written: they cannot hold variables).
// kSyntax at the offending line for a bad reference such as a forward stage
// index.
[[nodiscard]] Result<std::vector<StageInfo>> ResolveStages(const Dockerfile& df,
                                                           const EvalOptions& opts);

// The stages needed to build `target` ("" = last stage), each after the
// stages it depends on, `target` last. kNotFound for an unknown target with
// a "did you mean" suggestion; kInvalid for a cycle
// ("circular dependency detected on stage: a").
[[nodiscard]] Result<std::vector<int>> StagesForTarget(const Dockerfile& df,
                                                       const std::vector<StageInfo>& info,
                                                       std::string_view target);

}  // namespace kiln::dockerfile
