#include "registry/credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/digest.h"
#include "base/fs.h"
#include "base/strings.h"

extern char** environ;

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
  explicit ExecRunner(std::string search_path) : search_path_(std::move(search_path)) {}

  Result<std::string> Run(std::string_view helper, std::string_view verb,
                          std::string_view input) override {
    std::string name = "docker-credential-" + std::string(helper);
    std::string path_env = search_path_;
    if (path_env.empty()) {
      const char* p = getenv("PATH");
      path_env = p ? p : "/usr/local/bin:/usr/bin:/bin";
    }
    std::string exe;
    for (const auto& dir : Split(path_env, ':')) {
      std::string candidate = JoinPath(dir.empty() ? "." : dir, name);
      if (access(candidate.c_str(), X_OK) == 0) {
        exe = candidate;
        break;
      }
    }
    if (exe.empty())
      return Fail(Error::NotFound(fmt::format("credential helper {} not found in PATH", name)));

    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0) return Fail(Error::Errno("pipe", errno));
    if (pipe2(out, O_CLOEXEC) != 0) {
      close(in[0]);
      close(in[1]);
      return Fail(Error::Errno("pipe", errno));
    }
    Fd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 2);
    std::string verb_s(verb);
    char* argv[] = {exe.data(), verb_s.data(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return Fail(Error::Io(exe, rc, "spawning"));
    in_r.Reset();
    out_w.Reset();
    // Inputs are tiny (a URL or a small JSON object), well under the pipe
    // buffer, so writing before reading cannot deadlock.
    // A helper that exits without reading stdin must not kill us with SIGPIPE.
    signal(SIGPIPE, SIG_IGN);
    (void)WriteAll(in_w.get(), input, name);
    in_w.Reset();
    std::string output;
    char buf[4096];
    while (true) {
      ssize_t n = read(out_r.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      output.append(buf, n);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      return Fail(Error(ErrorCode::kAuth, fmt::format("{} {} failed: {}", name, verb,
                                                      TrimSpace(output))));
    return output;
  }

 private:
  std::string search_path_;
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
