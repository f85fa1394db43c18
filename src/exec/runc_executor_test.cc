// Real runc over real overlayfs, as root, with a busybox rootfs built here.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/strings.h"
#include "exec/executor.h"
#include "exec/runtime_spec.h"
#include "sys/interrupt.h"
#include "sys/mounts.h"
#include "sys/process.h"

namespace kiln::exec {
namespace {

constexpr char kPasswd[] = R"(root:x:0:0:root:/root:/bin/sh
app:x:1000:1000:app:/home/app:/bin/sh
)";
constexpr char kGroup[] = R"(root:x:0:
staff:x:50:app
app:x:1000:
)";

// A busybox rootfs: /bin/busybox with every applet linked, /etc/passwd and
// /etc/group. No /proc, /dev, /sys, /run, /tmp: the residue tests rely on it.
Result<void> MakeBusyboxRoot(const std::string& root) {
  KILN_TRY(MakeDirs(JoinPath(root, "bin")));
  KILN_TRY(MakeDirs(JoinPath(root, "etc")));
  KILN_TRY_ASSIGN(std::string bb, ReadFile("/bin/busybox"));
  KILN_TRY(WriteFile(JoinPath(root, "bin/busybox"), bb, 0755));
  auto runner = sys::NewRealProcessRunner();
  KILN_TRY_ASSIGN(auto list, runner->Run({{"/bin/busybox", "--list"}}));
  for (const auto& applet : Split(list.out, '\n')) {
    if (applet.empty() || applet == "busybox") continue;
    if (symlink("busybox", JoinPath(root, "bin/" + applet).c_str()) < 0)
      return Fail(Error::Io(applet, errno, "symlink"));
  }
  KILN_TRY(WriteFile(JoinPath(root, "etc/passwd"), kPasswd));
  KILN_TRY(WriteFile(JoinPath(root, "etc/group"), kGroup));
  return Ok();
}

// Every entry below `dir`, relative, sorted (like `find . | sort`).
std::vector<std::string> ListTree(const std::string& dir) {
  auto runner = sys::NewRealProcessRunner();
  auto out = runner->Run({{"/bin/sh", "-c", "cd \"$0\" && find . -mindepth 1 | sort", dir}});
  if (!out) return {"<error>"};
  std::vector<std::string> lines;
  for (auto& l : Split(out->out, '\n'))
    if (!l.empty()) lines.push_back(l);
  return lines;
}

class RuncExecutorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = TempDir::Create("kiln-exec-base");
    ASSERT_TRUE(t);
    base_ = new TempDir(std::move(*t));
    auto r = MakeBusyboxRoot(JoinPath(base_->path(), "lower"));
    ASSERT_TRUE(r) << r.error().Render();
  }
  static void TearDownTestSuite() {
    delete base_;
    base_ = nullptr;
  }

  void SetUp() override {
    sys::ResetInterrupt();
    auto t = TempDir::Create("kiln-exec-test");
    ASSERT_TRUE(t);
    dir_.emplace(std::move(*t));
    for (auto d : {"upper", "work", "state", "scratch"}) ASSERT_TRUE(MakeDirs(P(d)));
    options_.state_dir = P("state");
    options_.scratch_dir = P("scratch");
    auto e = NewRuncExecutor(options_);
    ASSERT_TRUE(e) << e.error().Render();
    executor_ = std::move(*e);
  }
  void TearDown() override {
    sys::ResetInterrupt();
    // Whatever a test did, leave no mounts or containers behind.
    EXPECT_TRUE(CleanupStale(options_));
    (void)sys::UnmountAllUnder(dir_->path());
  }

  std::string P(std::string_view s) const { return JoinPath(dir_->path(), s); }
  static std::string Lower() { return JoinPath(base_->path(), "lower"); }

  RunSpec Spec(std::string script) {
    RunSpec s;
    s.lowerdirs = {Lower()};
    s.upperdir = P("upper");
    s.workdir = P("work");
    s.argv = {"/bin/sh", "-c", std::move(script)};
    s.on_output = [this](std::string_view chunk, int stream) {
      (stream == 1 ? out_ : err_).append(chunk);
    };
    return s;
  }

  Result<RunResult> Run(const RunSpec& spec) {
    out_.clear();
    err_.clear();
    return executor_->Run(spec);
  }

  static TempDir* base_;
  std::optional<TempDir> dir_;
  ExecOptions options_;
  std::unique_ptr<Executor> executor_;
  std::string out_, err_;
};

