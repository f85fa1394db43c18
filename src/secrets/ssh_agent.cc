#include "secrets/ssh_agent.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/fs.h"
#include "base/strings.h"
#include "secrets/ssh_wire_internal.h"

namespace kiln::secrets {

using internal::PutByte;
using internal::PutString;
using internal::PutU32;
using internal::WireReader;

namespace {

// Waits until `fd` is ready for `events` or `cancel_fd` is readable.
Result<void> WaitFor(int fd, short events, int cancel_fd) {
  while (true) {
    struct pollfd fds[2] = {{fd, events, 0}, {cancel_fd, POLLIN, 0}};
    int n = poll(fds, cancel_fd >= 0 ? 2 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Errno("poll", errno));
    }
    if (cancel_fd >= 0 && (fds[1].revents & POLLIN))
      return Fail(Error(ErrorCode::kInterrupted, "ssh agent server stopping"));
    if (fds[0].revents) return Ok();
  }
}

// Reads exactly `n` bytes. Returns false on end of stream before the first
// byte; a stream ending mid-way is kIo.
Result<bool> ReadExact(int fd, char* buf, size_t n, int cancel_fd) {
  size_t got = 0;
  while (got < n) {
    KILN_TRY(WaitFor(fd, POLLIN, cancel_fd));
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Fail(Error::Errno("read from agent socket", errno));
    }
    if (r == 0) {
      if (got == 0) return false;
      return Fail(Error(ErrorCode::kIo, "agent connection closed mid-message"));
    }
    got += r;
  }
  return true;
}

Result<void> WriteExact(int fd, std::string_view data, int cancel_fd) {
  while (!data.empty()) {
    KILN_TRY(WaitFor(fd, POLLOUT, cancel_fd));
    ssize_t w = send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Fail(Error::Errno("write to agent socket", errno));
    }
    data.remove_prefix(w);
  }
  return Ok();
}

// One length-prefixed agent message; nullopt at a clean end of stream.
Result<std::optional<std::string>> ReadMessage(int fd, int cancel_fd) {
  char len_buf[4];
  KILN_TRY_ASSIGN(bool more, ReadExact(fd, len_buf, 4, cancel_fd));
  if (!more) return std::optional<std::string>();
  WireReader r(std::string_view(len_buf, 4));
  KILN_TRY_ASSIGN(uint32_t len, r.U32("message length"));
  if (len == 0 || len > kMaxAgentMessage)
    return Fail(Error::Invalid(fmt::format("agent message of {} bytes", len)));
  std::string body(len, '\0');
  KILN_TRY_ASSIGN(bool complete, ReadExact(fd, body.data(), len, cancel_fd));
  if (!complete) return Fail(Error(ErrorCode::kIo, "agent connection closed mid-message"));
  return std::optional<std::string>(std::move(body));
}

Result<void> WriteMessage(int fd, std::string_view body, int cancel_fd) {
  std::string framed;
  PutU32(&framed, static_cast<uint32_t>(body.size()));
  framed.append(body);
  return WriteExact(fd, framed, cancel_fd);
}

std::string FailureMessage() { return std::string(1, static_cast<char>(kSshAgentFailure)); }

Result<sockaddr_un> UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Fail(Error::Invalid(fmt::format("socket path {} is longer than {} bytes", path,
                                           sizeof addr.sun_path - 1)));
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

class UpstreamConnection : public AgentConnection {
 public:
  explicit UpstreamConnection(Fd fd) : fd_(std::move(fd)) {}
  Result<std::string> Roundtrip(std::string_view request, int cancel_fd) override {
    KILN_TRY(WriteMessage(fd_.get(), request, cancel_fd));
    KILN_TRY_ASSIGN(auto reply, ReadMessage(fd_.get(), cancel_fd));
    if (!reply) return Fail(Error(ErrorCode::kIo, "upstream agent closed the connection"));
    return std::move(*reply);
  }

 private:
  Fd fd_;
};

class UpstreamBackend : public AgentBackend {
 public:
  explicit UpstreamBackend(std::string path) : path_(std::move(path)) {}
  Result<std::unique_ptr<AgentConnection>> Connect() override {
    KILN_TRY_ASSIGN(auto addr, UnixAddress(path_));
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Fail(Error::Errno("socket", errno));
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return Fail(Error::Io(path_, errno, "connect to ssh agent"));
    return std::unique_ptr<AgentConnection>(std::make_unique<UpstreamConnection>(std::move(fd)));
  }

 private:
  std::string path_;
};

