#include "registry/testing/registry_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

extern char** environ;

namespace kiln::registry::testing {

namespace {
constexpr const char* kRegistryBinary = "/usr/bin/docker-registry";

bool CanConnect(const std::string& host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}
}  // namespace

Result<int> FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Error::Errno("socket", errno));
  Fd owned(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Fail(Error::Errno("bind", errno));
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return static_cast<int>(ntohs(addr.sin_port));
}

Result<std::unique_ptr<RegistryServer>> RegistryServer::Start(RegistryServerOptions o) {
  if (access(kRegistryBinary, X_OK) != 0)
    return Fail(Error::NotFound(fmt::format("{} not installed", kRegistryBinary)));
  KILN_TRY_ASSIGN(TempDir dir, TempDir::Create("kiln-registry"));
  std::unique_ptr<RegistryServer> s(new RegistryServer(std::move(dir)));
  KILN_TRY_ASSIGN(s->port_, FreePort());
  s->host_ = o.host;
  s->storage_ = JoinPath(s->dir_.path(), "storage");
  std::string config = fmt::format(R"(version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {}
  delete:
    enabled: true
http:
  addr: {}:{}
  secret: kiln-test-secret
)", s->storage_, s->host_, s->port_);
  if (!o.tls_cert.empty())
    config += fmt::format("  tls:\n    certificate: {}\n    key: {}\n", o.tls_cert, o.tls_key);
  if (!o.htpasswd.empty())
    config += fmt::format("auth:\n  htpasswd:\n    realm: kiln-test\n    path: {}\n", o.htpasswd);
  else if (!o.token_realm.empty())
    config += fmt::format(
        "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
        o.token_realm, o.token_service, o.token_issuer, o.token_rootcertbundle);
  std::string config_path = JoinPath(s->dir_.path(), "config.yml");
  KILN_TRY(WriteFile(config_path, config));
  std::string log_path = JoinPath(s->dir_.path(), "registry.log");

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string bin = kRegistryBinary, serve = "serve";
  char* argv[] = {bin.data(), serve.data(), config_path.data(), nullptr};
  int rc = posix_spawn(&s->pid_, kRegistryBinary, &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Fail(Error::Io(kRegistryBinary, rc, "spawning"));
  for (int i = 0; i < 200; ++i) {
    if (CanConnect(s->host_, s->port_)) return s;
    int status;
    if (waitpid(s->pid_, &status, WNOHANG) == s->pid_) {
      s->pid_ = -1;
      auto log = ReadFile(log_path);
      return Fail(Error(ErrorCode::kIo, fmt::format("docker-registry exited: {}",
                                                    log ? *log : std::string("(no log)"))));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Fail(Error(ErrorCode::kIo, "docker-registry did not start listening within 10 s"));
}

RegistryServer::~RegistryServer() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    int status;
    waitpid(pid_, &status, 0);
  }
}

}  // namespace kiln::registry::testing