TempDir* RuncExecutorTest::base_ = nullptr;

TEST_F(RuncExecutorTest, EchoHi) {
  auto r = Run(Spec("echo hi"));
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (RunResult{0, 0}));
  EXPECT_EQ(out_, "hi\n");
  EXPECT_EQ(err_, "");
}


TEST_F(RuncExecutorTest, ExitCodesAndSignals) {
  auto r = Run(Spec("echo oops >&2; exit 3"));
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (RunResult{3, 0}));
  EXPECT_EQ(out_, "");
  EXPECT_EQ(err_, "oops\n");
  // The step's shell is PID 1 of its namespace, which SIGKILL from inside
  // cannot reach; a child killed by a signal is reported the shell's way.
  auto k = Run(Spec("sh -c 'kill -9 $$'; exit $?"));
  ASSERT_TRUE(k) << k.error().Render();
  EXPECT_EQ(*k, (RunResult{137, 9}));
}

TEST_F(RuncExecutorTest, EnvCwdAndDefaults) {
  RunSpec s = Spec("echo \"$FOO|$HOME|$PATH\"; pwd; hostname; cat /etc/hostname");
  s.env = {"FOO=bar baz"};
  s.cwd = "/work/dir";
  s.hostname = "builder";
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_,
            "bar baz|/root|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
            "/work/dir\nbuilder\nbuilder\n");
  EXPECT_EQ(err_, "");
  // The working directory the step ran in is part of its layer.
  EXPECT_EQ(ListTree(P("upper")), (std::vector<std::string>{"./work", "./work/dir"}));
}

TEST_F(RuncExecutorTest, UserSwitching) {
  RunSpec s = Spec("id; echo $HOME");
  s.user = "app";
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_, "uid=1000(app) gid=1000(app) groups=50(staff)\n/home/app\n");

  s.user = "1000:50";
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(out_, "uid=1000(app) gid=50(staff)\n/home/app\n");

  s.user = "4242";
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(out_, "uid=4242 gid=0(root)\n/\n");

  // A missing working directory is created for, and owned by, the user.
  RunSpec w = Spec("stat -c '%u:%g %a' . && touch mine && stat -c '%u:%g' mine");
  w.user = "app";
  w.cwd = "/home/app/src";
  ASSERT_TRUE(Run(w));
  EXPECT_EQ(out_, "1000:1000 755\n1000:1000\n");

  s.user = "nobody";
  auto bad = Run(s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(bad.error().message(), "unable to find user nobody: no matching entries in passwd file");
  auto mounts = sys::MountsUnder(P("scratch"));
  ASSERT_TRUE(mounts);
  EXPECT_EQ(*mounts, std::vector<std::string>{});
}

TEST_F(RuncExecutorTest, NetworkNoneHasOnlyLoopbackUp) {
  RunSpec s = Spec("ls /sys/class/net; cat /sys/class/net/lo/operstate; cat /etc/hosts /etc/resolv.conf");
  s.network = Network::kNone;
  s.extra_hosts = {"db:10.0.0.2"};
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_,
            "lo\nunknown\n"
            "127.0.0.1\tlocalhost kiln\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.0.2\tdb\n"
            "# network=none: no nameservers\n");
  EXPECT_EQ(err_, "");
}

TEST_F(RuncExecutorTest, NetworkHostSeesHostInterfaces) {
  auto host = sys::NewRealProcessRunner()->Run({{"/bin/ls", "/sys/class/net"}});
  ASSERT_TRUE(host);
  auto resolv = ReadFile("/etc/resolv.conf");
  ASSERT_TRUE(resolv);
  RunSpec s = Spec("ls /sys/class/net; cat /etc/resolv.conf");
  s.network = Network::kHost;
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_, host->out + *resolv);
}

TEST_F(RuncExecutorTest, ShmSizeAndUlimits) {
  RunSpec s = Spec("grep ' /dev/shm ' /proc/self/mountinfo | grep -o 'size=[0-9]*k'; ulimit -n; ulimit -Hn");
  s.shm_size = 8 << 20;
  s.ulimits = {"nofile=1024:2048"};
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_, "size=8192k\n1024\n2048\n");

  s.ulimits = {"nofile=9:8"};
  auto bad = Run(s);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "invalid ulimit \"nofile=9:8\": soft limit 9 is above hard limit 8");
}

