// Client behaviour a real registry cannot be made to show: bearer tokens,
// 429/5xx retries, wrong bytes, hangs, truncated bodies and redirects,
// against the in-process testing::HttpServer.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>

#include "base/strings.h"
#include "registry/client.h"
#include "registry/testing/http_server.h"
#include "registry/testing/image_builder.h"

namespace kiln::registry {
namespace {

using testing::HttpServer;
using testing::ServerRequest;
using testing::ServerResponse;
using testing::TestImage;

image::Reference Ref(const std::string& text) {
  auto r = image::Reference::Parse(text);
  EXPECT_TRUE(r) << r.error().Render();
  return *r;
}

// Serves one image at /v2/app/manifests/latest and its blobs; `hook` can
// answer a request first (return a response with status != 0).
class FakeRegistry {
 public:
  FakeRegistry() {
    image_ = testing::BuildImage(blobs_, {"layer one\n", std::string(300000, 'q')});
  }
  std::function<ServerResponse(const ServerRequest&)> hook;

  ServerResponse Handle(const ServerRequest& r) {
    if (hook) {
      ServerResponse h = hook(r);
      if (h.status != 0) return h;
    }
    if (r.path == "/v2/app/manifests/latest" || r.path == "/v2/app/manifests/" + image_.manifest_digest.str()) {
      ServerResponse resp;
      resp.headers = {{"Content-Type", image_.push.media_type},
                      {"Docker-Content-Digest", image_.manifest_digest.str()}};
      resp.body = image_.push.manifest_bytes;
      return resp;
    }
    if (StartsWith(r.path, "/v2/app/blobs/")) {
      auto d = Digest::Parse(r.path.substr(14));
      if (d) {
        if (auto b = blobs_.Get(*d)) {
          ServerResponse resp;
          resp.body = *b;
          return resp;
        }
      }
    }
    ServerResponse nf;
    nf.status = 404;
    nf.body = R"({"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]})";
    return nf;
  }

  MemoryBlobStore blobs_;
  TestImage image_;
};

class TransportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = HttpServer::Start([this](const ServerRequest& r) { return registry_.Handle(r); });
    ASSERT_TRUE(s) << s.error().Render();
    server_ = std::move(*s);
    options_.sleep = [this](std::chrono::milliseconds d) { sleeps_.push_back(d.count()); };
  }
  std::string Name(const std::string& rest) { return server_->address() + "/" + rest; }
  Result<PullResult> Pull(MemoryBlobStore& dst, HttpOptions http_options = {}) {
    auto http = NewCurlHttpClient(http_options);
    Client client(*http, creds_, options_);
    return client.Pull(Ref(Name("app:latest")), HostPlatform(), dst);
  }

  FakeRegistry registry_;
  std::unique_ptr<HttpServer> server_;
  ClientOptions options_;
  StaticCredentials creds_;
  std::vector<long> sleeps_;
};

TEST_F(TransportTest, PullsFromFakeRegistry) {
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(r->manifest_digest, registry_.image_.manifest_digest);
  EXPECT_EQ(dst.size(), 4u);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(TransportTest, RetriesTooManyRequestsHonoringRetryAfter) {
  std::atomic<int> calls{0};
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path == "/v2/app/manifests/latest" && calls++ < 2) {
      resp.status = 429;
      resp.headers = {{"Retry-After", "3"}};
      resp.body = R"({"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]})";
    }
    return resp;
  };
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(sleeps_, (std::vector<long>{3000, 3000}));
  EXPECT_EQ(calls.load(), 3);
}

TEST_F(TransportTest, ServerErrorsBackOffThenFail) {
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = r.path == "/v2/app/manifests/latest" ? 503 : 0;
    return resp;
  };
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNetwork);
  EXPECT_EQ(r.error().Render(), "service unavailable (503)\nwhile fetching manifest latest\nwhile pulling " +
                                    Name("app:latest") + "\n");
  EXPECT_EQ(sleeps_, (std::vector<long>{250, 500, 1000}));
}

