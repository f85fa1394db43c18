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
#include <string>

#include "base/error.h"
#include "registry/testing/loopback_server.h"

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
  // Listens on a free port. kIo (errno) when it cannot.
  static Result<std::unique_ptr<CuttingProxy>> Start(CuttingProxyOptions options);

  // "127.0.0.1:PORT".
  std::string address() const { return server_->address(); }
  // Connections cut so far.
  int cut() const { return options_.cuts - cuts_left_.load(); }

 private:
  explicit CuttingProxy(CuttingProxyOptions o) : options_(o), cuts_left_(o.cuts) {}
  void Relay(int client, LoopbackServer& listener);

  CuttingProxyOptions options_;
  std::atomic<int> cuts_left_;
  // Last, so it stops (joining the relay threads) before the rest goes.
  std::unique_ptr<LoopbackServer> server_;
};

}  // namespace kiln::registry::testing