class KeyConnection : public AgentConnection {
 public:
  explicit KeyConnection(const std::vector<SshKey>& keys) : keys_(keys) {}
  Result<std::string> Roundtrip(std::string_view request, int cancel_fd) override {
    WireReader r(request);
    KILN_TRY_ASSIGN(uint8_t type, r.Byte("message type"));
    std::string out;
    if (type == kSshAgentcRequestIdentities) {
      PutByte(&out, kSshAgentIdentitiesAnswer);
      PutU32(&out, static_cast<uint32_t>(keys_.size()));
      for (const auto& k : keys_) {
        PutString(&out, k.public_blob());
        PutString(&out, k.comment());
      }
      return out;
    }
    if (type == kSshAgentcSignRequest) {
      auto blob = r.String("key blob");
      auto data = blob ? r.String("data") : Result<std::string_view>(tl::unexpected(blob.error()));
      auto flags = data ? r.U32("flags") : Result<uint32_t>(tl::unexpected(data.error()));
      if (!flags) return FailureMessage();
      for (const auto& k : keys_) {
        if (k.public_blob() != *blob) continue;
        auto sig = k.Sign(*data, *flags);
        if (!sig) return FailureMessage();
        PutByte(&out, kSshAgentSignResponse);
        PutString(&out, *sig);
        return out;
      }
    }
    return FailureMessage();
  }

 private:
  const std::vector<SshKey>& keys_;
};

class KeyBackend : public AgentBackend {
 public:
  explicit KeyBackend(std::vector<SshKey> keys) : keys_(std::move(keys)) {}
  Result<std::unique_ptr<AgentConnection>> Connect() override {
    return std::unique_ptr<AgentConnection>(std::make_unique<KeyConnection>(keys_));
  }

 private:
  const std::vector<SshKey> keys_;
};

}  // namespace

std::shared_ptr<AgentBackend> UpstreamAgent(std::string socket_path) {
  return std::make_shared<UpstreamBackend>(std::move(socket_path));
}

std::shared_ptr<AgentBackend> KeyAgent(std::vector<SshKey> keys) {
  return std::make_shared<KeyBackend>(std::move(keys));
}

AgentServer::AgentServer(std::string path, std::shared_ptr<AgentBackend> backend)
    : path_(std::move(path)), backend_(std::move(backend)) {}

Result<std::unique_ptr<AgentServer>> AgentServer::Start(std::string path,
                                                        std::shared_ptr<AgentBackend> backend,
                                                        SocketOwner owner) {
  KILN_TRY_ASSIGN(auto addr, UnixAddress(path));
  std::unique_ptr<AgentServer> s(new AgentServer(path, std::move(backend)));
  s->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (s->stop_fd_ < 0) return Fail(Error::Errno("eventfd", errno));
  s->listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s->listen_fd_ < 0) return Fail(Error::Errno("socket", errno));
  if (bind(s->listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Fail(Error::Io(path, errno, "bind"));
  // 1. Restrict the socket before anyone can connect (listen comes last).
  if (chown(path.c_str(), owner.uid, owner.gid) != 0) return Fail(Error::Io(path, errno, "chown"));
  if (chmod(path.c_str(), owner.mode) != 0) return Fail(Error::Io(path, errno, "chmod"));
  if (listen(s->listen_fd_, 16) != 0) return Fail(Error::Io(path, errno, "listen"));
  // 2. Serve.
  s->acceptor_ = std::thread([srv = s.get()] { srv->AcceptLoop(); });
  return s;
}

AgentServer::~AgentServer() {
  Stop();
  if (listen_fd_ >= 0) close(listen_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

void AgentServer::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
  }
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> clients;
  {
    std::lock_guard<std::mutex> lock(mu_);
    clients.swap(clients_);
  }
  for (auto& t : clients) t.join();
  if (listen_fd_ >= 0) unlink(path_.c_str());
}

std::vector<uint8_t> AgentServer::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  return refused_;
}

void AgentServer::AcceptLoop() {
  while (true) {
    if (!WaitFor(listen_fd_, POLLIN, stop_fd_)) return;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      // EMFILE and friends: back off instead of spinning.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    std::lock_guard<std::mutex> lock(mu_);
    clients_.emplace_back([this, fd] { Serve(fd); });
  }
}