TEST_F(TransportTest, NotFoundIsNotRetried) {
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path == "/v2/app/manifests/latest") {
      resp.status = 404;
      resp.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]})";
    }
    return resp;
  };
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), "manifest unknown (404)");
  EXPECT_EQ(server_->requests(), std::vector<std::string>{"GET /v2/app/manifests/latest"});
}

TEST_F(TransportTest, WrongBlobBytesAreADigestMismatchAndNothingIsStored) {
  Digest layer = registry_.image_.layer_digests[0];
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path == "/v2/app/blobs/" + layer.str()) {
      resp.status = 200;
      resp.body = *registry_.blobs_.Get(layer);
      resp.body[600] ^= 1;
    }
    return resp;
  };
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDigestMismatch);
  std::string bad = r.error().message();
  EXPECT_TRUE(StartsWith(bad, "blob " + layer.str() + ": content has digest sha256:")) << bad;
  EXPECT_FALSE(dst.Has(layer));
  EXPECT_FALSE(dst.Has(registry_.image_.manifest_digest));
}

TEST_F(TransportTest, WrongManifestBytesWhenPullingByDigest) {
  Digest want = registry_.image_.manifest_digest;
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path == "/v2/app/manifests/" + want.str()) {
      resp.status = 200;
      resp.headers = {{"Content-Type", std::string(image::kOciManifest)}};
      resp.body = registry_.image_.push.manifest_bytes + " ";
    }
    return resp;
  };
  auto http = NewCurlHttpClient();
  Client client(*http, creds_, options_);
  MemoryBlobStore dst;
  auto r = client.Pull(Ref(Name("app@" + want.str())), HostPlatform(), dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(r.error().message(),
            "manifest digest mismatch: expected " + want.str() + ", got " +
                Digest::Of(registry_.image_.push.manifest_bytes + " ").str());
}

TEST_F(TransportTest, OversizeManifestIsRejected) {
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path == "/v2/app/manifests/latest") {
      resp.status = 200;
      resp.body = std::string((4 << 20) + 1, ' ');
    }
    return resp;
  };
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.error().message(), "response body exceeds 4194304 bytes");
}

TEST_F(TransportTest, HangingServerTimesOut) {
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path == "/v2/app/manifests/latest") resp.mode = ServerResponse::Mode::kHang, resp.status = 200;
    return resp;
  };
  options_.max_attempts = 1;
  HttpOptions http_options;
  http_options.low_speed_time = std::chrono::seconds(1);
  auto start = std::chrono::steady_clock::now();
  MemoryBlobStore dst;
  auto r = Pull(dst, http_options);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNetwork);
  EXPECT_TRUE(StartsWith(r.error().message(),
                         "GET http://" + Name("v2/app/manifests/latest") + ": Operation too slow."))
      << r.error().message();
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST_F(TransportTest, TruncatedBlobResumesWithRange) {
  Digest big = registry_.image_.layer_digests[1];
  std::string bytes = *registry_.blobs_.Get(big);
  std::atomic<int> calls{0};
  std::string range_seen;
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path != "/v2/app/blobs/" + big.str()) return resp;
    if (calls++ == 0) {
      resp.status = 200;
      resp.body = bytes;
      resp.mode = ServerResponse::Mode::kTruncate;
      resp.truncate_at = 100000;
      return resp;
    }
    range_seen = r.Header("range").value_or("");
    resp.status = 206;
    resp.headers = {{"Content-Range", fmt::format("bytes 100000-{}/{}", bytes.size() - 1, bytes.size())}};
    resp.body = bytes.substr(100000);
    return resp;
  };
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(range_seen, "bytes=100000-");
  EXPECT_EQ(*dst.Get(big), bytes);
}

TEST_F(TransportTest, ResumeWhenServerIgnoresRange) {
  Digest big = registry_.image_.layer_digests[1];
  std::string bytes = *registry_.blobs_.Get(big);
  std::atomic<int> calls{0};
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.path != "/v2/app/blobs/" + big.str()) return resp;
    resp.status = 200;
    resp.body = bytes;
    if (calls++ == 0) {
      resp.mode = ServerResponse::Mode::kTruncate;
      resp.truncate_at = 5000;
    }
    return resp;
  };
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*dst.Get(big), bytes);
}

