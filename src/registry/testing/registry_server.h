#pragma once

// Runs Debian's docker-registry (distribution 2.8) for tests: storage in a
// temp dir, listening on a free port, optionally with TLS, htpasswd or
// token auth. Stopped (SIGTERM) on destruction.

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/error.h"
#include "base/fs.h"

namespace kiln::registry::testing {

struct RegistryServerOptions {
  std::string host = "127.0.0.1";
  // TLS certificate and key (PEM files); plain HTTP when empty.
  std::string tls_cert;
  std::string tls_key;
  // An htpasswd file (bcrypt) to require basic auth.
  std::string htpasswd;
  // Token auth: {realm, service, issuer, rootcertbundle}.
  std::string token_realm;
  std::string token_service;
  std::string token_issuer;
  std::string token_rootcertbundle;
};

class RegistryServer {
 public:
  // Starts the registry and waits (up to 10 s) until it accepts connections.
  // kNotFound if /usr/bin/docker-registry is missing; kIo with the log tail
  // if it exits early.
  static Result<std::unique_ptr<RegistryServer>> Start(RegistryServerOptions options = {});
  ~RegistryServer();

  // "127.0.0.1:PORT".
  std::string address() const { return host_ + ":" + std::to_string(port_); }
  const std::string& storage_dir() const { return storage_; }

 private:
  RegistryServer(TempDir dir) : dir_(std::move(dir)) {}
  TempDir dir_;
  std::string host_;
  int port_ = 0;
  std::string storage_;
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound then released).
Result<int> FreePort();

}  // namespace kiln::registry::testing