void AgentServer::Serve(int client_fd) {
  Fd client(client_fd);
  std::unique_ptr<AgentConnection> conn;
  while (true) {
    auto msg = ReadMessage(client.get(), stop_fd_);
    if (!msg || !*msg) return;
    const std::string& request = **msg;
    uint8_t type = static_cast<uint8_t>(request[0]);
    std::string reply;
    // The filter: only listing keys and signing pass; add/remove/lock and
    // extensions are refused without reaching the backend.
    if (type != kSshAgentcRequestIdentities && type != kSshAgentcSignRequest) {
      std::lock_guard<std::mutex> lock(mu_);
      refused_.push_back(type);
      reply = FailureMessage();
    } else {
      if (!conn) {
        auto c = backend_->Connect();
        if (c) conn = std::move(*c);
      }
      if (conn) {
        auto r = conn->Roundtrip(request, stop_fd_);
        if (r) reply = std::move(*r);
        else if (r.error().code() == ErrorCode::kInterrupted) return;
        else conn.reset();
      }
      if (reply.empty()) reply = FailureMessage();
    }
    if (!WriteMessage(client.get(), reply, stop_fd_)) return;
  }
}

void SshAgents::Add(std::string id, std::shared_ptr<AgentBackend> backend) {
  backends_.insert_or_assign(std::move(id), std::move(backend));
}

std::shared_ptr<AgentBackend> SshAgents::Find(std::string_view id) const {
  auto it = backends_.find(id);
  return it == backends_.end() ? nullptr : it->second;
}

Result<SshAgents> SshAgents::Load(const std::vector<SshSpec>& specs, const EnvLookup& env) {
  SshAgents agents;
  for (const auto& spec : specs) {
    auto bad = [&](Error e) {
      return Fail(Error(e.code(), fmt::format("ssh {}: {}", Quote(spec.id), e.message()))
                      .WithHint(e.hint()));
    };
    std::vector<std::string> paths = spec.paths;
    if (paths.empty()) {
      auto sock = env("SSH_AUTH_SOCK");
      if (!sock || sock->empty())
        return bad(Error::NotFound("SSH_AUTH_SOCK is not set")
                       .WithHint("start ssh-agent, or pass --ssh ID=KEYFILE"));
      paths.push_back(*sock);
    }
    std::vector<SshKey> keys;
    std::string socket_path;
    for (const auto& p : paths) {
      struct stat st;
      if (stat(p.c_str(), &st) != 0) return bad(Error::Io(p, errno));
      if (S_ISSOCK(st.st_mode)) {
        if (paths.size() != 1)
          return bad(Error::Usage(fmt::format("{} is a socket; a socket must be the only path", p)));
        socket_path = p;
        continue;
      }
      auto key = SshKey::FromFile(p);
      if (!key) return bad(std::move(key).error());
      keys.push_back(std::move(*key));
    }
    agents.Add(spec.id, socket_path.empty() ? KeyAgent(std::move(keys)) : UpstreamAgent(socket_path));
  }
  return agents;
}

StepSsh::~StepSsh() { Stop(); }

void StepSsh::Stop() {
  for (auto& s : servers_) s->Stop();
  servers_.clear();
  mounts_.clear();
  env_.clear();
  if (!dir_.empty()) {
    (void)RemoveAll(dir_);
    dir_.clear();
  }
}

Result<StepSsh> PrepareSsh(const std::vector<SshMountRequest>& requests, const SshAgents& agents,
                           const std::string& scratch_dir) {
  StepSsh out;
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    std::string id = r.id.empty() ? "default" : r.id;
    std::shared_ptr<AgentBackend> backend = agents.Find(id);
    if (!backend) {
      if (r.required == Requirement::kRequired)
        return Fail(Error::NotFound(fmt::format("ssh {} is required but was not provided", Quote(id)))
                        .WithHint(id == "default" ? "pass --ssh default"
                                                  : fmt::format("pass --ssh {}=PATH", id)));
      continue;
    }
    if (out.dir_.empty()) {
      std::string dir = JoinPath(scratch_dir, "ssh-" + RandomHex(8));
      if (mkdir(dir.c_str(), 0700) != 0) return Fail(Error::Io(dir, errno, "mkdir"));
      out.dir_ = dir;
    }
    std::string target = r.target.empty() ? fmt::format("/run/buildkit/ssh_agent.{}", i) : r.target;
    std::string sock = JoinPath(out.dir_, fmt::format("agent-{}", i));
    KILN_TRY_ASSIGN(auto server, AgentServer::Start(sock, backend, {r.mode, r.uid, r.gid}));
    out.servers_.push_back(std::move(server));
    out.mounts_.push_back({sock, target});
    if (out.env_.empty()) out.env_.emplace_back("SSH_AUTH_SOCK", target);
  }
  return out;
}

}  // namespace kiln::secrets
