#pragma once

// Warnings travel to a Diagnostics sink (ninja's Status, leveldb's
// Reporter); nothing below cli/ writes to stderr itself.

#include <mutex>
#include <string>
#include <vector>

#include "base/error.h"

namespace kiln {

struct Warning {
  // A stable name for machine use, e.g. a build check name
  // ("JSONArgsRecommended") or "SecretTooShortToMask".
  std::string name;
  std::string message;
  SourceLoc loc;
};

// Receives warnings. Implementations must be thread-safe: the solver reports
// from several worker threads.
class Diagnostics {
 public:
  virtual ~Diagnostics() = default;
  virtual void Warn(Warning w) = 0;
};

// Keeps every warning; for tests and for commands that print at the end.
class CollectingDiagnostics : public Diagnostics {
 public:
  void Warn(Warning w) override {
    std::lock_guard<std::mutex> lock(mu_);
    warnings_.push_back(std::move(w));
  }
  std::vector<Warning> warnings() const {
    std::lock_guard<std::mutex> lock(mu_);
    return warnings_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Warning> warnings_;  // GUARDED_BY(mu_)
};

}  // namespace kiln
