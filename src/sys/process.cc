#include "sys/process.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/interrupt.h"

extern char** environ;

namespace kiln::sys {
namespace {

// Held shared by every posix_spawn in flight, exclusively by WaitForSpawns.
std::shared_mutex g_spawning;

// write(2) that reports a reader gone as EPIPE without raising SIGPIPE,
// whose default action would kill kiln: SIGPIPE is blocked on this thread
// for the write and a SIGPIPE the write raised is consumed.
ssize_t WriteNoSigpipe(int fd, std::string_view data) {
  sigset_t pipe_set, old_mask, pending;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_mask);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  ssize_t w = write(fd, data.data(), data.size());
  int err = errno;
  if (w < 0 && err == EPIPE && !was_pending) {
    timespec zero{};
    while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  errno = err;
  return w;
}

// NULL-terminated char* views of a string vector, valid while `v` lives.
std::vector<char*> CStrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

class RealProcess : public Process {
 public:
  // `in` is the write end of the child's stdin pipe (invalid for
  // /dev/null), to be fed `input`.
  RealProcess(pid_t pid, Fd in, std::string input, Fd out, Fd err)
      : pid_(pid), in_(std::move(in)), input_(std::move(input)) {
    fds_[0] = std::move(out);
    fds_[1] = std::move(err);
    // Readable once the child exits (Linux 5.3); without it Wait polls.
    pidfd_ = Fd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  }
  ~RealProcess() override {
    CloseInput();
    if (reaped_) return;
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int st;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
  }

  pid_t pid() const override { return pid_; }

  void Kill(int sig) override {
    if (reaped_) return;
    // The child leads its own group; signal the group so helpers it started
    // go too, and the child itself in case it left the group.
    kill(-pid_, sig);
    kill(pid_, sig);
  }

  Result<ExitStatus> Wait(const OutputFn& on_output, WaitMode mode) override {
    if (reaped_) return status_;
    std::array<char, 65536> buf;
    while (fds_[0].valid() || fds_[1].valid()) {
      if (mode == WaitMode::kInterruptible && Interrupted())
        return Fail(Error(ErrorCode::kInterrupted, "interrupted"));
      std::array<pollfd, 4> pfds{};
      nfds_t n = 0;
      std::array<int, 4> which{};
      for (int i = 0; i < 2; ++i) {
        if (!fds_[i].valid()) continue;
        pfds[n] = {fds_[i].get(), POLLIN, 0};
        which[n++] = i;
      }
      if (in_.valid()) {
        pfds[n] = {in_.get(), POLLOUT, 0};
        which[n++] = kStdin;
      }
      if (mode == WaitMode::kInterruptible) {
        pfds[n] = {InterruptFd(), POLLIN, 0};
        which[n++] = -1;
      }
      int r = poll(pfds.data(), n, -1);
      if (r < 0) {
        if (errno == EINTR) continue;
        return Fail(Error::Errno("poll", errno));
      }
      for (nfds_t k = 0; k < n; ++k) {
        if (which[k] < 0 || pfds[k].revents == 0) continue;
        if (which[k] == kStdin) {
          FeedInput();
          continue;
        }
        Fd& fd = fds_[which[k]];
        ssize_t got = read(fd.get(), buf.data(), buf.size());
        if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (got <= 0) {
          fd.Reset();
          continue;
        }
        if (on_output) on_output(std::string_view(buf.data(), got), which[k] + 1);
      }
    }
    // The child closed its output; it gets EOF on stdin rather than wait
    // for input it may never read.
    CloseInput();
    int st = 0;
    for (;;) {
      if (mode == WaitMode::kInterruptible && Interrupted())
        return Fail(Error(ErrorCode::kInterrupted, "interrupted"));
      // Both pipes are closed, so the child is exiting or has detached its
      // stdio; wait for its exit or an interrupt, whichever comes first.
      pid_t r = waitpid(pid_, &st, mode == WaitMode::kInterruptible ? WNOHANG : 0);
      if (r == pid_) break;
      if (r < 0 && errno != EINTR) return Fail(Error::Errno("waitpid", errno));
      if (r == 0) {
        std::array<pollfd, 2> p{pollfd{InterruptFd(), POLLIN, 0}, pollfd{pidfd_.get(), POLLIN, 0}};
        poll(p.data(), pidfd_.valid() ? 2 : 1, pidfd_.valid() ? -1 : 10);
      }
    }
    reaped_ = true;
    if (WIFSIGNALED(st)) status_ = ExitStatus{128 + WTERMSIG(st), WTERMSIG(st)};
    else status_ = ExitStatus{WEXITSTATUS(st), 0};
    return status_;
  }

 private:
  static constexpr int kStdin = 2;