TEST_F(RuncExecutorTest, NoMountPointResidue) {
  ASSERT_TRUE(MakeDirs(P("src")));
  ASSERT_TRUE(WriteFile(P("src/token"), "s3cret"));
  RunSpec s = Spec("cat /run/secrets/x/token; echo; ls /run/secrets/x");
  s.mounts = {{MountSpec::Kind::kBind, P("src"), "/run/secrets/x", true, {}},
              {MountSpec::Kind::kTmpfs, "", "/var/cache/t", false, {"size=1m"}}};
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_, "s3cret\ntoken\n");
  // Not /proc, /dev, /sys, /etc/hosts..., /run/secrets/x, /var/cache/t.
  EXPECT_EQ(ListTree(P("upper")), std::vector<std::string>{});
}

TEST_F(RuncExecutorTest, StepWritesNextToMountPointsAreKept) {
  ASSERT_TRUE(MakeDirs(P("src")));
  RunSpec s = Spec("mkdir -p /run/foo && echo x > /etc/added");
  s.mounts = {{MountSpec::Kind::kBind, P("src"), "/run/secrets/x", true, {}}};
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (RunResult{0, 0}));
  EXPECT_EQ(ListTree(P("upper")), (std::vector<std::string>{"./etc", "./etc/added", "./run", "./run/foo"}));
}

TEST_F(RuncExecutorTest, ReadonlyBindMount) {
  ASSERT_TRUE(MakeDirs(P("src")));
  RunSpec s = Spec("touch /mnt/x 2>/dev/null && echo writable || echo readonly");
  s.mounts = {{MountSpec::Kind::kBind, P("src"), "/mnt", true, {}}};
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(out_, "readonly\n");
  s.mounts[0].readonly = false;
  ASSERT_TRUE(Run(s));
  EXPECT_EQ(out_, "writable\n");
  EXPECT_TRUE(PathExists(P("src/x")));
}

// Mount points below existing directories are mirrored in kiln's
// mount-point layer; a step writing there copies up the image's attributes.
TEST_F(RuncExecutorTest, MirroredParentsKeepImageAttributes) {
  ASSERT_TRUE(MakeDirs(P("home/home/app")));
  ASSERT_EQ(chown(P("home/home/app").c_str(), 1000, 1000), 0);
  ASSERT_EQ(chmod(P("home/home/app").c_str(), 0700), 0);
  RunSpec s = Spec("touch /home/app/f && stat -c '%u %a' /home/app && grep -c ' /home/app/.cache ' /proc/self/mountinfo");
  s.lowerdirs = {P("home"), Lower()};
  s.user = "app";
  s.mounts = {{MountSpec::Kind::kTmpfs, "", "/home/app/.cache", false, {}}};
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_, "1000 700\n1\n");
  EXPECT_EQ(ListTree(P("upper")), (std::vector<std::string>{"./home", "./home/app", "./home/app/f"}));
  struct stat st;
  ASSERT_EQ(stat(P("upper/home/app").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

// CVE-2024-23652 class: a layer plants symlinks pointing at host paths; the
// mount target must be resolved inside the rootfs, never on the host.
TEST_F(RuncExecutorTest, HostileSymlinksStayInRootfs) {
  ASSERT_TRUE(MakeDirs(P("host-target")));
  ASSERT_TRUE(MakeDirs(P("evil")));
  ASSERT_EQ(symlink(P("host-target").c_str(), P("evil/run").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../../../../../../..", P("evil/up").c_str()), 0);
  ASSERT_TRUE(MakeDirs(P("src")));
  ASSERT_TRUE(WriteFile(P("src/token"), "t"));
  RunSpec s = Spec("cat " + P("host-target") + "/secrets/token; echo; ls -d /up/..");
  s.lowerdirs = {P("evil"), Lower()};
  s.mounts = {{MountSpec::Kind::kBind, P("src"), "/run/secrets", true, {}},
              {MountSpec::Kind::kTmpfs, "", "/up/tmp/x", false, {}}};
  auto r = Run(s);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(out_, "t\n/up/..\n");
  EXPECT_EQ(ListTree(P("host-target")), std::vector<std::string>{});
  EXPECT_FALSE(PathExists("/tmp/x"));
  EXPECT_EQ(ListTree(P("upper")), std::vector<std::string>{});
}

// runc CVE-2024-21626 class: no kiln fd may reach the container.
TEST_F(RuncExecutorTest, NoFdLeaksIntoContainer) {
  int leaked = ::open("/", O_RDONLY | O_DIRECTORY);  // deliberately not CLOEXEC
  ASSERT_GE(leaked, 3);
  auto r = Run(Spec("ls /proc/self/fd"));
  ::close(leaked);
  ASSERT_TRUE(r) << r.error().Render();
  // 0-2 are the pipes; 3 is ls's own handle on the directory it lists.
  EXPECT_EQ(out_, "0\n1\n2\n3\n");
}

TEST_F(RuncExecutorTest, InterruptKillsAndCleansUp) {
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    sys::Interrupt();
  });
  auto start = std::chrono::steady_clock::now();
  auto r = Run(Spec("echo started; sleep 30"));
  t.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInterrupted);
  EXPECT_EQ(r.error().message(), "interrupted");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  EXPECT_EQ(out_, "started\n");
  auto mounts = sys::MountsUnder(P("scratch"));
  ASSERT_TRUE(mounts);
  EXPECT_EQ(*mounts, std::vector<std::string>{});
  EXPECT_EQ(ListTree(P("scratch")), std::vector<std::string>{});
  EXPECT_EQ(ListTree(P("upper")), std::vector<std::string>{});
  auto list = sys::NewRealProcessRunner()->Run({{"runc", "--root", P("state"), "list", "-q"}});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->out, "");
  sys::ResetInterrupt();
  // A step after the interrupt runs normally.
  ASSERT_TRUE(Run(Spec("echo again")));
  EXPECT_EQ(out_, "again\n");
}

