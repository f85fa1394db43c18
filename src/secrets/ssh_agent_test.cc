#include "secrets/ssh_agent.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <map>

#include "base/fs.h"
#include "base/strings.h"

namespace kiln::secrets {
namespace {

// Messages ssh-add sends to change an agent (ssh-add -D sends both
// remove-all variants).
constexpr uint8_t kRemoveAllV1 = 9;
constexpr uint8_t kAddIdentity = 17;
constexpr uint8_t kRemoveAll = 19;

struct Output {
  int status = -1;
  std::string text;  // stdout and stderr
};

// Runs a shell command (tests only: the commands are fixed strings over
// temp paths) and collects its output.
Output RunShell(const std::string& cmd) {
  Output out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.text.append(buf, n);
  int st = pclose(p);
  out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

// Keys generated once for the whole suite (RSA generation is slow-ish).
class SshAgentTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = TempDir::Create("secrets-ssh");
    ASSERT_TRUE(t);
    keys_ = new TempDir(std::move(*t));
    std::string d = keys_->path();
    ASSERT_EQ(RunShell("ssh-keygen -q -t ed25519 -N '' -C ed@test -f " + d + "/ed").status, 0);
    ASSERT_EQ(RunShell("ssh-keygen -q -t rsa -b 2048 -N '' -C rsa@test -f " + d + "/rsa").status, 0);
    ASSERT_EQ(RunShell("ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -C pem@test -f " + d + "/pem").status,
              0);
    ASSERT_EQ(RunShell("ssh-keygen -q -t ed25519 -N hunter22 -C enc -f " + d + "/enc").status, 0);
    ASSERT_EQ(RunShell("ssh-keygen -q -t ecdsa -N '' -C ec -f " + d + "/ec").status, 0);
  }
  static void TearDownTestSuite() {
    delete keys_;
    keys_ = nullptr;
  }
  void SetUp() override {
    auto t = TempDir::Create("secrets-ssh-run");
    ASSERT_TRUE(t);
    run_.emplace(std::move(*t));
  }
  void TearDown() override {
    if (agent_pid_ > 0) kill(agent_pid_, SIGTERM);
  }
  static std::string Key(const std::string& name) { return keys_->path() + "/" + name; }
  // `ssh-keygen -l` of the public key: "256 SHA256:… ed@test (ED25519)\n".
  static std::string Fingerprint(const std::string& name) {
    return RunShell("ssh-keygen -lf " + Key(name) + ".pub").text;
  }
  // Starts OpenSSH's ssh-agent on a socket; remembers its pid to stop it.
  std::string StartRealAgent() {
    std::string sock = run_->path() + "/real.sock";
    Output o = RunShell("ssh-agent -a " + sock);
    size_t p = o.text.find("SSH_AGENT_PID=");
    EXPECT_NE(p, std::string::npos) << o.text;
    if (p != std::string::npos) agent_pid_ = std::stoi(o.text.substr(p + 14));
    return sock;
  }

