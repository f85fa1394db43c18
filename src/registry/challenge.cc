#include "registry/challenge.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

#include "base/strings.h"

namespace kiln::registry {

std::string Challenge::Param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? "" : it->second;
}

namespace {

bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~/:=").find(c) != std::string_view::npos;
}

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

// A token that stops at '=' (auth-scheme or parameter name).
std::string_view Name(std::string_view s, size_t& i) {
  size_t start = i;
  while (i < s.size() && IsTokenChar(s[i]) && s[i] != '=') ++i;
  return s.substr(start, i - start);
}

// A token (which may contain '=', as token68 does) or a quoted string.
Result<std::string> Value(std::string_view s, size_t& i) {
  if (i < s.size() && s[i] == '"') {
    size_t start = i++;
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i++];
    }
    if (i >= s.size())
      return Fail(Error::Invalid(
          fmt::format("malformed WWW-Authenticate header: unterminated quoted string at offset {}", start)));
    ++i;
    return out;
  }
  size_t start = i;
  while (i < s.size() && IsTokenChar(s[i])) ++i;
  return std::string(s.substr(start, i - start));
}

}  // namespace

Result<std::vector<Challenge>> ParseWwwAuthenticate(std::string_view s) {
  std::vector<Challenge> out;
  size_t i = 0;
  auto skip = [&](bool commas) {
    while (i < s.size() && (IsSpace(s[i]) || (commas && s[i] == ','))) ++i;
  };
  while (true) {
    skip(true);
    if (i >= s.size()) break;
    std::string_view scheme = Name(s, i);
    if (scheme.empty())
      return Fail(Error::Invalid(fmt::format(
          "malformed WWW-Authenticate header: unexpected {} at offset {}", Quote(s.substr(i, 1)), i)));
    Challenge ch;
    ch.scheme = ToLower(scheme);
    // Parameters follow until a name that is not followed by '=', which
    // starts the next challenge.
    while (true) {
      size_t save = i;
      skip(true);
      std::string_view name = Name(s, i);
      skip(false);
      if (name.empty() || i >= s.size() || s[i] != '=') {
        i = save;
        break;
      }
      ++i;
      skip(false);
      KILN_TRY_ASSIGN(std::string value, Value(s, i));
      ch.params[ToLower(name)] = std::move(value);
    }
    out.push_back(std::move(ch));
  }
  if (out.empty()) return Fail(Error::Invalid("malformed WWW-Authenticate header: no challenge"));
  return out;
}

std::vector<RegistryErrorEntry> ParseRegistryErrors(std::string_view body) {
  std::vector<RegistryErrorEntry> out;
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  auto it = j.find("errors");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object()) continue;
    RegistryErrorEntry entry;
    if (auto c = e.find("code"); c != e.end() && c->is_string()) entry.code = c->get<std::string>();
    if (auto m = e.find("message"); m != e.end() && m->is_string())
      entry.message = m->get<std::string>();
    if (entry.code.empty() && entry.message.empty()) continue;
    out.push_back(std::move(entry));
  }
  return out;
}

namespace {

std::string_view Reason(int status) {
  switch (status) {
    case 400: return "bad request";
    case 401: return "unauthorized";
    case 403: return "denied";
    case 404: return "not found";
    case 405: return "method not allowed";
    case 408: return "request timeout";
    case 413: return "request entity too large";
    case 416: return "requested range not satisfiable";
    case 429: return "too many requests";
    case 500: return "internal server error";
    case 502: return "bad gateway";
    case 503: return "service unavailable";
    case 504: return "gateway timeout";
  }
  return "unexpected HTTP status";
}

}  // namespace

Error HttpStatusError(int status, std::string_view body, std::string_view registry) {
  std::vector<std::string> messages;
  for (const auto& e : ParseRegistryErrors(body)) {
    std::string m = e.message.empty() ? ToLower(e.code) : e.message;
    if (std::find(messages.begin(), messages.end(), m) == messages.end()) messages.push_back(m);
  }
  std::string text = messages.empty() ? std::string(Reason(status)) : Join(messages, "; ");
  text += fmt::format(" ({})", status);
  if (status == 401 || status == 403) {
    return Error(ErrorCode::kAuth, text)
        .WithHint(fmt::format("check your credentials with `kiln login {}`", registry));
  }
  if (status == 404) return Error::NotFound(text);
  if (status == 408 || status == 429 || status >= 500) return Error(ErrorCode::kNetwork, text);
  return Error::Invalid(text);
}

}  // namespace kiln::registry