TEST_F(RuncExecutorTest, SigintDuringStepInterrupts) {
  sys::InstallInterruptHandler();
  std::thread t([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    kill(getpid(), SIGINT);
  });
  auto r = Run(Spec("sleep 30"));
  t.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInterrupted);
  EXPECT_EQ(sys::InterruptSignal(), SIGINT);
  auto mounts = sys::MountsUnder(P("scratch"));
  ASSERT_TRUE(mounts);
  EXPECT_EQ(*mounts, std::vector<std::string>{});
  EXPECT_EQ(ListTree(P("state")), std::vector<std::string>{});
}

TEST_F(RuncExecutorTest, ParallelStepsDoNotInterfere) {
  ASSERT_TRUE(MakeDirs(P("upper2")));
  ASSERT_TRUE(MakeDirs(P("work2")));
  RunSpec a = Spec("echo a > /a; sleep 0.2; cat /a");
  RunSpec b = Spec("echo b > /b; sleep 0.2; cat /b");
  b.upperdir = P("upper2");
  b.workdir = P("work2");
  std::string out_a, out_b;
  a.on_output = [&](std::string_view c, int) { out_a.append(c); };
  b.on_output = [&](std::string_view c, int) { out_b.append(c); };
  Result<RunResult> ra = Fail(Error::Invalid("not run")), rb = ra;
  std::thread ta([&] { ra = executor_->Run(a); });
  std::thread tb([&] { rb = executor_->Run(b); });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra) << ra.error().Render();
  ASSERT_TRUE(rb) << rb.error().Render();
  EXPECT_EQ(out_a, "a\n");
  EXPECT_EQ(out_b, "b\n");
  EXPECT_EQ(ListTree(P("upper")), std::vector<std::string>{"./a"});
  EXPECT_EQ(ListTree(P("upper2")), std::vector<std::string>{"./b"});
}

TEST_F(RuncExecutorTest, ConcurrentStepsManyTimes) {
  // Regression: three stages' RUN steps started together failed now and
  // then with "umount .../rootfs: Device or resource busy" (a sibling's
  // runc spawn held the resolution overlay).
  constexpr int kThreads = 3, kSteps = 8;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSteps && failures[t].empty(); ++i) {
        std::string up = P(fmt::format("up-{}-{}", t, i)), work = P(fmt::format("work-{}", t));
        if (!MakeDirs(up) || !MakeDirs(work)) {
          failures[t] = "mkdir";
          break;
        }
        RunSpec s = Spec(fmt::format("echo {} > /out", i));
        s.upperdir = up;
        s.workdir = work;
        s.cwd = "/app";
        s.mounts.push_back({MountSpec::Kind::kTmpfs, "", "/run/cache", false, {}});
        s.on_output = {};
        auto r = executor_->Run(s);
        if (!r) failures[t] = r.error().Render();
        else if (r->exit_code != 0) failures[t] = fmt::format("exit {}", r->exit_code);
        else if (ReadFile(up + "/out").value_or("") != fmt::format("{}\n", i)) failures[t] = "wrong /out";
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, std::vector<std::string>(kThreads));
  auto left = sys::MountsUnder(P("scratch"));
  ASSERT_TRUE(left);
  EXPECT_EQ(*left, std::vector<std::string>{});
  EXPECT_EQ(ListTree(P("scratch")), std::vector<std::string>{});
}

