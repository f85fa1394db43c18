#pragma once

// A small HTTP seam for the registry client. The real implementation is
// libcurl (curl_http.cc); tests drive the higher layers with a real registry
// or an in-process server (testing/http_server.h).

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace kiln::registry {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// TLS settings for one request. Empty fields mean "library defaults".
struct TlsConfig {
  // Extra PEM CA certificates trusted in addition to the system roots
  // (docker's /etc/docker/certs.d/HOST/*.crt).
  std::vector<std::string> ca_files;
  // Client certificate and key (certs.d/HOST/*.cert and *.key).
  std::string client_cert_file;
  std::string client_key_file;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;
  // Request body for PUT/POST/PATCH; sent with Content-Length.
  std::string body;
  // Instead of `body`, a streamed body of exactly `body_size` bytes: Send
  // calls `body_source` to fill the buffer it passes, and the source returns
  // how many bytes it wrote (more than 0 until `body_size` bytes were
  // given). Its error aborts the request and is what Send returns. A source
  // is consumed by one Send.
  std::function<Result<size_t>(std::span<char>)> body_source;
  uint64_t body_size = 0;
  enum class Redirects { kFollow, kDontFollow };
  Redirects redirects = Redirects::kFollow;
  TlsConfig tls;
};

struct HttpResponse {
  int status = 0;
  // The headers of the final response (after redirects), names lowercased.
  HttpHeaders headers;
  // The body, unless it went to a sink (only 2xx bodies go to a sink).
  std::string body;

  // The first header named `name` (case-insensitive), if any.
  std::optional<std::string> Header(std::string_view name) const;
};

// Receives a 2xx response body in chunks, with the response's status and
// headers (`head.body` is empty). Returning an error aborts the transfer and
// that error is what Send() returns.
using BodySink = std::function<Result<void>(const HttpResponse& head, std::string_view chunk)>;

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{15000};
  // Abort a transfer that moves fewer than `low_speed_bytes` per second for
  // `low_speed_time`: a hanging server fails instead of blocking forever.
  std::chrono::seconds low_speed_time{30};
  long low_speed_bytes = 1;
  // Bodies that are not streamed to a sink are capped at this size; a larger
  // body fails with kInvalid.
  size_t max_buffered_body = 4 << 20;
  int max_redirects = 10;
};

// Sends HTTP requests. Implementations must be safe to call from several
// threads at once (the client fetches blobs in parallel).
class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Performs `request`. Any HTTP status is a success here; connection
  // failures, timeouts and aborted transfers are kNetwork, sink errors are
  // passed through, and an over-long buffered body is kInvalid. When `sink`
  // is set, a 2xx body goes to it and non-2xx bodies are buffered.
  virtual Result<HttpResponse> Send(const HttpRequest& request, const BodySink* sink) = 0;
};

// The libcurl implementation (one easy handle per thread, reused).
std::unique_ptr<HttpClient> NewCurlHttpClient(HttpOptions options = {});

}  // namespace kiln::registry
