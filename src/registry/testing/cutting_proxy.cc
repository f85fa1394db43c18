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

Result<std::unique_ptr<CuttingProxy>> CuttingProxy::Start(CuttingProxyOptions options) {
  std::unique_ptr<CuttingProxy> p(new CuttingProxy(options));
  KILN_TRY_ASSIGN(p->server_, LoopbackServer::Start([proxy = p.get()](int fd, LoopbackServer& server) {
                    proxy->Relay(fd, server);
                  }));
  return p;
}

void CuttingProxy::Relay(int client, LoopbackServer& listener) {
  Fd server(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(options_.target_port));
  if (server.get() < 0 || connect(server.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
  listener.Track(server.get());
  bool to_client = options_.direction == CuttingProxyOptions::Direction::kToClient;
  uint64_t counted = 0;  // bytes relayed in the watched direction
  bool cutting = false;  // this connection holds one of the cuts
  std::vector<char> buf(64 << 10);
  while (!listener.stopping()) {
    pollfd fds[2] = {{client, POLLIN, 0}, {server.get(), POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!fds[i].revents) continue;
      int from = fds[i].fd;
      int to = i == 0 ? server.get() : client;
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
      if (!SendAll(to, std::string_view(buf.data(), send_n))) done = true;
      if (cutting && counted >= options_.cut_after) done = true;
    }
    if (done) break;
  }
  listener.Forget(server.get());
  shutdown(client, SHUT_RDWR);
  shutdown(server.get(), SHUT_RDWR);
}

}  // namespace kiln::registry::testing
