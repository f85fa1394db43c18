#include "registry/endpoint.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>

#include "base/fs.h"
#include "base/strings.h"

namespace kiln::registry {

namespace {

// "host:port" -> "host"; "[::1]:5000" -> "::1"; "::1" -> "::1".
std::string HostOf(std::string_view registry) {
  if (StartsWith(registry, "[")) {
    size_t close = registry.find(']');
    return std::string(registry.substr(1, close == std::string_view::npos ? registry.npos : close - 1));
  }
  if (std::count(registry.begin(), registry.end(), ':') > 1) return std::string(registry);
  return std::string(CutString(registry, ':').first);
}

}  // namespace

bool IsLoopbackRegistry(std::string_view registry) {
  std::string host = HostOf(registry);
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

Result<Endpoint> ResolveEndpoint(std::string_view registry, const EndpointOptions& options) {
  if (registry.empty()) return Fail(Error::Invalid("empty registry name"));
  Endpoint ep;
  ep.name = std::string(registry);
  std::string host_port = std::string(registry);
  if (registry == "docker.io" || registry == "index.docker.io") host_port = "registry-1.docker.io";
  bool insecure = IsLoopbackRegistry(registry) ||
                  std::find(options.insecure_registries.begin(), options.insecure_registries.end(),
                            registry) != options.insecure_registries.end();
  ep.base_url = (insecure ? "http://" : "https://") + host_port;
  if (insecure || options.certs_dir.empty()) return ep;

  std::string dir = JoinPath(options.certs_dir, registry);
  KILN_TRY_ASSIGN(auto names, ListDirectoryIfExists(dir));
  for (const auto& n : names) {
    std::string path = JoinPath(dir, n);
    if (EndsWith(n, ".crt")) {
      ep.tls.ca_files.push_back(path);
    } else if (EndsWith(n, ".cert")) {
      std::string key = n.substr(0, n.size() - 5) + ".key";
      if (std::find(names.begin(), names.end(), key) == names.end())
        return Fail(Error(ErrorCode::kIo, fmt::format("missing key {} for client certificate {}",
                                                      JoinPath(dir, key), path)));
      ep.tls.client_cert_file = path;
      ep.tls.client_key_file = JoinPath(dir, key);
    }
  }
  return ep;
}

}  // namespace kiln::registry
