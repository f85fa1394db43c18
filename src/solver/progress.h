#pragma once

// Progress events that the solver emits while building and that cli/
// renders (tty, plain, rawjson, quiet). Step output reaching a sink has
// already been through secret masking.

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

namespace kiln::solver {

struct ProgressEvent {
  enum class Kind {
    kStepStarted,  // `name` set
    kStepCached,   // the step's result came from the cache; no kStepDone follows
    kStepOutput,   // `data` is a chunk of the step's stdout (stream 1) or stderr (2)
    kStepDone,     // `seconds` set
    kStepFailed,   // `data` holds a one-line reason
    kLog,          // a build-level message (`data`), e.g. "writing image sha256:..."
  };
  ProgressEvent(Kind kind = Kind::kLog, int step = 0, std::string name = {}, std::string data = {}, int stream = 1,
                double seconds = 0, double elapsed = 0)
      : kind(kind), step(step), name(std::move(name)), data(std::move(data)), stream(stream), seconds(seconds),
        elapsed(elapsed) {}

  Kind kind = Kind::kLog;
  // Vertex number, stable for one build, starting at 1 (BuildKit's "#N").
  int step = 0;
  // "[app 2/5] RUN make", "[internal] load build definition from Dockerfile".
  std::string name;
  std::string data;
  int stream = 1;
  double seconds = 0;
  // Seconds since the build started, for the "#5 0.215 hi" timestamps.
  double elapsed = 0;
};

// Receives events from several solver threads at once: implementations
// must be thread-safe.
class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  virtual void Event(const ProgressEvent& e) = 0;
};

class NullProgress : public ProgressSink {
 public:
  void Event(const ProgressEvent&) override {}
};

}  // namespace kiln::solver
