#include "registry/session_internal.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

#include "base/digest.h"
#include "base/strings.h"
#include "registry/challenge.h"

namespace kiln::registry {

namespace {

bool Retryable(int status) { return status == 408 || status == 429 || status >= 500; }

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else out += fmt::format("%{:02X}", c);
  }
  return out;
}

}  // namespace

std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += PercentEncode(k) + "=" + PercentEncode(v);
  }
  return out;
}

std::string Session::ResolveLocation(std::string_view location) const {
  if (StartsWith(location, "http://") || StartsWith(location, "https://")) return std::string(location);
  if (StartsWith(location, "/")) return endpoint_.base_url + std::string(location);
  return endpoint_.base_url + "/v2/" + std::string(location);
}

std::string Session::CachedAuthorization() {
  std::lock_guard<std::mutex> lock(mu_);
  return authorization_;
}

std::chrono::milliseconds Session::Backoff(int attempt, const HttpResponse* response) const {
  if (response) {
    if (auto ra = response->Header("retry-after")) {
      char* end = nullptr;
      long secs = std::strtol(ra->c_str(), &end, 10);
      if (end != ra->c_str() && *end == '\0' && secs >= 0)
        return std::min(std::chrono::milliseconds(secs * 1000), options_.max_backoff);
    }
  }
  auto d = options_.initial_backoff * (1 << std::min(attempt - 1, 10));
  return std::min(std::chrono::duration_cast<std::chrono::milliseconds>(d), options_.max_backoff);
}

Result<void> Session::Authenticate(const std::string& header) {
  KILN_TRY_ASSIGN(auto challenges, ParseWwwAuthenticate(header));
  KILN_TRY_ASSIGN(Credentials creds, creds_.Get(endpoint_.name));
  const Challenge* bearer = nullptr;
  const Challenge* basic = nullptr;
  for (const auto& c : challenges) {
    if (c.scheme == "bearer" && !bearer) bearer = &c;
    if (c.scheme == "basic" && !basic) basic = &c;
  }
  if (!bearer && basic) {
    if (creds.username.empty())
      return Fail(Error(ErrorCode::kAuth, "authentication required")
                      .WithHint(fmt::format("log in with `kiln login {}`", endpoint_.name)));
    std::lock_guard<std::mutex> lock(mu_);
    authorization_ = "Basic " + Base64Encode(creds.username + ":" + creds.password);
    return Ok();
  }
  if (!bearer)
    return Fail(Error(ErrorCode::kAuth, fmt::format("unsupported authentication challenge {}",
                                                    Quote(header))));
  std::string realm = bearer->Param("realm");
  if (!StartsWith(realm, "http://") && !StartsWith(realm, "https://"))
    return Fail(Error(ErrorCode::kAuth, fmt::format("invalid bearer realm {}", Quote(realm))));
  std::string service = bearer->Param("service");

  HttpRequest req;
  req.url = realm;
  req.headers.emplace_back("User-Agent", options_.user_agent);
  if (!creds.identity_token.empty()) {
    // OAuth2 refresh-token grant, as docker does for identity tokens.
    std::vector<std::pair<std::string, std::string>> form = {
        {"grant_type", "refresh_token"}, {"refresh_token", creds.identity_token},
        {"service", service}, {"client_id", "kiln"}};
    if (!scopes_.empty()) form.emplace_back("scope", Join(scopes_, " "));
    req.method = "POST";
    req.body = FormEncode(form);
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  } else {
    std::vector<std::pair<std::string, std::string>> query;
    if (!service.empty()) query.emplace_back("service", service);
    for (const auto& s : scopes_) query.emplace_back("scope", s);
    if (!query.empty()) req.url += (realm.find('?') == std::string::npos ? "?" : "&") + FormEncode(query);
    if (!creds.username.empty())
      req.headers.emplace_back("Authorization",
                               "Basic " + Base64Encode(creds.username + ":" + creds.password));
  }
  // The token server is a different host: use its own endpoint TLS defaults.
  auto resp = http_.Send(req, nullptr);
  if (!resp) return Fail(std::move(resp).error().Wrap("fetching a token from {}", realm));
  if (resp->status != 200) {
    Error e = HttpStatusError(resp->status, resp->body, endpoint_.name);
    if (resp->status == 401 || resp->status == 403)
      e = Error(ErrorCode::kAuth, fmt::format("incorrect username or password ({})", resp->status))
              .WithHint(fmt::format("check your credentials with `kiln login {}`", endpoint_.name));
    return Fail(std::move(e).Wrap("fetching a token from {}", realm));
  }
  auto j = nlohmann::json::parse(resp->body, nullptr, false);
  std::string token;
  if (j.is_object()) {
    for (const char* key : {"token", "access_token"}) {
      if (auto it = j.find(key); it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
        token = it->get<std::string>();
        break;
      }
    }
  }
  if (token.empty())
    return Fail(Error(ErrorCode::kAuth, "token response has no \"token\" or \"access_token\"")
                    .Wrap("fetching a token from {}", realm));
  std::lock_guard<std::mutex> lock(mu_);
  authorization_ = "Bearer " + token;
  return Ok();
}

Result<HttpResponse> Session::Do(const std::function<HttpRequest()>& make, const BodySink* sink, Retry retry) {
  const int max_attempts = retry == Retry::kYes ? options_.max_attempts : 1;
  bool answered_challenge = false;
  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    HttpRequest req = make();
    req.tls = endpoint_.tls;
    req.headers.emplace_back("User-Agent", options_.user_agent);
    std::string auth = CachedAuthorization();
    if (!auth.empty()) req.headers.emplace_back("Authorization", auth);
    auto resp = http_.Send(req, sink);
    if (!resp) {
      if (resp.error().code() != ErrorCode::kNetwork || attempt >= max_attempts)
        return resp;
      options_.sleep(Backoff(attempt, nullptr));
      continue;
    }
    if (resp->status == 401 && !answered_challenge && retry == Retry::kYes) {
      auto header = resp->Header("www-authenticate");
      if (!header) return resp;
      answered_challenge = true;
      // Another thread may have fetched a token while this request was in
      // flight; use it rather than asking the token server again.
      std::lock_guard<std::mutex> lock(auth_mu_);
      if (CachedAuthorization() == auth) KILN_TRY(Authenticate(*header));
      --attempt;  // answering a challenge is not a failed attempt
      continue;
    }
    if (Retryable(resp->status) && attempt < max_attempts) {
      options_.sleep(Backoff(attempt, &*resp));
      continue;
    }
    return resp;
  }
}

}  // namespace kiln::registry
