#pragma once

// Internal to src/registry: one registry's request path with auth (anonymous,
// basic, bearer tokens cached per scope) and retries with backoff.

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "registry/client.h"
#include "registry/credentials.h"
#include "registry/endpoint.h"
#include "registry/http.h"

namespace kiln::registry {

// Talks to one registry for one set of scopes. Thread-safe: Do() may be
// called from several threads; the token cache is shared under a mutex.
class Session {
 public:
  // `scopes` like {"repository:library/busybox:pull"}; empty for /v2/ checks.
  Session(HttpClient& http, const CredentialSource& creds, const ClientOptions& options,
          Endpoint endpoint, std::vector<std::string> scopes)
      : http_(http), creds_(creds), options_(options), endpoint_(std::move(endpoint)),
        scopes_(std::move(scopes)) {}

  const Endpoint& endpoint() const { return endpoint_; }
  // base_url + `path` ("/v2/...").
  std::string Url(std::string_view path) const { return endpoint_.base_url + std::string(path); }
  // Resolves a Location header against the registry base URL.
  std::string ResolveLocation(std::string_view location) const;

  enum class Retry { kYes, kNo };
  // Sends the request built by `make` (called once per attempt, so it can
  // add a Range header), adding Authorization, answering one 401 challenge,
  // and retrying kNetwork failures, 408, 429 and 5xx with backoff (honoring
  // Retry-After). Returns the final response whatever its status; errors are
  // kNetwork (after the last attempt), kAuth for a bad challenge or token
  // response, or the sink's error. Retry::kNo sends exactly once (a
  // streamed body cannot be sent again): no retry, no challenge answered.
  Result<HttpResponse> Do(const std::function<HttpRequest()>& make, const BodySink* sink = nullptr,
                          Retry retry = Retry::kYes);
  // The wait before attempt `attempt` + 1 (`response`: the failed one, if
  // any, for Retry-After).
  std::chrono::milliseconds Backoff(int attempt, const HttpResponse* response) const;

 private:
  // Fetches and caches an Authorization value for `challenges`.
  Result<void> Authenticate(const std::string& www_authenticate);
  std::string CachedAuthorization();

  HttpClient& http_;
  const CredentialSource& creds_;
  const ClientOptions& options_;
  Endpoint endpoint_;
  std::vector<std::string> scopes_;

  // Serializes answering challenges so parallel requests fetch one token.
  std::mutex auth_mu_;
  std::mutex mu_;
  std::string authorization_;  // GUARDED_BY(mu_): "Bearer x" / "Basic y" / ""
};

// Runs `fn(i)` for i in [0, n) on up to `threads` threads; returns the first
// error (by index order) once all have finished. Stops starting new items
// after an error.
Result<void> ParallelFor(size_t n, int threads, const std::function<Result<void>(size_t)>& fn);

// "a=b&c=d" with each value percent-encoded.
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace kiln::registry
