// libcurl implementation of HttpClient.

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "base/fs.h"
#include "base/strings.h"
#include "registry/http.h"

namespace kiln::registry {

std::optional<std::string> HttpResponse::Header(std::string_view name) const {
  std::string lower = ToLower(name);
  for (const auto& [k, v] : headers)
    if (k == lower) return v;
  return std::nullopt;
}

namespace {

constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";
// libcurl's largest upload buffer (its default is 64 KiB): fewer read
// callbacks and larger send calls for streamed blobs.
constexpr long kUploadBuffer = 2 << 20;

// One easy handle per thread, reset before each use, so connections are
// reused across requests of a thread without any locking.
struct EasyHandle {
  CURL* curl = nullptr;
  EasyHandle() {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    curl = curl_easy_init();
  }
  ~EasyHandle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

struct Transfer {
  const BodySink* sink = nullptr;
  const HttpRequest* request = nullptr;  // for a streamed body
  size_t max_buffered = 0;
  HttpResponse response;
  int header_status = 0;
  std::optional<Error> error;  // set when a callback aborted the transfer
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  if (StartsWith(line, "HTTP/")) {
    // A new response starts (after a redirect or a 100 Continue).
    t->response.headers.clear();
    auto parts = Split(TrimSpace(line), ' ');
    t->header_status = parts.size() >= 2 ? std::atoi(parts[1].c_str()) : 0;
    return size * n;
  }
  Cut c = CutString(line, ':');
  if (c.found)
    t->response.headers.emplace_back(ToLower(TrimSpace(c.first)), std::string(TrimSpace(c.second)));
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view chunk(data, size * n);
  bool ok = t->header_status >= 200 && t->header_status < 300;
  if (t->sink && ok) {
    t->response.status = t->header_status;
    auto r = (*t->sink)(t->response, chunk);
    if (!r) {
      t->error = std::move(r).error();
      return 0;
    }
    return chunk.size();
  }
  if (t->response.body.size() + chunk.size() > t->max_buffered) {
    t->error = Error::Invalid(fmt::format("response body exceeds {} bytes", t->max_buffered));
    return 0;
  }
  t->response.body.append(chunk);
  return chunk.size();
}

size_t OnRead(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  auto r = t->request->body_source(std::span<char>(data, size * n));
  if (!r) {
    t->error = std::move(r).error();
    return CURL_READFUNC_ABORT;
  }
  return *r;
}

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(HttpOptions options) : options_(options) {}

  Result<HttpResponse> Send(const HttpRequest& req, const BodySink* sink) override {
    thread_local EasyHandle handle;
    CURL* c = handle.curl;
    if (!c) return Fail(Error(ErrorCode::kNetwork, "curl_easy_init failed"));
    curl_easy_reset(c);

    Transfer t;
    t.sink = sink;
    t.max_buffered = options_.max_buffered_body;

    curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, options_.low_speed_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time.count()));
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &OnHeader);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    if (req.redirects == HttpRequest::Redirects::kFollow) {
      curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
      curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(options_.max_redirects));
      // Blob redirects go to storage hosts that must not see the registry's
      // Authorization header; curl drops it on host change unless told not to.
      curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
    }

    if (req.method == "HEAD") {
      curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    } else if (req.method == "GET") {
      curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (req.body_source) {
      t.request = &req;
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(c, CURLOPT_READFUNCTION, &OnRead);
      curl_easy_setopt(c, CURLOPT_READDATA, &t);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body_size));
      curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBuffer);
    } else {
      curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }

    curl_slist* headers = nullptr;
    for (const auto& [k, v] : req.headers)
      headers = curl_slist_append(headers, fmt::format("{}: {}", k, v).c_str());
    // libcurl adds "Expect: 100-continue" to large bodies; registries do not
    // need the extra round trip.
    headers = curl_slist_append(headers, "Expect:");
    if (req.method != "GET" && req.method != "HEAD" &&
        std::none_of(req.headers.begin(), req.headers.end(),
                     [](const auto& h) { return ToLower(h.first) == "content-type"; }))
      headers = curl_slist_append(headers, "Content-Type:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

    std::string ca_blob;
    if (!req.tls.ca_files.empty()) {
      if (auto sys = ReadFile(kSystemCaBundle)) ca_blob = *sys + "\n";
      for (const auto& f : req.tls.ca_files) {
        auto pem = ReadFile(f);
        if (!pem) {
          curl_slist_free_all(headers);
          return Fail(std::move(pem).error().Wrap("loading CA certificate"));
        }
        ca_blob += *pem + "\n";
      }
      curl_blob blob{ca_blob.data(), ca_blob.size(), CURL_BLOB_NOCOPY};
      curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
    }
    if (!req.tls.client_cert_file.empty()) {
      curl_easy_setopt(c, CURLOPT_SSLCERT, req.tls.client_cert_file.c_str());
      curl_easy_setopt(c, CURLOPT_SSLKEY, req.tls.client_key_file.c_str());
    }

    char errbuf[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(headers);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
    if (t.error) return Fail(std::move(*t.error));
    if (rc != CURLE_OK) {
      std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
      return Fail(Error(ErrorCode::kNetwork, fmt::format("{} {}: {}", req.method, req.url, detail)));
    }
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    t.response.status = static_cast<int>(status);
    return std::move(t.response);
  }

 private:
  HttpOptions options_;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(HttpOptions options) {
  return std::make_unique<CurlHttpClient>(options);
}

}  // namespace kiln::registry
