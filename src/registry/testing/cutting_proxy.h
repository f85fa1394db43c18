#pragma once

// A TCP proxy on 127.0.0.1 in front of a real server that drops connections
// in the middle of a transfer: the first `cuts` connections that carry more
// than `cut_after` bytes in one direction are closed right after that many
// bytes, as a flaky network or a restarting load balancer would. Tests use
// it to check that pulls resume and pushes restart against a real registry.
// Each connection gets a thread.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/fs.h"

namespace kiln::registry::testing {

struct CuttingProxyOptions {
  int target_port = 0;  // on 127.0.0.1
  enum class Direction { kToClient, kToServer };
  Direction direction = Direction::kToClient;
  uint64_t cut_after = 0;
  int cuts = 1;
};

class CuttingProxy {
 public:
  // Listens on a free port. kIo/kNetwork (errno) when it cannot.
  static Result<std::unique_ptr<CuttingProxy>> Start(CuttingProxyOptions options);
  ~CuttingProxy();

  // "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // Connections cut so far.
  int cut() const { return options_.cuts - cuts_left_.load(); }

 private:
  explicit CuttingProxy(CuttingProxyOptions o) : options_(o), cuts_left_(o.cuts) {}
  void AcceptLoop();
  void Relay(int client);

  CuttingProxyOptions options_;
  std::atomic<int> cuts_left_;
  Fd listen_fd_;
  Fd stop_r_, stop_w_;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
  std::vector<int> fds_;              // GUARDED_BY(mu_): open sockets, shut down on destruction
  std::atomic<bool> stopping_{false};
};

}  // namespace kiln::registry::testing
