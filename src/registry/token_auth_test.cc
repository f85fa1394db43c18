// The bearer-token flow against a real registry: docker-registry configured
// with `auth: token`, and a token server in the test process that issues
// RS256 JWTs signed with a key and certificate the test makes.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/strings.h"
#include "registry/client.h"
#include "registry/testing/http_server.h"
#include "registry/testing/image_builder.h"
#include "registry/testing/registry_server.h"

namespace kiln::registry {
namespace {

using testing::HttpServer;
using testing::ServerRequest;
using testing::ServerResponse;

std::string Base64Url(std::string_view data) {
  std::string s = Base64Encode(data);
  for (char& c : s) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string Sign(const std::string& key_pem, const std::string& data) {
  BIO* bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key);
  EVP_DigestSign(ctx, nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len,
                 reinterpret_cast<const unsigned char*>(data.data()), data.size());
  sig.resize(len);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  return sig;
}

// "-----BEGIN CERTIFICATE-----\n<b64>\n-----END..." -> the DER as base64.
std::string CertBase64(const std::string& pem) {
  std::string out;
  for (const auto& line : Split(pem, '\n'))
    if (!line.empty() && !StartsWith(line, "-----")) out += TrimSpace(line);
  return out;
}

TEST(TokenAuthTest, RealRegistryWithJwtTokenServer) {
  auto dir = TempDir::Create("kiln-token");
  ASSERT_TRUE(dir);
  std::string p = dir->path();
  ASSERT_EQ(std::system(("cd " + p + " && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem "
                         "-out cert.pem -days 1 -subj /CN=kiln-token >/dev/null 2>&1").c_str()),
            0);
  std::string key = *ReadFile(JoinPath(p, "key.pem"));
  std::string cert = *ReadFile(JoinPath(p, "cert.pem"));

  std::mutex mu;
  std::vector<std::string> scopes_asked;
  auto token_server = HttpServer::Start([&](const ServerRequest& r) {
    ServerResponse resp;
    if (r.Header("authorization") != "Basic " + Base64Encode("bob:pw")) {
      resp.status = 401;
      return resp;
    }
    nlohmann::json access = nlohmann::json::array();
    for (const auto& kv : Split(r.query, '&')) {
      Cut c = CutString(kv, '=');
      if (c.first != "scope") continue;
      std::string scope(c.second);
      for (size_t i; (i = scope.find("%3A")) != std::string::npos;) scope.replace(i, 3, ":");
      for (size_t i; (i = scope.find("%2C")) != std::string::npos;) scope.replace(i, 3, ",");
      for (size_t i; (i = scope.find("%2F")) != std::string::npos;) scope.replace(i, 3, "/");
      {
        std::lock_guard<std::mutex> lock(mu);
        scopes_asked.push_back(scope);
      }
      auto parts = Split(scope, ':');
      access.push_back({{"type", parts[0]}, {"name", parts[1]}, {"actions", Split(parts[2], ',')}});
    }
    long now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    nlohmann::json header = {{"alg", "RS256"}, {"typ", "JWT"}, {"x5c", {CertBase64(cert)}}};
    nlohmann::json claims = {{"iss", "kiln-test-issuer"}, {"sub", "bob"}, {"aud", "kiln-test"},
                             {"exp", now + 300}, {"nbf", now - 10}, {"iat", now - 10},
                             {"jti", RandomHex(8)}, {"access", access}};
    std::string signing_input = Base64Url(header.dump()) + "." + Base64Url(claims.dump());
    resp.body = nlohmann::json{{"token", signing_input + "." + Base64Url(Sign(key, signing_input))}}.dump();
    return resp;
  });
  ASSERT_TRUE(token_server);

  testing::RegistryServerOptions so;
  so.token_realm = "http://" + (*token_server)->address() + "/token";
  so.token_service = "kiln-test";
  so.token_issuer = "kiln-test-issuer";
  so.token_rootcertbundle = JoinPath(p, "cert.pem");
  auto server = testing::RegistryServer::Start(so);
  ASSERT_TRUE(server) << server.error().Render();
  std::string addr = (*server)->address();

  auto http = NewCurlHttpClient();
  StaticCredentials creds(Credentials{"bob", "pw", ""});
  Client client(*http, creds);
  MemoryBlobStore src;
  auto img = testing::BuildImage(src, {"token layer\n"});
  auto ref = image::Reference::Parse(addr + "/tok/img:1");
  ASSERT_TRUE(ref);
  auto pushed = client.Push(*ref, img.push, src);
  ASSERT_TRUE(pushed) << pushed.error().Render()
                      << ReadFile(JoinPath(Dirname((*server)->storage_dir()), "registry.log")).value_or("");
  MemoryBlobStore dst;
  auto pulled = client.Pull(*ref, HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(pulled->manifest_digest, img.manifest_digest);
  // One token per scope set, cached across requests.
  EXPECT_EQ(scopes_asked, (std::vector<std::string>{"repository:tok/img:pull,push", "repository:tok/img:pull"}));

  StaticCredentials wrong(Credentials{"bob", "nope", ""});
  Client bad(*http, wrong);
  auto denied = bad.Resolve(*ref);
  ASSERT_FALSE(denied);
  EXPECT_EQ(denied.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(denied.error().Render(), "incorrect username or password (401)\nwhile fetching a token from " +
                                         so.token_realm + "\nwhile resolving " + addr +
                                         "/tok/img:1\nhint: check your credentials with `kiln login " +
                                         addr + "`\n");
}

}  // namespace
}  // namespace kiln::registry
