// Credentials (docker config.json, helpers), endpoints (certs.d, insecure
// registries), and auth against real registries: htpasswd basic auth and TLS.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/strings.h"
#include "registry/client.h"
#include "registry/credentials.h"
#include "registry/endpoint.h"
#include "registry/testing/image_builder.h"
#include "registry/testing/registry_server.h"

namespace kiln::registry {
namespace {

using testing::RegistryServer;

image::Reference Ref(const std::string& text) {
  auto r = image::Reference::Parse(text);
  EXPECT_TRUE(r) << r.error().Render();
  return *r;
}

int Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

class CredentialStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("kiln-creds");
    ASSERT_TRUE(d);
    dir_ = std::make_unique<TempDir>(std::move(*d));
    runner_ = NewExecCredentialHelperRunner(dir_->path());
  }
  std::string Config() { return JoinPath(dir_->path(), "config.json"); }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<CredentialHelperRunner> runner_;
};

TEST_F(CredentialStoreTest, ReadsAuthsEntries) {
  ASSERT_TRUE(WriteFile(Config(), R"({"auths":{
    "https://index.docker.io/v1/":{"auth":")" + Base64Encode("hub:pw:with:colons") + R"("},
    "https://ghcr.io":{"auth":")" + Base64Encode("gh:tok") + R"("},
    "quay.io":{"identitytoken":"refresh-1"}}})"));
  CredentialStore store(dir_->path(), *runner_);
  auto hub = store.Get("docker.io");
  ASSERT_TRUE(hub) << hub.error().Render();
  EXPECT_EQ(hub->username, "hub");
  EXPECT_EQ(hub->password, "pw:with:colons");
  auto gh = store.Get("ghcr.io");
  ASSERT_TRUE(gh);
  EXPECT_EQ(gh->username, "gh");
  auto quay = store.Get("quay.io");
  ASSERT_TRUE(quay);
  EXPECT_EQ(quay->identity_token, "refresh-1");
  auto none = store.Get("example.com");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST_F(CredentialStoreTest, MissingConfigIsAnonymousAndBadConfigNamesThePath) {
  CredentialStore store(dir_->path(), *runner_);
  auto none = store.Get("docker.io");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(WriteFile(Config(), "{not json"));
  auto bad = store.Get("docker.io");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), Config() + ": not a JSON object");
  ASSERT_TRUE(WriteFile(Config(), R"({"auths":{"x.io":{"auth":"bm9jb2xvbg=="}}})"));
  bad = store.Get("x.io");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), Config() + ": invalid \"auth\" value for x.io");
}

