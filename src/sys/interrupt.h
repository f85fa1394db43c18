#pragma once

// A process-wide interrupt flag for SIGINT/SIGTERM. The build polls
// Interrupted() between steps, and blocking waits in sys/ (Process::Wait)
// also watch InterruptFd() so a signal wakes them at once.

namespace kiln::sys {

// Installs handlers for SIGINT and SIGTERM that set the interrupt flag and
// make InterruptFd() readable. Idempotent; call once early from cli/.
// The handlers are async-signal-safe (an atomic store and an eventfd write).
void InstallInterruptHandler();

// Sets the flag as if a signal had arrived (for tests and for a UI that wants
// to cancel a build). Thread-safe and async-signal-safe.
void Interrupt();

// True once a signal arrived or Interrupt() ran, until ResetInterrupt().
// Thread-safe.
bool Interrupted();

// Clears the flag and drains InterruptFd(). For tests and for a long-lived
// process that handles one interrupt and continues. Thread-safe.
void ResetInterrupt();

// An fd (eventfd, CLOEXEC) that stays readable while Interrupted() is true;
// poll(2) it for POLLIN. Waiters never read from it, so every concurrent
// waiter wakes. Valid for the life of the process; never close it.
int InterruptFd();

// The signal that caused the interrupt (SIGINT, SIGTERM), or 0 when none
// arrived or it came from Interrupt(). cli/ uses it for the exit status.
int InterruptSignal();

}  // namespace kiln::sys