TEST_F(TransportTest, BlobRedirectIsFollowedWithoutAuthorization) {
  auto storage = HttpServer::Start([&](const ServerRequest& r) {
    ServerResponse resp;
    if (r.Header("authorization")) {
      resp.status = 400;
      return resp;
    }
    auto d = Digest::Parse(r.path.substr(1));
    resp.body = d ? registry_.blobs_.Get(*d).value_or("") : "";
    return resp;
  });
  ASSERT_TRUE(storage);
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (StartsWith(r.path, "/v2/app/blobs/")) {
      resp.status = 307;
      resp.headers = {{"Location", "http://" + (*storage)->address() + "/" + r.path.substr(14)}};
    }
    return resp;
  };
  creds_ = StaticCredentials(Credentials{"user", "pass", ""});
  MemoryBlobStore dst;
  auto r = Pull(dst);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ((*storage)->requests().size(), 3u);
}

// The bearer-token flow: 401 with a challenge, GET the realm with service,
// scope and basic credentials, retry with the token; tokens are cached.
TEST_F(TransportTest, BearerTokenFlow) {
  std::vector<std::string> token_requests;
  std::mutex mu;
  auto token_server = HttpServer::Start([&](const ServerRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    token_requests.push_back(r.target + " " + r.Header("authorization").value_or("-"));
    ServerResponse resp;
    if (r.Header("authorization") != "Basic " + Base64Encode("alice:s3cret")) {
      resp.status = 401;
      return resp;
    }
    resp.body = R"({"access_token":"tok-123","expires_in":300})";
    return resp;
  });
  ASSERT_TRUE(token_server);
  std::string realm = "http://" + (*token_server)->address() + "/token";
  registry_.hook = [&](const ServerRequest& r) {
    ServerResponse resp;
    resp.status = 0;
    if (r.Header("authorization") != "Bearer tok-123") {
      resp.status = 401;
      resp.headers = {{"WWW-Authenticate",
                       "Bearer realm=\"" + realm + "\",service=\"fake\",scope=\"repository:app:pull\""}};
      resp.body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
    }
    return resp;
  };
  auto http = NewCurlHttpClient();
  creds_ = StaticCredentials(Credentials{"alice", "s3cret", ""});
  Client client(*http, creds_, options_);
  MemoryBlobStore dst;
  auto r = client.Pull(Ref(Name("app:latest")), HostPlatform(), dst);
  ASSERT_TRUE(r) << r.error().Render();
  MemoryBlobStore dst2;
  ASSERT_TRUE(client.Pull(Ref(Name("app:latest")), HostPlatform(), dst2));
  EXPECT_EQ(token_requests, std::vector<std::string>{"/token?service=fake&scope=repository%3Aapp%3Apull Basic " +
                                                     Base64Encode("alice:s3cret")});

  // Wrong password: the token server says 401.
  StaticCredentials wrong(Credentials{"alice", "nope", ""});
  Client client2(*http, wrong, options_);
  auto bad = client2.Pull(Ref(Name("app:latest")), HostPlatform(), dst);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(bad.error().Render(),
            "incorrect username or password (401)\nwhile fetching a token from " + realm +
                "\nwhile fetching manifest latest\nwhile pulling " + Name("app:latest") +
                "\nhint: check your credentials with `kiln login " + server_->address() + "`\n");
}