TEST_F(CredentialStoreTest, StoreAndEraseKeepOtherSettings) {
  ASSERT_TRUE(WriteFile(Config(), R"({"psFormat":"table"})"));
  CredentialStore store(dir_->path(), *runner_);
  ASSERT_TRUE(store.Store("docker.io", Credentials{"me", "pw", ""}));
  ASSERT_TRUE(store.Store("127.0.0.1:5000", Credentials{"u", "p", ""}));
  auto text = ReadFile(Config());
  ASSERT_TRUE(text);
  EXPECT_EQ(*text, "{\n\t\"auths\": {\n\t\t\"127.0.0.1:5000\": {\n\t\t\t\"auth\": \"dTpw\"\n\t\t},\n"
                   "\t\t\"https://index.docker.io/v1/\": {\n\t\t\t\"auth\": \"bWU6cHc=\"\n\t\t}\n\t},\n"
                   "\t\"psFormat\": \"table\"\n}\n");
  struct stat st;
  ASSERT_EQ(stat(Config().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto erased = store.Erase("docker.io");
  ASSERT_TRUE(erased);
  EXPECT_TRUE(*erased);
  erased = store.Erase("docker.io");
  ASSERT_TRUE(erased);
  EXPECT_FALSE(*erased);
  EXPECT_TRUE(store.Get("docker.io")->empty());
  EXPECT_EQ(store.Get("127.0.0.1:5000")->password, "p");
}

TEST_F(CredentialStoreTest, CredentialHelpers) {
  std::string log = JoinPath(dir_->path(), "helper.log");
  // A real helper speaking docker's protocol.
  ASSERT_TRUE(WriteFile(JoinPath(dir_->path(), "docker-credential-kilntest"),
                        "#!/bin/sh\ninput=$(cat)\necho \"$1 $input\" >> " + log + "\n"
                        "case \"$1\" in\n"
                        "get) if [ \"$input\" = unknown.io ]; then echo 'credentials not found in native keychain'; exit 1; fi\n"
                        "     if [ \"$input\" = broken.io ]; then echo 'keychain locked'; exit 1; fi\n"
                        "     echo '{\"ServerURL\":\"'$input'\",\"Username\":\"helper-user\",\"Secret\":\"helper-secret\"}';;\n"
                        "esac\n",
                        0755));
  ASSERT_TRUE(WriteFile(Config(), R"({"credHelpers":{"ghcr.io":"kilntest"},"credsStore":"kilntest"})"));
  CredentialStore store(dir_->path(), *runner_);
  auto gh = store.Get("ghcr.io");
  ASSERT_TRUE(gh) << gh.error().Render();
  EXPECT_EQ(gh->username, "helper-user");
  EXPECT_EQ(gh->password, "helper-secret");
  auto unknown = store.Get("unknown.io");
  ASSERT_TRUE(unknown) << unknown.error().Render();
  EXPECT_TRUE(unknown->empty());
  auto broken = store.Get("broken.io");
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(broken.error().Render(),
            "docker-credential-kilntest get failed: keychain locked\nwhile getting credentials for broken.io\n");
  ASSERT_TRUE(store.Store("ghcr.io", Credentials{"u", "p", ""}));
  ASSERT_TRUE(store.Erase("ghcr.io"));
  EXPECT_EQ(*ReadFile(log),
            "get ghcr.io\nget unknown.io\nget broken.io\n"
            "store {\"Secret\":\"p\",\"ServerURL\":\"ghcr.io\",\"Username\":\"u\"}\nerase ghcr.io\n");
  // The secret went to the helper, not into config.json.
  EXPECT_EQ(ReadFile(Config())->find("\"p\""), std::string::npos);

  auto nowhere = NewExecCredentialHelperRunner("/nonexistent");
  CredentialStore missing(dir_->path(), *nowhere);
  auto r = missing.Get("ghcr.io");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "credential helper docker-credential-kilntest not found in PATH");
}

TEST_F(CredentialStoreTest, HelperStderrIsOnlyUsedInFailureMessages) {
  // Warnings on stderr must not corrupt the JSON on stdout; a failure
  // reports both streams.
  ASSERT_TRUE(WriteFile(JoinPath(dir_->path(), "docker-credential-noisy"),
                        "#!/bin/sh\ninput=$(cat)\necho 'warning: keychain slow' >&2\n"
                        "if [ \"$input\" = bad.io ]; then echo 'no keychain'; exit 3; fi\n"
                        "echo '{\"Username\":\"<token>\",\"Secret\":\"refresh\"}'\n",
                        0755));
  ASSERT_TRUE(WriteFile(Config(), R"({"credsStore":"noisy"})"));
  CredentialStore store(dir_->path(), *runner_);
  auto good = store.Get("good.io");
  ASSERT_TRUE(good) << good.error().Render();
  EXPECT_EQ(good->identity_token, "refresh");
  EXPECT_EQ(good->username, "");
  auto bad = store.Get("bad.io");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().Render(),
            "docker-credential-noisy get failed: no keychain\nwarning: keychain slow\n"
            "while getting credentials for bad.io\n");
}

