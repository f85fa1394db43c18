#include "sys/interrupt.h"

#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <mutex>

namespace kiln::sys {
namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};
std::atomic<int> g_event_fd{-1};
std::once_flag g_fd_once;

int EventFd() {
  std::call_once(g_fd_once, [] {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    // Without the wake fd nothing can be interrupted reliably; this only
    // fails when the process is out of fds at start-up.
    if (fd < 0) std::abort();
    g_event_fd.store(fd);
  });
  return g_event_fd.load();
}

void Raise() {
  g_interrupted.store(true);
  uint64_t one = 1;
  // Non-blocking: if the counter is somehow saturated it is readable anyway.
  ssize_t n = write(g_event_fd.load(), &one, sizeof one);
  (void)n;
}

void OnSignal(int sig) {
  int saved = errno;
  g_signal.store(sig);
  Raise();
  errno = saved;
}

}  // namespace

void InstallInterruptHandler() {
  EventFd();
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

void Interrupt() {
  EventFd();
  Raise();
}

bool Interrupted() { return g_interrupted.load(); }

void ResetInterrupt() {
  int fd = EventFd();
  g_interrupted.store(false);
  g_signal.store(0);
  uint64_t value;
  while (read(fd, &value, sizeof value) > 0) {
  }
}

int InterruptFd() { return EventFd(); }

int InterruptSignal() { return g_signal.load(); }

}  // namespace kiln::sys