TEST_F(RuncExecutorTest, MissingCommandIsStepFailure) {
  RunSpec s = Spec("");
  s.argv = {"/nonexistent"};
  auto r = Run(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kStepFailed);
  EXPECT_EQ(r.error().message(),
            "runc: unable to start container process: exec: \"/nonexistent\": stat /nonexistent: "
            "no such file or directory");
  auto mounts = sys::MountsUnder(P("scratch"));
  ASSERT_TRUE(mounts);
  EXPECT_EQ(*mounts, std::vector<std::string>{});
  EXPECT_EQ(ListTree(P("state")), std::vector<std::string>{});
  EXPECT_EQ(ListTree(P("upper")), std::vector<std::string>{});
}

TEST_F(RuncExecutorTest, InvalidSpecsFailBeforeMounting) {
  RunSpec s = Spec("true");
  s.mounts = {{MountSpec::Kind::kTmpfs, "", "/..", false, {}}};
  auto r = Run(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "mount target \"/..\" must be an absolute path below /");
  s.mounts = {};
  s.extra_hosts = {"db"};
  r = Run(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "invalid --add-host \"db\": expected <name>:<ip>");
  s.extra_hosts = {};
  s.argv = {};
  r = Run(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "a step needs a command");
  EXPECT_EQ(ListTree(P("scratch")), std::vector<std::string>{});
}

TEST_F(RuncExecutorTest, CleanupStaleRemovesLeftovers) {
  // What a kill -9'd kiln leaves: a running container and a mounted scratch.
  std::string bundle = P("scratch/kiln-stale");
  ASSERT_TRUE(MakeDirs(bundle));
  ASSERT_TRUE(sys::MountTmpfs(bundle, "size=1m"));
  // runc creates mount points in this rootfs, so not the shared lower.
  ASSERT_TRUE(MakeBusyboxRoot(P("stale-root")));
  SpecInput in;
  in.rootfs = P("stale-root");
  in.args = {"/bin/sleep", "30"};
  in.mounts = StandardMounts(1 << 20);
  ASSERT_TRUE(WriteFile(JoinPath(bundle, "config.json"), BuildRuntimeSpec(in).dump()));
  auto started = sys::NewRealProcessRunner()->Run(
      {{"/bin/sh", "-c", "runc --root \"$0\" run -d --bundle \"$1\" kiln-stale </dev/null >/dev/null 2>&1",
        P("state"), bundle}});
  ASSERT_TRUE(started);
  ASSERT_EQ(started->status.exit_code, 0);
  auto r = CleanupStale(options_);
  ASSERT_TRUE(r) << r.error().Render();
  auto list = sys::NewRealProcessRunner()->Run({{"runc", "--root", P("state"), "list", "-q"}});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->out, "");
  auto mounts = sys::MountsUnder(P("scratch"));
  ASSERT_TRUE(mounts);
  EXPECT_EQ(*mounts, std::vector<std::string>{});
  EXPECT_EQ(ListTree(P("scratch")), std::vector<std::string>{});
}

TEST(RuncExecutorMissingTest, RuncNotInPath) {
  ExecOptions o;
  o.runc = "runc-kiln-missing";
  auto e = NewRuncExecutor(o);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.error().Render(),
            "runc-kiln-missing not found in PATH\nhint: install it with \"apt-get install runc\"\n");
}

TEST(RuncExecutorMissingTest, DefaultRuncNotInPath) {
  std::string saved = getenv("PATH") ? getenv("PATH") : "";
  setenv("PATH", "/nonexistent-kiln", 1);
  auto e = NewRuncExecutor(ExecOptions{});
  setenv("PATH", saved.c_str(), 1);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.error().Render(), "runc not found in PATH\nhint: install it with \"apt-get install runc\"\n");
}

}  // namespace
}  // namespace kiln::exec