TEST(CredentialKeyTest, DockerHubUsesTheLegacyIndexUrl) {
  EXPECT_EQ(CredentialKey("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(CredentialKey("index.docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(CredentialKey("ghcr.io"), "ghcr.io");
}

TEST(EndpointTest, SchemesAndDockerHub) {
  EndpointOptions o;
  o.certs_dir = "/nonexistent";
  o.insecure_registries = {"reg.local:5000"};
  EXPECT_EQ(ResolveEndpoint("docker.io", o)->base_url, "https://registry-1.docker.io");
  EXPECT_EQ(ResolveEndpoint("ghcr.io", o)->base_url, "https://ghcr.io");
  EXPECT_EQ(ResolveEndpoint("localhost:5000", o)->base_url, "http://localhost:5000");
  EXPECT_EQ(ResolveEndpoint("127.0.0.1:41234", o)->base_url, "http://127.0.0.1:41234");
  EXPECT_EQ(ResolveEndpoint("[::1]:80", o)->base_url, "http://[::1]:80");
  EXPECT_EQ(ResolveEndpoint("reg.local:5000", o)->base_url, "http://reg.local:5000");
  EXPECT_EQ(ResolveEndpoint("reg.local:5001", o)->base_url, "https://reg.local:5001");
  EXPECT_EQ(ResolveEndpoint("", o).error().message(), "empty registry name");
}

TEST(EndpointTest, CertsDirectory) {
  auto d = TempDir::Create("kiln-certs");
  ASSERT_TRUE(d);
  std::string host = JoinPath(d->path(), "reg.example:5000");
  ASSERT_TRUE(MakeDirs(host));
  for (const char* f : {"ca.crt", "extra.crt", "client.cert", "client.key", "README"})
    ASSERT_TRUE(WriteFile(JoinPath(host, f), "x"));
  EndpointOptions o;
  o.certs_dir = d->path();
  auto ep = ResolveEndpoint("reg.example:5000", o);
  ASSERT_TRUE(ep) << ep.error().Render();
  EXPECT_EQ(ep->tls.ca_files, (std::vector<std::string>{JoinPath(host, "ca.crt"), JoinPath(host, "extra.crt")}));
  EXPECT_EQ(ep->tls.client_cert_file, JoinPath(host, "client.cert"));
  EXPECT_EQ(ep->tls.client_key_file, JoinPath(host, "client.key"));
  ASSERT_EQ(unlink(JoinPath(host, "client.key").c_str()), 0);
  auto bad = ResolveEndpoint("reg.example:5000", o);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "missing key " + JoinPath(host, "client.key") +
                                       " for client certificate " + JoinPath(host, "client.cert"));
}

TEST(RegistryAuthTest, HtpasswdBasicAuth) {
  auto dir = TempDir::Create("kiln-htpasswd");
  ASSERT_TRUE(dir);
  std::string htpasswd = JoinPath(dir->path(), "htpasswd");
  ASSERT_EQ(Shell("htpasswd -Bbc " + htpasswd + " kiln hunter2"), 0);
  testing::RegistryServerOptions so;
  so.htpasswd = htpasswd;
  auto server = RegistryServer::Start(so);
  ASSERT_TRUE(server) << server.error().Render();
  std::string addr = (*server)->address();
  auto http = NewCurlHttpClient();

  MemoryBlobStore src;
  auto img = testing::BuildImage(src, {"secret layer\n"});
  StaticCredentials good(Credentials{"kiln", "hunter2", ""});
  Client client(*http, good);
  auto pushed = client.Push(Ref(addr + "/private/img:1"), img.push, src);
  ASSERT_TRUE(pushed) << pushed.error().Render();
  MemoryBlobStore dst;
  auto pulled = client.Pull(Ref(addr + "/private/img:1"), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(pulled->manifest_digest, img.manifest_digest);

  StaticCredentials wrong(Credentials{"kiln", "wrong", ""});
  Client bad_client(*http, wrong);
  auto denied = bad_client.Pull(Ref(addr + "/private/img:1"), HostPlatform(), dst);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(denied.error().Render(),
            "authentication required (401)\nwhile fetching manifest 1\nwhile pulling " + addr +
                "/private/img:1\nhint: check your credentials with `kiln login " + addr + "`\n");

  StaticCredentials anonymous;
  Client anon(*http, anonymous);
  auto anon_r = anon.Resolve(Ref(addr + "/private/img:1"));
  ASSERT_FALSE(anon_r);
  EXPECT_EQ(anon_r.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(anon_r.error().message(), "authentication required");

  // kiln login / logout.
  auto config_dir = TempDir::Create("kiln-docker-config");
  ASSERT_TRUE(config_dir);
  auto runner = NewExecCredentialHelperRunner("/nonexistent");
  CredentialStore store(config_dir->path(), *runner);
  auto login_bad = Login(anon, store, addr, Credentials{"kiln", "wrong", ""});
  ASSERT_FALSE(login_bad);
  EXPECT_EQ(login_bad.error().Render(),
            "incorrect username or password (401)\nwhile logging in to " + addr + "\n");
  EXPECT_FALSE(PathExists(JoinPath(config_dir->path(), "config.json")));
  ASSERT_TRUE(Login(anon, store, addr, Credentials{"kiln", "hunter2", ""}));
  Client from_config(*http, store);
  MemoryBlobStore dst2;
  ASSERT_TRUE(from_config.Pull(Ref(addr + "/private/img:1"), HostPlatform(), dst2));
  EXPECT_TRUE(*store.Erase(addr));
  EXPECT_TRUE(store.Get(addr)->empty());
}

TEST(RegistryAuthTest, TlsWithCertsDirectory) {
  auto dir = TempDir::Create("kiln-tls");
  ASSERT_TRUE(dir);
  std::string p = dir->path();
  // 127.0.0.2 is loopback but not one of the names kiln always treats as
  // insecure, so the client uses HTTPS.
  std::string ecparam = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  ASSERT_EQ(Shell("cd " + p + " && openssl req -x509 " + ecparam +
                  " -keyout ca.key -out ca.crt -days 1 -subj /CN=kiln-test-ca"), 0);
  ASSERT_EQ(Shell("cd " + p + " && openssl req " + ecparam +
                  " -keyout server.key -out server.csr -subj /CN=127.0.0.2"), 0);
  ASSERT_TRUE(WriteFile(JoinPath(p, "ext.cnf"), "subjectAltName=IP:127.0.0.2\n"));
  ASSERT_EQ(Shell("cd " + p + " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
                  "-CAcreateserial -out server.crt -days 1 -extfile ext.cnf"), 0);
  testing::RegistryServerOptions so;
  so.host = "127.0.0.2";
  so.tls_cert = JoinPath(p, "server.crt");
  so.tls_key = JoinPath(p, "server.key");
  auto server = RegistryServer::Start(so);
  ASSERT_TRUE(server) << server.error().Render();
  std::string addr = (*server)->address();
  auto http = NewCurlHttpClient();
  StaticCredentials anonymous;

  ClientOptions untrusted;
  untrusted.endpoints.certs_dir = JoinPath(p, "certs.d");
  Client no_ca(*http, anonymous, untrusted);
  auto r = no_ca.Resolve(Ref(addr + "/tls/img:1"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNetwork);
  EXPECT_TRUE(r.error().message().find("SSL certificate problem") != std::string::npos)
      << r.error().message();

  ASSERT_TRUE(MakeDirs(JoinPath(p, "certs.d/" + addr)));
  ASSERT_EQ(Shell("cp " + p + "/ca.crt " + p + "/certs.d/" + addr + "/ca.crt"), 0);
  Client client(*http, anonymous, untrusted);
  MemoryBlobStore src;
  auto img = testing::BuildImage(src, {"over tls\n"});
  auto pushed = client.Push(Ref(addr + "/tls/img:1"), img.push, src);
  ASSERT_TRUE(pushed) << pushed.error().Render();
  MemoryBlobStore dst;
  auto pulled = client.Pull(Ref(addr + "/tls/img:1"), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(pulled->manifest_digest, img.manifest_digest);
}

}  // namespace
}  // namespace kiln::registry
