#include "registry/testing/loopback_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kiln::registry::testing {

Result<std::unique_ptr<LoopbackServer>> LoopbackServer::Start(ConnectionFn serve) {
  std::unique_ptr<LoopbackServer> s(new LoopbackServer(std::move(serve)));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Error::Errno("socket", errno));
  s->listen_fd_ = Fd(fd);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fail(Error::Errno("bind", errno));
  if (listen(fd, 64) != 0) return Fail(Error::Errno("listen", errno));
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    return Fail(Error::Errno("getsockname", errno));
  s->port_ = ntohs(addr.sin_port);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return Fail(Error::Errno("pipe", errno));
  s->stop_r_ = Fd(p[0]);
  s->stop_w_ = Fd(p[1]);
  s->accept_thread_ = std::thread([srv = s.get()] { srv->AcceptLoop(); });
  return s;
}

LoopbackServer::~LoopbackServer() {
  stopping_ = true;
  (void)!write(stop_w_.get(), "x", 1);
  if (accept_thread_.joinable()) accept_thread_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : fds_) shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads) t.join();
}

void LoopbackServer::Track(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  fds_.push_back(fd);
}

void LoopbackServer::Forget(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  fds_.erase(std::remove(fds_.begin(), fds_.end(), fd), fds_.end());
}

void LoopbackServer::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int c = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(c);
    threads_.emplace_back([this, c] {
      serve_(c, *this);
      Forget(c);
      close(c);
    });
  }
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace kiln::registry::testing
