#pragma once

// A tiny HTTP/1.1 server on 127.0.0.1 for tests that need responses a real
// registry will not give (429s, wrong bytes, hangs, truncated bodies, a
// token endpoint). Each connection gets a thread; keep-alive is supported.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/fs.h"
#include "registry/http.h"

namespace kiln::registry::testing {

struct ServerRequest {
  std::string method;
  std::string target;  // "/v2/a/manifests/x?y=z"
  std::string path;    // "/v2/a/manifests/x"
  std::string query;   // "y=z"
  HttpHeaders headers;  // names lowercased
  std::string body;

  std::optional<std::string> Header(std::string_view name) const;
};

struct ServerResponse {
  int status = 200;
  HttpHeaders headers;
  std::string body;
  enum class Mode {
    kNormal,
    kHang,      // send nothing and hold the connection until the server stops
    kTruncate,  // announce the full Content-Length, send `truncate_at` bytes, close
  };
  Mode mode = Mode::kNormal;
  size_t truncate_at = 0;
};

class HttpServer {
 public:
  using Handler = std::function<ServerResponse(const ServerRequest&)>;

  // Listens on 127.0.0.1 on a free port. `handler` runs on connection
  // threads, possibly concurrently.
  static Result<std::unique_ptr<HttpServer>> Start(Handler handler);
  ~HttpServer();

  int port() const { return port_; }
  // "127.0.0.1:PORT".
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // "METHOD target" of every request so far, in arrival order.
  std::vector<std::string> requests() const;

 private:
  HttpServer(Handler h) : handler_(std::move(h)) {}
  void AcceptLoop();
  void Serve(int fd);
  void ServeConnection(int fd);

  Handler handler_;
  Fd listen_fd_;
  Fd stop_r_, stop_w_;
  int port_ = 0;
  std::thread accept_thread_;
  mutable std::mutex mu_;
  std::vector<std::thread> conn_threads_;  // GUARDED_BY(mu_)
  std::vector<int> conn_fds_;              // GUARDED_BY(mu_)
  std::vector<std::string> requests_;      // GUARDED_BY(mu_)
  std::atomic<bool> stopping_{false};
};

}  // namespace kiln::registry::testing