  static TempDir* keys_;
  std::optional<TempDir> run_;
  int agent_pid_ = -1;
};
TempDir* SshAgentTest::keys_ = nullptr;

TEST_F(SshAgentTest, ParsesKeysLikeSshKeygen) {
  for (const char* name : {"ed", "rsa", "pem"}) {
    auto key = SshKey::FromFile(Key(name));
    ASSERT_TRUE(key) << name << ": " << key.error().message();
    std::string pub = *ReadFile(Key(name) + ".pub");
    std::string want(TrimSpace(pub));
    if (std::string(name) == "pem") want = want.substr(0, want.rfind(' ')) + " " + Key(name);
    EXPECT_EQ(key->AuthorizedKey(), want) << name;
    std::string fp = Fingerprint(name);
    EXPECT_EQ(fp.substr(fp.find(' ') + 1, key->Fingerprint().size()), key->Fingerprint());
  }
  EXPECT_EQ(SshKey::FromFile(Key("ed"))->type(), SshKeyType::kEd25519);
  EXPECT_EQ(SshKey::FromFile(Key("pem"))->type(), SshKeyType::kRsa);
}

TEST_F(SshAgentTest, KeyErrors) {
  auto enc = SshKey::FromFile(Key("enc"));
  ASSERT_FALSE(enc);
  EXPECT_EQ(enc.error().message(), "ssh key " + Key("enc") + ": the key is encrypted with a passphrase");
  EXPECT_EQ(enc.error().hint(), "add it to ssh-agent with ssh-add and pass --ssh ID=$SSH_AUTH_SOCK");
  EXPECT_EQ(enc.error().code(), ErrorCode::kUnsupported);
  auto ec = SshKey::FromFile(Key("ec"));
  EXPECT_EQ(ec.error().message(), "ssh key " + Key("ec") +
                                      ": key type \"ecdsa-sha2-nistp256\" is not supported (ed25519 "
                                      "and RSA are)");
  auto missing = SshKey::FromFile("/nonexistent/id");
  EXPECT_EQ(missing.error().message(), "ssh key /nonexistent/id: No such file or directory");
  auto junk = SshKey::Parse("hello", "junk");
  EXPECT_EQ(junk.error().message(), "ssh key junk: not a PEM private key OpenSSL can read");
  auto trunc = SshKey::Parse(
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA\n-----END OPENSSH PRIVATE KEY-----\n",
      "t");
  EXPECT_EQ(trunc.error().message(), "ssh key t: truncated cipher name");
}

TEST_F(SshAgentTest, KeyAgentServesSshAddAndSignatures) {
  std::vector<SshKey> keys;
  for (const char* name : {"ed", "rsa", "pem"}) keys.push_back(*SshKey::FromFile(Key(name)));
  std::string sock = run_->path() + "/kiln.sock";
  auto server = AgentServer::Start(sock, KeyAgent(std::move(keys)));
  ASSERT_TRUE(server) << server.error().message();
  std::string env = "SSH_AUTH_SOCK=" + sock + " ";

  Output list = RunShell(env + "ssh-add -l");
  EXPECT_EQ(list.status, 0);
  std::string pem_fp = Fingerprint("pem");
  pem_fp.replace(pem_fp.find("pem@test"), 8, Key("pem"));
  EXPECT_EQ(list.text, Fingerprint("ed") + Fingerprint("rsa") + pem_fp);

  ASSERT_TRUE(WriteFile(run_->path() + "/data", "payload to sign\n"));
  for (const char* name : {"ed", "rsa", "pem"}) {
    std::string data = run_->path() + "/data";
    Output sign = RunShell(env + "ssh-keygen -Y sign -n file -f " + Key(name) + ".pub " + data);
    ASSERT_EQ(sign.status, 0) << name << ": " << sign.text;
    // Verify against the public key alone, with no agent.
    Output check = RunShell("ssh-keygen -Y check-novalidate -n file -f " + Key(name) + ".pub -s " +
                       data + ".sig < " + data);
    EXPECT_EQ(check.status, 0) << name << ": " << check.text;
    EXPECT_NE(check.text.find("Good \"file\" signature"), std::string::npos) << check.text;
    unlink((data + ".sig").c_str());
  }

  // The filter refuses adding and removing keys.
  EXPECT_NE(RunShell(env + "ssh-add " + Key("ed")).status, 0);
  EXPECT_NE(RunShell(env + "ssh-add -D").status, 0);
  EXPECT_EQ((*server)->refused(), (std::vector<uint8_t>{kAddIdentity, kRemoveAll, kRemoveAllV1}));
  EXPECT_EQ(RunShell(env + "ssh-add -l").text.size(), list.text.size());
  (*server)->Stop();
  EXPECT_FALSE(PathExists(sock));
}

TEST_F(SshAgentTest, ProxyToRealAgentFiltersWrites) {
  std::string real = StartRealAgent();
  ASSERT_EQ(RunShell("SSH_AUTH_SOCK=" + real + " ssh-add " + Key("ed")).status, 0);
  std::string sock = run_->path() + "/proxy.sock";
  auto server = AgentServer::Start(sock, UpstreamAgent(real));
  ASSERT_TRUE(server);
  std::string env = "SSH_AUTH_SOCK=" + sock + " ";
  Output list = RunShell(env + "ssh-add -l");
  EXPECT_EQ(list.status, 0);
  EXPECT_EQ(list.text, Fingerprint("ed"));

  ASSERT_TRUE(WriteFile(run_->path() + "/data", "x"));
  std::string data = run_->path() + "/data";
  EXPECT_EQ(RunShell(env + "ssh-keygen -Y sign -n file -f " + Key("ed") + ".pub " + data).status, 0);
  EXPECT_EQ(RunShell("ssh-keygen -Y check-novalidate -n file -f " + Key("ed") + ".pub -s " + data +
                ".sig < " + data)
                .status,
            0);

  // Remove-all and lock do not reach the real agent.
  EXPECT_NE(RunShell(env + "ssh-add -D").status, 0);
  EXPECT_NE(RunShell(env + "ssh-add " + Key("rsa")).status, 0);
  EXPECT_EQ(RunShell("SSH_AUTH_SOCK=" + real + " ssh-add -l").text, Fingerprint("ed"));
  EXPECT_EQ((*server)->refused(), (std::vector<uint8_t>{kRemoveAll, kRemoveAllV1, kAddIdentity}));
}

TEST_F(SshAgentTest, UpstreamGoneAnswersFailure) {
  std::string sock = run_->path() + "/proxy.sock";
  auto server = AgentServer::Start(sock, UpstreamAgent(run_->path() + "/nothing.sock"));
  ASSERT_TRUE(server);
  Output list = RunShell("SSH_AUTH_SOCK=" + sock + " ssh-add -l");
  EXPECT_NE(list.status, 0);
  EXPECT_EQ(list.text, "error fetching identities: agent refused operation\n");
}

TEST_F(SshAgentTest, AgentsLoad) {
  std::map<std::string, std::string> env;
  EnvLookup lookup = [&](const std::string& n) -> std::optional<std::string> {
    auto it = env.find(n);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  auto none = SshAgents::Load({*ParseSshFlag("default")}, lookup);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().message(), "ssh \"default\": SSH_AUTH_SOCK is not set");
  auto missing = SshAgents::Load({*ParseSshFlag("gh=/nonexistent/id")}, lookup);
  EXPECT_EQ(missing.error().message(), "ssh \"gh\": /nonexistent/id: No such file or directory");
  std::string real = StartRealAgent();
  env["SSH_AUTH_SOCK"] = real;
  auto mixed = SshAgents::Load({*ParseSshFlag("x=" + real + "," + Key("ed"))}, lookup);
  EXPECT_EQ(mixed.error().message(),
            "ssh \"x\": " + real + " is a socket; a socket must be the only path");
  auto ok = SshAgents::Load(
      {*ParseSshFlag("default"), *ParseSshFlag("gh=" + Key("ed") + "," + Key("rsa"))}, lookup);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_NE(ok->Find("default"), nullptr);
  EXPECT_NE(ok->Find("gh"), nullptr);
  EXPECT_EQ(ok->Find("other"), nullptr);
}

TEST_F(SshAgentTest, PrepareSshForAStep) {
  SshAgents agents;
  agents.Add("default", KeyAgent({*SshKey::FromFile(Key("ed"))}));
  agents.Add("gh", KeyAgent({*SshKey::FromFile(Key("rsa"))}));
  std::string dir;
  {
    auto step = PrepareSsh({{}, {.id = "nope"}, {.id = "gh", .target = "/root/gh.sock", .mode = 0660,
                                                 .uid = 1000, .gid = 1001}},
                           agents, run_->path());
    ASSERT_TRUE(step) << step.error().message();
    ASSERT_EQ(step->mounts().size(), 2u);
    EXPECT_EQ(step->mounts()[0].target, "/run/buildkit/ssh_agent.0");
    EXPECT_EQ(step->mounts()[1].target, "/root/gh.sock");
    EXPECT_EQ(step->env(), (std::vector<std::pair<std::string, std::string>>{
                               {"SSH_AUTH_SOCK", "/run/buildkit/ssh_agent.0"}}));
    struct stat st;
    ASSERT_EQ(stat(step->mounts()[0].source.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    ASSERT_EQ(stat(step->mounts()[1].source.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0660u);
    EXPECT_EQ(st.st_uid, 1000u);
    EXPECT_EQ(st.st_gid, 1001u);
    EXPECT_EQ(RunShell("SSH_AUTH_SOCK=" + step->mounts()[1].source + " ssh-add -l").text,
              Fingerprint("rsa"));
    dir = Dirname(step->mounts()[0].source);
  }
  EXPECT_FALSE(PathExists(dir));

  auto req = PrepareSsh({{.id = "nope", .required = Requirement::kRequired}}, agents, run_->path());
  ASSERT_FALSE(req);
  EXPECT_EQ(req.error().message(), "ssh \"nope\" is required but was not provided");
  EXPECT_EQ(req.error().hint(), "pass --ssh nope=PATH");
}

}  // namespace
}  // namespace kiln::secrets
