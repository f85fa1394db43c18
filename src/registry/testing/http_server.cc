#include "registry/testing/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/strings.h"

namespace kiln::registry::testing {

std::optional<std::string> ServerRequest::Header(std::string_view name) const {
  std::string lower = ToLower(name);
  for (const auto& [k, v] : headers)
    if (k == lower) return v;
  return std::nullopt;
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(Handler handler) {
  std::unique_ptr<HttpServer> s(new HttpServer(std::move(handler)));
  KILN_TRY_ASSIGN(s->server_, LoopbackServer::Start([srv = s.get()](int fd, LoopbackServer&) {
                    srv->ServeConnection(fd);
                  }));
  return s;
}

std::vector<std::string> HttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

namespace {

std::string_view Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 206: return "Partial Content";
    case 307: return "Temporary Redirect";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
  }
  return "Status";
}

}  // namespace

void HttpServer::ServeConnection(int fd) {
  std::string buf;
  char tmp[65536];
  while (true) {
    size_t end;
    while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) return;
      buf.append(tmp, n);
    }
    ServerRequest req;
    auto lines = Split(std::string_view(buf).substr(0, end), '\n');
    auto first = Split(TrimSpace(lines[0]), ' ');
    if (first.size() < 2) return;
    req.method = first[0];
    req.target = first[1];
    Cut pq = CutString(req.target, '?');
    req.path = std::string(pq.first);
    req.query = std::string(pq.second);
    size_t content_length = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      Cut c = CutString(lines[i], ':');
      if (!c.found) continue;
      std::string name = ToLower(TrimSpace(c.first));
      std::string value(TrimSpace(c.second));
      if (name == "content-length") content_length = std::stoul(value);
      req.headers.emplace_back(name, value);
    }
    buf.erase(0, end + 4);
    while (buf.size() < content_length) {
      ssize_t n = read(fd, tmp, sizeof tmp);
      if (n <= 0) return;
      buf.append(tmp, n);
    }
    req.body = buf.substr(0, content_length);
    buf.erase(0, content_length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(req.method + " " + req.target);
    }
    ServerResponse resp = handler_(req);
    if (resp.mode == ServerResponse::Mode::kHang) {
      // Until the client goes or the server stops (which shuts the socket).
      pollfd p = {fd, POLLIN | POLLRDHUP, 0};
      poll(&p, 1, 30000);
      return;
    }
    std::string head = fmt::format("HTTP/1.1 {} {}\r\n", resp.status, Reason(resp.status));
    bool has_length = false;
    for (const auto& [k, v] : resp.headers) {
      head += k + ": " + v + "\r\n";
      has_length |= ToLower(k) == "content-length";
    }
    if (!has_length) head += fmt::format("Content-Length: {}\r\n", resp.body.size());
    head += "\r\n";
    if (!SendAll(fd, head)) return;
    if (req.method == "HEAD") continue;
    if (resp.mode == ServerResponse::Mode::kTruncate) {
      SendAll(fd, std::string_view(resp.body).substr(0, resp.truncate_at));
      return;
    }
    if (!SendAll(fd, resp.body)) return;
  }
}

}  // namespace kiln::registry::testing
