// End-to-end: `git clone` over ssh from a real sshd on 127.0.0.1, with the
// client authenticating only through kiln's agent sockets.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "base/fs.h"
#include "secrets/ssh_agent.h"

namespace kiln::secrets {
namespace {

struct Output {
  int status = -1;
  std::string text;
};

Output Shell(const std::string& cmd) {
  Output out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  int st = pclose(p);
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool PortOpen(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

class SshGitCloneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("secrets-sshd");
    ASSERT_TRUE(t);
    dir_.emplace(std::move(*t));
    d_ = dir_->path();
    // sshd insists on its privilege separation directory; Debian creates it
    // only when the service starts.
    // It stays afterwards: ctest runs these cases in parallel processes, and
    // removing it under another case's sshd fails that case.
    ASSERT_TRUE(mkdir("/run/sshd", 0755) == 0 || errno == EEXIST);
    ASSERT_EQ(Shell("ssh-keygen -q -t ed25519 -N '' -f " + d_ + "/hostkey").status, 0);
    ASSERT_EQ(Shell("ssh-keygen -q -t rsa -b 2048 -N '' -C user-rsa -f " + d_ + "/user").status, 0);
    ASSERT_TRUE(WriteFile(d_ + "/authorized_keys", *ReadFile(d_ + "/user.pub"), 0600));
    port_ = FreePort();
    ASSERT_GT(port_, 0);
    ASSERT_TRUE(WriteFile(d_ + "/sshd_config", fmt::format(R"(Port {0}
ListenAddress 127.0.0.1
HostKey {1}/hostkey
AuthorizedKeysFile {1}/authorized_keys
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
PidFile {1}/sshd.pid
)",
                                                           port_, d_)));
    sshd_pid_ = fork();
    ASSERT_GE(sshd_pid_, 0);
    if (sshd_pid_ == 0) {
      int log = open((d_ + "/sshd.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(log, 1);
      dup2(log, 2);
      std::string cfg = d_ + "/sshd_config";
      execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", cfg.c_str(), nullptr);
      _exit(127);
    }
    for (int i = 0; i < 100 && !PortOpen(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE(PortOpen(port_)) << *ReadFile(d_ + "/sshd.log");

    // A bare repository with one commit on main.
    std::string git = "git -c user.email=t@example.com -c user.name=t -c init.defaultBranch=main ";
    ASSERT_EQ(Shell(git + "init -q --bare " + d_ + "/repo.git").status, 0);
    ASSERT_EQ(Shell(git + "init -q " + d_ + "/src").status, 0);
    ASSERT_TRUE(WriteFile(d_ + "/src/README", "hello from sshd\n"));
    ASSERT_EQ(Shell("cd " + d_ + "/src && " + git + "add README && " + git +
                    "commit -q -m init && " + git + "push -q " + d_ + "/repo.git HEAD:main")
                  .status,
              0);
  }

  void TearDown() override {
    if (sshd_pid_ > 0) {
      kill(sshd_pid_, SIGTERM);
      waitpid(sshd_pid_, nullptr, 0);
    }
  }

  // Clones with no key files and no user config: only `agent_sock`.
  Output Clone(const std::string& agent_sock, const std::string& dest) {
    std::string ssh = fmt::format(
        "ssh -F /dev/null -p {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o BatchMode=yes -o IdentityAgent={} -o IdentityFile=/dev/null",
        port_, agent_sock);
    return Shell("GIT_SSH_COMMAND='" + ssh + "' git clone -q root@127.0.0.1:" + d_ +
                 "/repo.git " + dest);
  }

  std::optional<TempDir> dir_;
  std::string d_;
  int port_ = 0;
  pid_t sshd_pid_ = -1;
};

TEST_F(SshGitCloneTest, CloneThroughInProcessAgent) {
  SshAgents agents;
  agents.Add("default", KeyAgent({*SshKey::FromFile(d_ + "/user")}));
  auto step = PrepareSsh({{}}, agents, d_);
  ASSERT_TRUE(step) << step.error().message();
  Output out = Clone(step->mounts()[0].source, d_ + "/out");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_EQ(*ReadFile(d_ + "/out/README"), "hello from sshd\n");
}

TEST_F(SshGitCloneTest, CloneThroughProxyToOpenSshAgent) {
  Output agent = Shell("ssh-agent -a " + d_ + "/real.sock");
  size_t p = agent.text.find("SSH_AGENT_PID=");
  ASSERT_NE(p, std::string::npos) << agent.text;
  int agent_pid = std::stoi(agent.text.substr(p + 14));
  struct Killer {
    int pid;
    ~Killer() { kill(pid, SIGTERM); }
  } killer{agent_pid};
  EXPECT_EQ(Shell("SSH_AUTH_SOCK=" + d_ + "/real.sock ssh-add -q " + d_ + "/user").status, 0);
  SshAgents agents;
  agents.Add("default", UpstreamAgent(d_ + "/real.sock"));
  auto step = PrepareSsh({{}}, agents, d_);
  ASSERT_TRUE(step);
  Output out = Clone(step->mounts()[0].source, d_ + "/out");
  EXPECT_EQ(out.status, 0) << out.text;
  EXPECT_EQ(*ReadFile(d_ + "/out/README"), "hello from sshd\n");
}

TEST_F(SshGitCloneTest, CloneFailsWithoutTheKey) {
  SshAgents agents;
  agents.Add("default", KeyAgent({}));
  auto step = PrepareSsh({{}}, agents, d_);
  ASSERT_TRUE(step);
  Output out = Clone(step->mounts()[0].source, d_ + "/out");
  EXPECT_NE(out.status, 0);
  EXPECT_NE(out.text.find("Permission denied (publickey)"), std::string::npos) << out.text;
  EXPECT_FALSE(PathExists(d_ + "/out"));
}

}  // namespace
}  // namespace kiln::secrets
