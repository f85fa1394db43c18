#pragma once

// The part every test server here shares: a TCP listener on 127.0.0.1 on a
// free port, one thread per accepted connection, and a shutdown that stops
// accepting, shuts every open connection down and joins the threads, so a
// test never leaves a server thread behind.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/fs.h"

namespace kiln::registry::testing {

class LoopbackServer {
 public:
  // Runs on a connection's own thread; the connection is closed after it
  // returns.
  using ConnectionFn = std::function<void(int fd, LoopbackServer& server)>;

  // Listens on 127.0.0.1 on a free port. kIo (errno) when it cannot.
  static Result<std::unique_ptr<LoopbackServer>> Start(ConnectionFn serve);
  ~LoopbackServer();

  int port() const { return port_; }
  // "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // True once the server is shutting down.
  bool stopping() const { return stopping_; }

  // Shuts `fd` down with the server's own connections (for sockets a
  // connection opens itself, such as a proxy's upstream); Forget before
  // closing it.
  void Track(int fd);
  void Forget(int fd);

 private:
  explicit LoopbackServer(ConnectionFn serve) : serve_(std::move(serve)) {}
  void AcceptLoop();

  ConnectionFn serve_;
  Fd listen_fd_;
  Fd stop_r_, stop_w_;
  int port_ = 0;
  std::thread accept_thread_;
  std::mutex mu_;
  std::vector<std::thread> threads_;  // GUARDED_BY(mu_)
  std::vector<int> fds_;              // GUARDED_BY(mu_): open sockets, shut down on destruction
  std::atomic<bool> stopping_{false};
};

// send(2) until all of `data` is sent; false when the peer is gone.
bool SendAll(int fd, std::string_view data);

}  // namespace kiln::registry::testing
