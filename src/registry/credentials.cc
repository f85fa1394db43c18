#include "registry/credentials.h"

#include <cstdlib>
#include <cstring>
#include <optional>
#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/fs.h"
#include "base/strings.h"
#include "sys/process.h"

namespace kiln::registry {

namespace {

using json = nlohmann::json;

constexpr std::string_view kDockerHubKey = "https://index.docker.io/v1/";

// Reads config.json as a JSON object; an absent file is an empty object.
Result<json> LoadConfig(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) return json::object();
    return Fail(std::move(text).error());
  }
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Fail(Error::Invalid(fmt::format("{}: not a JSON object", path)));
  return j;
}

std::string StringField(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// "https://host/v1/" -> "host".
std::string StripUrl(std::string_view key) {
  if (StartsWith(key, "https://")) key.remove_prefix(8);
  else if (StartsWith(key, "http://")) key.remove_prefix(7);
  return std::string(CutString(key, '/').first);
}

// The helper configured for `registry`: credHelpers first, then credsStore.
std::string HelperFor(const json& config, std::string_view registry) {
  std::string key = CredentialKey(registry);
  if (auto h = config.find("credHelpers"); h != config.end() && h->is_object()) {
    for (const auto& [k, v] : h->items())
      if ((k == key || StripUrl(k) == StripUrl(key)) && v.is_string()) return v.get<std::string>();
  }
  return StringField(config, "credsStore");
}

class ExecRunner : public CredentialHelperRunner {
 public:
  explicit ExecRunner(std::string search_path)
      : search_path_(std::move(search_path)), processes_(sys::NewRealProcessRunner()) {}

  Result<std::string> Run(std::string_view helper, std::string_view verb,
                          std::string_view input) override {
    std::string name = "docker-credential-" + std::string(helper);
    auto exe = sys::LookPath(name, search_path_.empty() ? std::nullopt
                                                        : std::optional<std::string_view>(search_path_));
    if (!exe)
      return Fail(Error::NotFound(fmt::format("credential helper {} not found in PATH", name)));
    // Only the verb goes on the command line; the server URL and any secret
    // go through stdin, as the helper protocol has it.
    sys::ProcessSpec spec{{*exe, std::string(verb)}};
    spec.input = std::string(input);
    auto out = processes_->Run(spec);
    explicit_bzero(spec.input.data(), spec.input.size());
    if (!out) return Fail(std::move(out).error().Wrap("running {} {}", name, verb));
    if (!out->status.success())
      return Fail(Error(ErrorCode::kAuth, fmt::format("{} {} failed: {}", name, verb,
                                                      TrimSpace(out->out + out->err))));
    return std::move(out->out);
  }

 private:
  std::string search_path_;
  std::unique_ptr<sys::ProcessRunner> processes_;
};

}  // namespace

std::unique_ptr<CredentialHelperRunner> NewExecCredentialHelperRunner(std::string search_path) {
  return std::make_unique<ExecRunner>(std::move(search_path));
}

std::string CredentialKey(std::string_view registry) {
  if (registry == "docker.io" || registry == "index.docker.io" ||
      registry == "registry-1.docker.io")
    return std::string(kDockerHubKey);
  return std::string(registry);
}

std::string CredentialStore::DefaultConfigDir() {
  if (const char* d = getenv("DOCKER_CONFIG"); d && *d) return d;
  const char* home = getenv("HOME");
  return JoinPath(home && *home ? home : "/root", ".docker");
}

Result<Credentials> CredentialStore::Get(std::string_view registry) const {
  std::string path = JoinPath(config_dir_, "config.json");
  KILN_TRY_ASSIGN(json config, LoadConfig(path));
  std::string key = CredentialKey(registry);
  Credentials creds;
  if (std::string helper = HelperFor(config, registry); !helper.empty()) {
    auto out = runner_.Run(helper, "get", key);
    if (!out) {
      // The helper protocol reports "credentials not found" as a failure.
      if (out.error().message().find("credentials not found") != std::string::npos) return creds;
      return Fail(std::move(out).error().Wrap("getting credentials for {}", registry));
    }
    json j = json::parse(*out, nullptr, false);
    if (!j.is_object())
      return Fail(Error::Invalid(fmt::format("docker-credential-{} get: output is not a JSON object",
                                             helper)));
    std::string user = StringField(j, "Username");
    std::string secret = StringField(j, "Secret");
    if (user == "<token>") creds.identity_token = secret;
    else creds.username = user, creds.password = secret;
    return creds;
  }
  auto auths = config.find("auths");
  if (auths == config.end() || !auths->is_object()) return creds;
  for (const auto& [k, v] : auths->items()) {
    if (k != key && StripUrl(k) != StripUrl(key)) continue;
    if (!v.is_object()) continue;
    std::string auth = StringField(v, "auth");
    if (!auth.empty()) {
      auto decoded = Base64Decode(auth);
      Cut c = decoded ? CutString(*decoded, ':') : Cut{};
      if (!c.found)
        return Fail(Error::Invalid(fmt::format("{}: invalid \"auth\" value for {}", path, k)));
      creds.username = std::string(c.first);
      creds.password = std::string(c.second);
    }
    creds.identity_token = StringField(v, "identitytoken");
    return creds;
  }
  return creds;
}

Result<void> CredentialStore::Store(std::string_view registry, const Credentials& creds) {
  std::string path = JoinPath(config_dir_, "config.json");
  KILN_TRY_ASSIGN(json config, LoadConfig(path));
  std::string key = CredentialKey(registry);
  json entry = json::object();
  if (std::string helper = HelperFor(config, registry); !helper.empty()) {
    json in = {{"ServerURL", key},
               {"Username", creds.identity_token.empty() ? creds.username : "<token>"},
               {"Secret", creds.identity_token.empty() ? creds.password : creds.identity_token}};
    auto out = runner_.Run(helper, "store", in.dump());
    if (!out) return Fail(std::move(out).error().Wrap("storing credentials for {}", registry));
  } else {
    entry["auth"] = Base64Encode(creds.username + ":" + creds.password);
    if (!creds.identity_token.empty()) entry["identitytoken"] = creds.identity_token;
  }
  if (!config.contains("auths") || !config["auths"].is_object()) config["auths"] = json::object();
  config["auths"][key] = entry;
  KILN_TRY(MakeDirs(config_dir_, 0700));
  return WriteFileAtomic(path, config.dump(1, '\t') + "\n", Durability::kFsync, 0600);
}

Result<bool> CredentialStore::Erase(std::string_view registry) {
  std::string path = JoinPath(config_dir_, "config.json");
  KILN_TRY_ASSIGN(json config, LoadConfig(path));
  std::string key = CredentialKey(registry);
  bool found = false;
  if (std::string helper = HelperFor(config, registry); !helper.empty()) {
    auto out = runner_.Run(helper, "erase", key);
    if (out) found = true;
    else if (out.error().message().find("credentials not found") == std::string::npos)
      return Fail(std::move(out).error().Wrap("erasing credentials for {}", registry));
  }
  if (auto auths = config.find("auths"); auths != config.end() && auths->is_object()) {
    for (auto it = auths->begin(); it != auths->end(); ++it) {
      if (it.key() == key || StripUrl(it.key()) == StripUrl(key)) {
        auths->erase(it);
        found = true;
        break;
      }
    }
  }
  if (found) KILN_TRY(WriteFileAtomic(path, config.dump(1, '\t') + "\n", Durability::kFsync, 0600));
  return found;
}

}  // namespace kiln::registry