// A streamed upload cannot be resent after a 401, so a token that expires
// during a blob's upload makes the blob restart: the new upload's POST gets
// the challenge, fetches a fresh token, and the blob goes up whole.
TEST_F(TransportTest, TokenThatExpiresDuringAnUploadIsRenewedAndTheBlobRestarts) {
  std::mutex mu;
  int tokens = 0;
  auto token_server = HttpServer::Start([&](const ServerRequest&) {
    std::lock_guard<std::mutex> lock(mu);
    ServerResponse resp;
    resp.body = fmt::format(R"({{"token":"tok-{}"}})", ++tokens);
    return resp;
  });
  ASSERT_TRUE(token_server);
  std::string challenge = "Bearer realm=\"http://" + (*token_server)->address() + "/token\",service=\"fake\"";
  std::string valid = "Bearer tok-1";
  std::map<std::string, int> layer_puts;  // per upload id
  int next_id = 0;
  Digest big = registry_.image_.layer_digests[1];
  std::string big_query = "digest=sha256%3A" + big.hex();
  registry_.hook = [&](const ServerRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    ServerResponse resp;
    resp.status = 0;
    bool put_big = r.method == "PUT" && r.query == big_query;
    if (r.Header("authorization") != valid || (put_big && layer_puts.empty())) {
      if (put_big) layer_puts[r.path]++, valid = "Bearer tok-2";  // expires mid-upload
      resp.status = 401;
      resp.headers = {{"WWW-Authenticate", challenge}};
      return resp;
    }
    if (r.method == "HEAD") {
      resp.status = 404;
    } else if (r.method == "POST") {
      resp.status = 202;
      resp.headers = {{"Location", "/v2/app/blobs/uploads/" + std::to_string(next_id++)}};
    } else if (r.method == "PUT" && StartsWith(r.path, "/v2/app/blobs/uploads/")) {
      if (put_big) layer_puts[r.path]++;
      resp.status = r.query == "digest=sha256%3A" + Digest::Of(r.body).hex() ? 201 : 400;
    } else if (r.method == "PUT" && r.path == "/v2/app/manifests/v2") {
      resp.status = 201;
    }
    return resp;
  };
  options_.parallel_blobs = 1;
  auto http = NewCurlHttpClient();
  Client client(*http, creds_, options_);
  auto r = client.Push(Ref(Name("app:v2")), registry_.image_.push, registry_.blobs_);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(tokens, 2);
  // The big layer went to two uploads, each PUT once.
  ASSERT_EQ(layer_puts.size(), 2u);
  for (const auto& [path, puts] : layer_puts) EXPECT_EQ(puts, 1) << path;
}

TEST_F(TransportTest, PushFollowsRelativeAndAbsoluteLocations) {
  std::mutex mu;
  std::map<std::string, std::string> uploads;  // upload id -> bytes so far
  int next_id = 0;
  registry_.hook = [&](const ServerRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    ServerResponse resp;
    resp.status = 0;
    if (r.method == "HEAD") {
      resp.status = 404;
    } else if (r.method == "POST" && r.path == "/v2/app/blobs/uploads/") {
      std::string id = std::to_string(next_id++);
      uploads[id];
      resp.status = 202;
      // Alternate relative and absolute forms.
      resp.headers = {{"Location", id == "0" ? "/v2/app/blobs/uploads/" + id
                                             : "http://" + server_->address() + "/v2/app/blobs/uploads/" + id}};
    } else if (r.method == "PATCH" && StartsWith(r.path, "/v2/app/blobs/uploads/")) {
      std::string id = r.path.substr(22);
      uploads[id] += r.body;
      resp.status = 202;
      resp.headers = {{"Location", "/v2/app/blobs/uploads/" + id}};
    } else if (r.method == "PUT" && StartsWith(r.path, "/v2/app/blobs/uploads/")) {
      std::string id = r.path.substr(22);
      std::string data = uploads[id] + r.body;
      resp.status = r.query == "digest=sha256%3A" + Digest::Of(data).hex() ? 201 : 400;
    } else if (r.method == "PUT" && r.path == "/v2/app/manifests/v2") {
      resp.status = 201;
    }
    return resp;
  };
  ClientOptions o = options_;
  o.chunk_size = 100000;
  auto http = NewCurlHttpClient();
  Client client(*http, creds_, o);
  auto r = client.Push(Ref(Name("app:v2")), registry_.image_.push, registry_.blobs_);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, registry_.image_.manifest_digest);
  int patches = 0;
  for (const auto& q : server_->requests()) patches += StartsWith(q, "PATCH ");
  EXPECT_EQ(patches, 4);  // the 301568-byte layer in 100000-byte chunks
}

}  // namespace
}  // namespace kiln::registry
