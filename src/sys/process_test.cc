#include "sys/process.h"

#include <fcntl.h>
#include <signal.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "sys/interrupt.h"
#include "sys/testing/fake_process_runner.h"

namespace kiln::sys {
namespace {

TEST(ProcessTest, CapturesStdoutAndStderrSeparately) {
  auto runner = NewRealProcessRunner();
  auto out = runner->Run({{"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}});
  ASSERT_TRUE(out) << out.error().Render();
  EXPECT_EQ(out->out, "out\n");
  EXPECT_EQ(out->err, "err\n");
  EXPECT_EQ(out->status, (ExitStatus{3, 0}));
  EXPECT_EQ(DescribeExit(out->status), "exit status 3");
}

TEST(ProcessTest, EnvAndCwdAreApplied) {
  auto runner = NewRealProcessRunner();
  auto out = runner->Run({{"sh", "-c", "echo $FOO; pwd; env | wc -l"}, std::vector<std::string>{"FOO=bar", "PATH=/bin:/usr/bin"}, "/usr"});
  ASSERT_TRUE(out) << out.error().Render();
  EXPECT_EQ(out->out, "bar\n/usr\n3\n");
}

TEST(ProcessTest, ChildSeesOnlyStdio) {
  auto leak = OpenFile("/dev/null", O_RDONLY);  // CLOEXEC anyway
  int raw = ::open("/dev/null", O_RDONLY);      // deliberately not CLOEXEC
  ASSERT_GE(raw, 3);
  auto runner = NewRealProcessRunner();
  auto out = runner->Run({{"/bin/ls", "/proc/self/fd"}});
  ::close(raw);
  ASSERT_TRUE(out) << out.error().Render();
  // ls itself opens one fd for the directory it lists.
  EXPECT_EQ(out->out, "0\n1\n2\n3\n");
}

TEST(ProcessTest, InputIsFedOnStdinThenClosed) {
  auto runner = NewRealProcessRunner();
  ProcessSpec spec{{"/bin/sh", "-c", "read a; echo \"got $a\"; cat; echo end"}};
  spec.input = "first\nsecond\n";
  auto out = runner->Run(spec);
  ASSERT_TRUE(out) << out.error().Render();
  EXPECT_EQ(out->out, "got first\nsecond\nend\n");
  EXPECT_TRUE(out->status.success());
  // Without input, stdin is at EOF at once.
  auto none = runner->Run({{"/bin/cat"}});
  ASSERT_TRUE(none) << none.error().Render();
  EXPECT_EQ(none->out, "");
}

TEST(ProcessTest, LargeInputAndOutputDoNotDeadlock) {
  // 4 MiB each way: far past both pipe buffers, so the input has to be fed
  // while the output is read.
  std::string big;
  for (int i = 0; big.size() < (4u << 20); ++i) big += fmt::format("line {}\n", i);
  auto runner = NewRealProcessRunner();
  ProcessSpec spec{{"/bin/cat"}};
  spec.input = big;
  auto out = runner->Run(spec);
  ASSERT_TRUE(out) << out.error().Render();
  EXPECT_EQ(out->out.size(), big.size());
  EXPECT_TRUE(out->out == big);
}

TEST(ProcessTest, ChildThatIgnoresInputIsFine) {
  // The child exits without reading: writing the rest fails with EPIPE,
  // which must neither fail Run nor raise SIGPIPE in this process.
  auto runner = NewRealProcessRunner();
  ProcessSpec spec{{"/bin/sh", "-c", "exec 0<&-; echo done"}};
  spec.input = std::string(1 << 20, 'x');
  auto out = runner->Run(spec);
  ASSERT_TRUE(out) << out.error().Render();
  EXPECT_EQ(out->out, "done\n");
  EXPECT_EQ(out->status, (ExitStatus{0, 0}));
}

TEST(ProcessTest, ChildWithInputSeesOnlyStdio) {
  auto runner = NewRealProcessRunner();
  ProcessSpec spec{{"/bin/sh", "-c", "cat >/dev/null; ls /proc/self/fd"}};
  spec.input = "x";
  auto out = runner->Run(spec);
  ASSERT_TRUE(out) << out.error().Render();
  EXPECT_EQ(out->out, "0\n1\n2\n3\n");
}

TEST(ProcessTest, SignalledChildReportsSignal) {
  auto runner = NewRealProcessRunner();
  auto out = runner->Run({{"/bin/sh", "-c", "kill -9 $$"}});
  ASSERT_TRUE(out) << out.error().Render();
  EXPECT_EQ(out->status, (ExitStatus{137, 9}));
  EXPECT_EQ(DescribeExit(out->status), "killed by signal 9 (Killed)");
}

TEST(ProcessTest, MissingProgramIsNotFound) {
  auto runner = NewRealProcessRunner();
  auto out = runner->Run({{"no-such-program-kiln"}});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(out.error().message(), "no-such-program-kiln not found in PATH");

  auto abs = runner->Run({{"/nonexistent/prog"}});
  ASSERT_FALSE(abs);
  EXPECT_EQ(abs.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(abs.error().message(), "exec /nonexistent/prog: No such file or directory");

  auto empty = runner->Run({});
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().message(), "cannot start a process with an empty argv");
}

TEST(ProcessTest, LookPathSearchesGivenDirs) {
  auto found = LookPath("sh", "/nonexistent:/bin");
  ASSERT_TRUE(found);
  EXPECT_EQ(*found, "/bin/sh");
  auto missing = LookPath("sh", "/nonexistent");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "sh not found in PATH");
}

TEST(ProcessTest, OutputArrivesLive) {
  auto dir = TempDir::Create("kiln-live");
  ASSERT_TRUE(dir);
  std::string flag = JoinPath(dir->path(), "flag");
  auto runner = NewRealProcessRunner();
  // The child only continues once the parent has seen its first line.
  auto proc = runner->Start(
      {{"/bin/sh", "-c", "echo first; while [ ! -e \"$0\" ]; do sleep 0.01; done; echo second >&2", flag}});
  ASSERT_TRUE(proc);
  std::string seen;
  auto st = (*proc)->Wait([&](std::string_view c, int s) {
    seen += std::to_string(s) + ":" + std::string(c);
    if (c == "first\n") {
      ASSERT_TRUE(WriteFile(flag, ""));
    }
  });
  ASSERT_TRUE(st);
  EXPECT_EQ(seen, "1:first\n2:second\n");
}

TEST(ProcessTest, InterruptibleWaitReturnsAndKillStops) {
  ResetInterrupt();
  auto runner = NewRealProcessRunner();
  auto proc = runner->Start({{"/bin/sleep", "30"}});
  ASSERT_TRUE(proc);
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    Interrupt();
  });
  auto start = std::chrono::steady_clock::now();
  auto st = (*proc)->Wait({}, WaitMode::kInterruptible);
  t.join();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), ErrorCode::kInterrupted);
  (*proc)->Kill(SIGKILL);
  auto done = (*proc)->Wait({}, WaitMode::kUninterruptible);
  ResetInterrupt();
  ASSERT_TRUE(done);
  EXPECT_EQ(done->signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(FakeProcessRunnerTest, RecordsAndScripts) {
  FakeProcessRunner fake;
  fake.Expect("runc list", {{0, 0}, "ID\n", ""});
  auto a = fake.Run({{"runc", "list"}});
  auto b = fake.Run({{"runc", "delete", "x"}});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->out, "ID\n");
  EXPECT_EQ(b->out, "");
  EXPECT_EQ(fake.commands_ran(), (std::vector<std::string>{"runc list", "runc delete x"}));
}

}  // namespace
}  // namespace kiln::sys
