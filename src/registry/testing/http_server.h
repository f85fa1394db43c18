#pragma once

// A tiny HTTP/1.1 server on 127.0.0.1 for tests that need responses a real
// registry will not give (429s, wrong bytes, hangs, truncated bodies, a
// token endpoint). Each connection gets a thread; keep-alive is supported.

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "registry/http.h"
#include "registry/testing/loopback_server.h"

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

  int port() const { return server_->port(); }
  // "127.0.0.1:PORT".
  std::string address() const { return server_->address(); }
  // "METHOD target" of every request so far, in arrival order.
  std::vector<std::string> requests() const;

 private:
  explicit HttpServer(Handler h) : handler_(std::move(h)) {}
  void ServeConnection(int fd);

  Handler handler_;
  mutable std::mutex mu_;
  std::vector<std::string> requests_;  // GUARDED_BY(mu_)
  // Last, so it stops (joining the connection threads) before the rest goes.
  std::unique_ptr<LoopbackServer> server_;
};

}  // namespace kiln::registry::testing
