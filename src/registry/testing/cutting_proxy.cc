#include "registry/testing/cutting_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace kiln::registry::testing {

namespace {

bool SendAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<CuttingProxy>> CuttingProxy::Start(CuttingProxyOptions options) {
  std::unique_ptr<CuttingProxy> p(new CuttingProxy(options));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Fail(Error::Errno("socket", errno));
  p->listen_fd_ = Fd(fd);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fail(Error::Errno("bind", errno));
  if (listen(fd, 64) != 0) return Fail(Error::Errno("listen", errno));
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  p->port_ = ntohs(addr.sin_port);
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return Fail(Error::Errno("pipe", errno));
  p->stop_r_ = Fd(pipe_fds[0]);
  p->stop_w_ = Fd(pipe_fds[1]);
  p->accept_thread_ = std::thread([proxy = p.get()] { proxy->AcceptLoop(); });
  return p;
}

CuttingProxy::~CuttingProxy() {
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

void CuttingProxy::AcceptLoop() {
  while (!stopping_) {
    pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int c = accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    std::lock_guard<std::mutex> lock(mu_);
    threads_.emplace_back([this, c] { Relay(c); });
  }
}

void CuttingProxy::Relay(int client_fd) {
  Fd client(client_fd);
  Fd server(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(options_.target_port));
  if (server.get() < 0 || connect(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(client.get());
    fds_.push_back(server.get());
  }
  bool to_client = options_.direction == CuttingProxyOptions::Direction::kToClient;
  uint64_t counted = 0;  // bytes relayed in the watched direction
  bool cutting = false;  // this connection holds one of the cuts
  std::vector<char> buf(64 << 10);
  while (!stopping_) {
    pollfd fds[2] = {{client.get(), POLLIN, 0}, {server.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!fds[i].revents) continue;
      int from = fds[i].fd;
      int to = i == 0 ? server.get() : client.get();
      ssize_t n = recv(from, buf.data(), buf.size(), 0);
      if (n <= 0) {
        done = true;
        break;
      }
      size_t send_n = static_cast<size_t>(n);
      if ((i == 1) == to_client) {
        if (!cutting && counted + send_n > options_.cut_after) {
          int left = cuts_left_.load();
          while (left > 0 && !cuts_left_.compare_exchange_weak(left, left - 1)) {
          }
          cutting = left > 0;
        }
        if (cutting) send_n = static_cast<size_t>(std::min<uint64_t>(send_n, options_.cut_after - counted));
        counted += send_n;
      }
      if (!SendAll(to, buf.data(), send_n)) done = true;
      if (cutting && counted >= options_.cut_after) done = true;
    }
    if (done) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  fds_.erase(std::remove_if(fds_.begin(), fds_.end(),
                            [&](int fd) { return fd == client.get() || fd == server.get(); }),
             fds_.end());
  shutdown(client.get(), SHUT_RDWR);
  shutdown(server.get(), SHUT_RDWR);
}

}  // namespace kiln::registry::testing
