#pragma once

// A ProcessRunner for tests: records every command and answers with
// scripted results, like ninja's FakeCommandRunner. Thread-safe.

#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "base/strings.h"
#include "sys/process.h"

namespace kiln::sys {

class FakeProcessRunner : public ProcessRunner {
 public:
  // A scripted answer: output is delivered as one chunk per stream.
  struct Response {
    ExitStatus status;
    std::string out;
    std::string err;
  };

  // Queues the answer for the next command whose argv joined by ' ' starts
  // with `prefix`. Unmatched commands succeed with no output.
  void Expect(std::string prefix, Response response) {
    std::lock_guard lock(mu_);
    script_.push_back({std::move(prefix), std::move(response)});
  }
  // Every argv, joined by ' ', in start order.
  std::vector<std::string> commands_ran() const {
    std::lock_guard lock(mu_);
    return commands_ran_;
  }

  Result<std::unique_ptr<Process>> Start(const ProcessSpec& spec) override {
    if (spec.argv.empty()) return Fail(Error::Invalid("cannot start a process with an empty argv"));
    std::lock_guard lock(mu_);
    std::string cmd = Join(spec.argv, " ");
    commands_ran_.push_back(cmd);
    Response response;
    for (auto it = script_.begin(); it != script_.end(); ++it) {
      if (StartsWith(cmd, it->first)) {
        response = std::move(it->second);
        script_.erase(it);
        break;
      }
    }
    return std::unique_ptr<Process>(new FakeProcess(std::move(response)));
  }

 private:
  class FakeProcess : public Process {
   public:
    explicit FakeProcess(Response r) : r_(std::move(r)) {}
    pid_t pid() const override { return 1; }
    void Kill(int) override {}
    Result<ExitStatus> Wait(const OutputFn& on_output, WaitMode) override {
      if (on_output && !r_.out.empty()) on_output(r_.out, 1);
      if (on_output && !r_.err.empty()) on_output(r_.err, 2);
      r_.out.clear();
      r_.err.clear();
      return r_.status;
    }

   private:
    Response r_;
  };

  mutable std::mutex mu_;
  std::deque<std::pair<std::string, Response>> script_;
  std::vector<std::string> commands_ran_;
};

}  // namespace kiln::sys
