#pragma once

// Renderers for solver progress events: --progress plain|tty|rawjson|quiet
// (auto picks tty when stderr is a terminal). They write to stderr, as
// docker build does, so stdout stays free for `-o -` and -q.

#include <cstdio>
#include <memory>
#include <string>

#include "base/error.h"
#include "solver/progress.h"

namespace kiln::cli {

enum class ProgressMode { kAuto, kTty, kPlain, kRawJson, kQuiet };

Result<ProgressMode> ParseProgressMode(const std::string& text);

// A thread-safe sink that renders to `out`. kAuto must be resolved first
// (ResolveProgressMode). Finish() prints any summary and stops redraws.
class ProgressRenderer : public solver::ProgressSink {
 public:
  virtual void Finish() = 0;
};

ProgressMode ResolveProgressMode(ProgressMode mode, FILE* out);
std::unique_ptr<ProgressRenderer> NewProgressRenderer(ProgressMode mode, FILE* out);

}  // namespace kiln::cli
