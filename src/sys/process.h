#pragma once

// Spawning child processes: the one place kiln starts programs (runc, and
// helpers in tests). Children get exactly fds 0, 1 and 2 — stdin from
// /dev/null or a pipe fed by the parent, stdout and stderr as pipes read live
// by the parent — so no kiln
// fd ever leaks into a child (runc CVE-2024-21626 class). Children run in
// their own process group with default signal dispositions and an empty
// signal mask, so a terminal's Ctrl-C reaches kiln only and kiln decides how
// to stop them.

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln::sys {

struct ProcessSpec {
  // argv[0] is run as given if it contains '/', else looked up in PATH.
  std::vector<std::string> argv;
  // The child's whole environment; nullopt inherits kiln's.
  std::optional<std::vector<std::string>> env = std::nullopt;
  // Working directory; empty keeps kiln's.
  std::string cwd = {};
  // Bytes for the child's stdin, which is closed after them; empty gives
  // /dev/null (the same EOF). Wait() writes them while it reads output, so
  // a child that writes before it has read everything cannot deadlock; a
  // child that exits without reading them is not an error. The copy the
  // Process keeps is zeroed once written, as it may be a credential.
  std::string input = {};
};

// How a process ended. `signal` is 0 for a normal exit; for a child killed
// by a signal it is the signal and `exit_code` is 128 + signal (as shells
// report it).
struct ExitStatus {
  int exit_code = 0;
  int signal = 0;

  bool success() const { return signal == 0 && exit_code == 0; }
  bool operator==(const ExitStatus&) const = default;
};

// Receives output as it arrives: `stream` is 1 for stdout, 2 for stderr.
// Called on the thread that calls Wait().
using OutputFn = std::function<void(std::string_view chunk, int stream)>;

enum class WaitMode {
  // Wait() returns kInterrupted as soon as sys::Interrupted() is true, with
  // the process still running; the caller stops it and calls Wait() again.
  kInterruptible,
  // Wait() ignores interrupts (used for cleanup commands).
  kUninterruptible,
};

// A started child. Destroying a Process that was not waited for sends it
// SIGKILL and reaps it, so no zombie or orphan outlives its owner.
// Not thread-safe: one thread owns and waits for it.
class Process {
 public:
  virtual ~Process() = default;
  virtual pid_t pid() const = 0;
  // Feeds ProcessSpec::input and pumps stdout/stderr into `on_output` (may
  // be empty: output is dropped) until both close and the child exits. Errors: kInterrupted (see
  // WaitMode), kIo when polling or waitpid fails.
  [[nodiscard]] virtual Result<ExitStatus> Wait(const OutputFn& on_output,
                                                WaitMode mode = WaitMode::kUninterruptible) = 0;
  // Sends `sig` to the child's process group. No-op once reaped.
  virtual void Kill(int sig) = 0;
};

// The captured result of a process run to completion.
struct ProcessOutput {
  ExitStatus status;
  std::string out;
  std::string err;
};

// Starts processes. Implementations are thread-safe: the solver runs steps
// in parallel.
class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;
  // Starts `spec`. Errors: kNotFound when argv[0] cannot be found or
  // executed (the message names it), kInvalid for an empty argv, kIo when
  // pipes or spawning fail.
  [[nodiscard]] virtual Result<std::unique_ptr<Process>> Start(const ProcessSpec& spec) = 0;

  // Start + Wait(kUninterruptible), collecting output. A non-zero exit is
  // not an error here; callers inspect `status`.
  [[nodiscard]] Result<ProcessOutput> Run(const ProcessSpec& spec);
};

// The real runner (posix_spawn with closefrom(3), own process group).
// Stateless; one instance can be shared by all threads.
std::unique_ptr<ProcessRunner> NewRealProcessRunner();

// Returns once every process that a real ProcessRunner of this process was
// starting when it was called has exec'd (or failed to). Until its exec, such
// a child holds a copy of each of kiln's open fds, O_CLOEXEC or not, so a
// mount whose last fd another thread has just closed can still be busy.
// sys::Unmount calls this before unmounting. Thread-safe.
void WaitForSpawns();

// Finds `name` in $PATH (or the given `path` list, ':'-separated) as an
// executable regular file and returns its absolute path, or kNotFound
// "<name> not found in PATH".
[[nodiscard]] Result<std::string> LookPath(std::string_view name,
                                           std::optional<std::string_view> path = std::nullopt);

// "exit status 3" / "killed by signal 9 (Killed)", for messages.
std::string DescribeExit(const ExitStatus& status);

}  // namespace kiln::sys
