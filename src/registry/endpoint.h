#pragma once

// Mapping a registry name (as in an image reference) to the URL and TLS
// settings used to reach it, as docker does.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "registry/http.h"

namespace kiln::registry {

struct EndpointOptions {
  // Registries reached over plain HTTP (--insecure-registry), "host[:port]".
  // localhost, 127.0.0.1 and ::1 on any port are always plain HTTP.
  std::vector<std::string> insecure_registries;
  // Base of the per-registry certificate directories (docker's layout:
  // <certs_dir>/<host[:port]>/{*.crt,*.cert,*.key}).
  std::string certs_dir = "/etc/docker/certs.d";
};

struct Endpoint {
  // The registry as named by users ("docker.io", "127.0.0.1:5000").
  std::string name;
  // "https://registry-1.docker.io", "http://127.0.0.1:5000".
  std::string base_url;
  TlsConfig tls;
};

// Resolves `registry` ("docker.io", "ghcr.io", "localhost:5000", "[::1]:80").
// Returns kInvalid for an empty name and kIo when a certs.d directory exists
// but cannot be read, or holds a client *.cert without its *.key.
Result<Endpoint> ResolveEndpoint(std::string_view registry, const EndpointOptions& options);

// Whether `registry` ("host[:port]") is a loopback name that docker always
// treats as insecure.
bool IsLoopbackRegistry(std::string_view registry);

}  // namespace kiln::registry
