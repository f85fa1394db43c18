#pragma once

// SSH agent forwarding for `RUN --mount=type=ssh`. For each step kiln
// listens on a fresh unix socket, bind-mounted into the container, and
// answers through a filter that allows only REQUEST_IDENTITIES and
// SIGN_REQUEST (adding, removing and locking keys are refused). Behind the
// filter sits either the user's agent (`--ssh default` / `ID=SOCKET`) or an
// in-process agent holding keys read from files (`ID=KEYFILE[,KEYFILE]`).
// See docs/secrets.md, "SSH".

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/error.h"
#include "secrets/mounter.h"
#include "secrets/source.h"
#include "secrets/ssh_key.h"

namespace kiln::secrets {

// Agent protocol message numbers used here.
inline constexpr uint8_t kSshAgentFailure = 5;
inline constexpr uint8_t kSshAgentcRequestIdentities = 11;
inline constexpr uint8_t kSshAgentIdentitiesAnswer = 12;
inline constexpr uint8_t kSshAgentcSignRequest = 13;
inline constexpr uint8_t kSshAgentSignResponse = 14;
// OpenSSH's limit on one agent message.
inline constexpr size_t kMaxAgentMessage = 256 * 1024;

// One client's session with an agent: a request (type byte + body, without
// the length prefix) in, a response out. Not thread-safe.
class AgentConnection {
 public:
  virtual ~AgentConnection() = default;
  // `cancel_fd` becomes readable when the server is stopping; blocking
  // implementations must poll it and fail with kInterrupted.
  virtual Result<std::string> Roundtrip(std::string_view request, int cancel_fd) = 0;
};

// Where an agent's answers come from. Thread-safe: Connect() is called from
// each client's thread.
class AgentBackend {
 public:
  virtual ~AgentBackend() = default;
  virtual Result<std::unique_ptr<AgentConnection>> Connect() = 0;
};

// Forwards to an agent listening on a unix socket (one upstream connection
// per client). Connect() fails with kIo naming the socket.
std::shared_ptr<AgentBackend> UpstreamAgent(std::string socket_path);

// Answers from `keys`: identities and signatures; anything else fails.
std::shared_ptr<AgentBackend> KeyAgent(std::vector<SshKey> keys);

// Who may connect to a served socket.
struct SocketOwner {
  int mode = 0600;
  int uid = 0;
  int gid = 0;
};

// Listens on `path` and serves each client on its own thread through the
// message filter. Destruction (or Stop()) stops accepting, disconnects
// clients, joins every thread and removes the socket file.
class AgentServer {
 public:
  // kInvalid if `path` is too long for a unix socket; kIo for socket errors.
  static Result<std::unique_ptr<AgentServer>> Start(std::string path,
                                                    std::shared_ptr<AgentBackend> backend,
                                                    SocketOwner owner = {});
  ~AgentServer();
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  const std::string& path() const { return path_; }
  void Stop();
  // Message types refused by the filter so far, in order (for tests and
  // logs).
  std::vector<uint8_t> refused() const;

 private:
  AgentServer(std::string path, std::shared_ptr<AgentBackend> backend);
  void AcceptLoop();
  void Serve(int client_fd);

  std::string path_;
  std::shared_ptr<AgentBackend> backend_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd, readable once stopping
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> clients_;  // GUARDED_BY(mu_)
  std::vector<uint8_t> refused_;      // GUARDED_BY(mu_)
  bool stopped_ = false;              // GUARDED_BY(mu_)
};

// The resolved `--ssh` flags of a build: id -> backend. Build-wide;
// thread-safe after construction.
class SshAgents {
 public:
  // `default` with no paths uses $SSH_AUTH_SOCK (kNotFound if unset). A
  // single path that is a socket forwards to it; otherwise every path must
  // be a key file (kUsage if sockets and key files are mixed). Key errors
  // name the file, e.g. `ssh "gh": ssh key /k/id: No such file or directory`.
  static Result<SshAgents> Load(const std::vector<SshSpec>& specs, const EnvLookup& env);

  void Add(std::string id, std::shared_ptr<AgentBackend> backend);
  std::shared_ptr<AgentBackend> Find(std::string_view id) const;

 private:
  std::map<std::string, std::shared_ptr<AgentBackend>, std::less<>> backends_;
};

// What one `RUN --mount=type=ssh,...` asks for.
struct SshMountRequest {
  std::string id = "default";
  std::string target = {};  // "" -> /run/buildkit/ssh_agent.N
  Requirement required = Requirement::kOptional;
  int mode = 0600;
  int uid = 0;
  int gid = 0;
};

// The agent sockets of one step. Move-only; Stop() (or destruction) stops
// every server and removes its directory.
class StepSsh {
 public:
  StepSsh() = default;
  StepSsh(StepSsh&&) = default;
  StepSsh& operator=(StepSsh&&) = default;
  ~StepSsh();

  const std::vector<SecretBindMount>& mounts() const { return mounts_; }
  // {"SSH_AUTH_SOCK", first target}, or empty when nothing was mounted.
  const std::vector<std::pair<std::string, std::string>>& env() const { return env_; }
  void Stop();

 private:
  friend Result<StepSsh> PrepareSsh(const std::vector<SshMountRequest>&, const SshAgents&,
                                    const std::string&);
  std::string dir_;
  std::vector<std::unique_ptr<AgentServer>> servers_;
  std::vector<SecretBindMount> mounts_;
  std::vector<std::pair<std::string, std::string>> env_;
};

// Starts one agent socket per request in a fresh directory under
// `scratch_dir`. kNotFound `ssh "gh" is required but was not provided` for a
// required id that no --ssh flag gave; optional ones are skipped.
Result<StepSsh> PrepareSsh(const std::vector<SshMountRequest>& requests, const SshAgents& agents,
                           const std::string& scratch_dir);

}  // namespace kiln::secrets