  // Writes what the pipe takes of the rest of `input_`; closes stdin when
  // all is written or the child has closed its end.
  void FeedInput() {
    std::string_view rest = std::string_view(input_).substr(written_);
    ssize_t w = WriteNoSigpipe(in_.get(), rest.substr(0, 65536));
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (w > 0) written_ += static_cast<size_t>(w);
    if (w < 0 || written_ == input_.size()) CloseInput();
  }

  void CloseInput() {
    in_.Reset();
    explicit_bzero(input_.data(), input_.size());
    input_.clear();
  }

  pid_t pid_;
  Fd in_;
  std::string input_;
  size_t written_ = 0;
  std::array<Fd, 2> fds_;
  Fd pidfd_;
  bool reaped_ = false;
  ExitStatus status_;
};

class RealProcessRunner : public ProcessRunner {
 public:
  Result<std::unique_ptr<Process>> Start(const ProcessSpec& spec) override {
    if (spec.argv.empty()) return Fail(Error::Invalid("cannot start a process with an empty argv"));
    std::string exe = spec.argv[0];
    if (exe.find('/') == std::string::npos) {
      KILN_TRY_ASSIGN(exe, LookPath(exe));
    }

    int out_pipe[2], err_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) < 0) return Fail(Error::Errno("pipe", errno));
    Fd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (pipe2(err_pipe, O_CLOEXEC) < 0) return Fail(Error::Errno("pipe", errno));
    Fd err_r(err_pipe[0]), err_w(err_pipe[1]);
    Fd in_r, in_w;
    if (spec.input.empty()) {
      KILN_TRY_ASSIGN(in_r, OpenFile("/dev/null", O_RDONLY));
    } else {
      int in_pipe[2];
      if (pipe2(in_pipe, O_CLOEXEC) < 0) return Fail(Error::Errno("pipe", errno));
      in_r = Fd(in_pipe[0]);
      in_w = Fd(in_pipe[1]);
      // Wait() polls it alongside the output pipes.
      if (fcntl(in_w.get(), F_SETFL, O_NONBLOCK) < 0) return Fail(Error::Errno("fcntl", errno));
    }

    // Step 1: the child's fds: 0 = /dev/null or the input pipe, 1/2 =
    // pipes, nothing else.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_r.get(), 0);
    posix_spawn_file_actions_adddup2(&actions, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&actions, err_w.get(), 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.cwd.c_str());

    // Step 2: own process group, default dispositions, empty mask.
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETSIGMASK);

    // Step 3: spawn. glibc reports exec failures synchronously.
    std::vector<char*> argv = CStrings(spec.argv);
    std::vector<char*> envp;
    if (spec.env) envp = CStrings(*spec.env);
    pid_t pid = -1;
    int rc;
    {
      // posix_spawn returns once the child has exec'd: only then are the
      // copies of our fds it holds closed (see WaitForSpawns).
      std::shared_lock<std::shared_mutex> spawning(g_spawning);
      rc = posix_spawn(&pid, exe.c_str(), &actions, &attr, argv.data(), spec.env ? envp.data() : environ);
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
      bool missing = rc == ENOENT || rc == EACCES || rc == ENOEXEC;
      Error e = Error::Io(exe, rc, "exec").WithCode(missing ? ErrorCode::kNotFound : ErrorCode::kIo);
      if (!spec.cwd.empty()) e.Wrap("starting {} in {}", Quote(spec.argv[0]), spec.cwd);
      return Fail(std::move(e));
    }
    return std::unique_ptr<Process>(
        new RealProcess(pid, std::move(in_w), spec.input, std::move(out_r), std::move(err_r)));
  }
};

}  // namespace

Result<ProcessOutput> ProcessRunner::Run(const ProcessSpec& spec) {
  KILN_TRY_ASSIGN(auto proc, Start(spec));
  ProcessOutput out;
  KILN_TRY_ASSIGN(out.status, proc->Wait(
                                  [&](std::string_view chunk, int stream) {
                                    (stream == 1 ? out.out : out.err).append(chunk);
                                  },
                                  WaitMode::kUninterruptible));
  return out;
}

void WaitForSpawns() { std::unique_lock<std::shared_mutex> wait(g_spawning); }

std::unique_ptr<ProcessRunner> NewRealProcessRunner() {
  return std::make_unique<RealProcessRunner>();
}

Result<std::string> LookPath(std::string_view name, std::optional<std::string_view> path) {
  std::string dirs;
  if (path) dirs = std::string(*path);
  else if (const char* p = getenv("PATH")) dirs = p;
  else dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const auto& dir : Split(dirs, ':')) {
    if (dir.empty() || dir[0] != '/') continue;
    std::string candidate = JoinPath(dir, name);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return Fail(Error::NotFound(fmt::format("{} not found in PATH", name)));
}

std::string DescribeExit(const ExitStatus& status) {
  if (status.signal != 0)
    return fmt::format("killed by signal {} ({})", status.signal, strsignal(status.signal));
  return fmt::format("exit status {}", status.exit_code);
}

}  // namespace kiln::sys
