#include "sys/interrupt.h"

#include <poll.h>
#include <signal.h>

#include <gtest/gtest.h>

namespace kiln::sys {
namespace {

bool Readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, 0) == 1;
}

TEST(InterruptTest, SignalSetsFlagAndWakesFd) {
  InstallInterruptHandler();
  ResetInterrupt();
  EXPECT_FALSE(Interrupted());
  EXPECT_FALSE(Readable(InterruptFd()));
  raise(SIGTERM);
  EXPECT_TRUE(Interrupted());
  EXPECT_EQ(InterruptSignal(), SIGTERM);
  // Stays readable for every waiter until reset.
  EXPECT_TRUE(Readable(InterruptFd()));
  EXPECT_TRUE(Readable(InterruptFd()));
  ResetInterrupt();
  EXPECT_FALSE(Interrupted());
  EXPECT_EQ(InterruptSignal(), 0);
  EXPECT_FALSE(Readable(InterruptFd()));
}

TEST(InterruptTest, ProgrammaticInterrupt) {
  ResetInterrupt();
  Interrupt();
  EXPECT_TRUE(Interrupted());
  EXPECT_EQ(InterruptSignal(), 0);
  EXPECT_TRUE(Readable(InterruptFd()));
  ResetInterrupt();
}

}  // namespace
}  // namespace kiln::sys
