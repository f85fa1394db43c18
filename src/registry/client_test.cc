// Client tests against a real registry (Debian's docker-registry) on
// 127.0.0.1, plus skopeo interop.

#include "registry/client.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/strings.h"
#include "image/codec.h"
#include "registry/testing/cutting_proxy.h"
#include "registry/testing/image_builder.h"
#include "registry/testing/registry_server.h"

namespace kiln {
// Readable gtest output for digests.
inline void PrintTo(const Digest& d, std::ostream* os) { *os << d.str(); }
}  // namespace kiln

namespace kiln::registry {
namespace {

using testing::BuildImage;
using testing::CuttingProxy;
using testing::CuttingProxyOptions;
using testing::RegistryServer;
using testing::TestImage;

// Passes requests to the real client and records "METHOD path?query" (the
// host part dropped) so tests can check which requests were made.
class RecordingHttpClient : public HttpClient {
 public:
  explicit RecordingHttpClient(HttpClient& inner) : inner_(inner) {}
  Result<HttpResponse> Send(const HttpRequest& request, const BodySink* sink) override {
    std::string url = request.url;
    size_t p = url.find("/v2/");
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(request.method + " " + (p == std::string::npos ? url : url.substr(p)));
    }
    return inner_.Send(request, sink);
  }
  std::vector<std::string> TakeLog() {
    std::lock_guard<std::mutex> lock(mu_);
    return std::exchange(log_, {});
  }

 private:
  HttpClient& inner_;
  std::mutex mu_;
  std::vector<std::string> log_;
};

int Count(const std::vector<std::string>& log, std::string_view prefix) {
  int n = 0;
  for (const auto& l : log) n += StartsWith(l, prefix);
  return n;
}

image::Reference Ref(const std::string& text) {
  auto r = image::Reference::Parse(text);
  EXPECT_TRUE(r) << r.error().Render();
  return *r;
}

int Shell(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

class RegistryClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto s = RegistryServer::Start();
    ASSERT_TRUE(s) << s.error().Render();
    server_ = std::move(*s).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }

  void SetUp() override { ASSERT_NE(server_, nullptr); }
  std::string Name(const std::string& repo_tag) { return server_->address() + "/" + repo_tag; }
  Client MakeClient(ClientOptions o = {}) { return Client(recorder_, anonymous_, o); }

  static RegistryServer* server_;
  std::unique_ptr<HttpClient> curl_ = NewCurlHttpClient();
  RecordingHttpClient recorder_{*curl_};
  StaticCredentials anonymous_;
};

RegistryServer* RegistryClientTest::server_ = nullptr;

TEST_F(RegistryClientTest, PushThenPullRoundTrip) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"hello\n", "world\n"});
  Client client = MakeClient();
  auto pushed = client.Push(Ref(Name("round/trip:v1")), img.push, src);
  ASSERT_TRUE(pushed) << pushed.error().Render();
  EXPECT_EQ(*pushed, img.manifest_digest);

  auto resolved = client.Resolve(Ref(Name("round/trip:v1")));
  ASSERT_TRUE(resolved) << resolved.error().Render();
  EXPECT_EQ(resolved->digest, img.manifest_digest);
  EXPECT_EQ(resolved->media_type, image::kOciManifest);
  EXPECT_EQ(resolved->size, static_cast<int64_t>(img.push.manifest_bytes.size()));

  MemoryBlobStore dst;
  auto pulled = client.Pull(Ref(Name("round/trip:v1")), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(pulled->manifest_digest, img.manifest_digest);
  EXPECT_EQ(pulled->reference_digest, img.manifest_digest);
  EXPECT_EQ(pulled->config.rootfs.diff_ids, img.layer_digests);
  EXPECT_EQ(pulled->config.config.cmd, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(dst.size(), 4u);
  EXPECT_EQ(*dst.Get(img.manifest_digest), img.push.manifest_bytes);
  for (const auto& d : img.layer_digests) EXPECT_EQ(*dst.Get(d), *src.Get(d));
  EXPECT_EQ(*dst.Get(img.config_digest), *src.Get(img.config_digest));

  // By digest too.
  MemoryBlobStore dst2;
  auto by_digest = client.Pull(Ref(Name("round/trip@" + img.manifest_digest.str())), HostPlatform(), dst2);
  ASSERT_TRUE(by_digest) << by_digest.error().Render();
  EXPECT_EQ(by_digest->manifest_digest, img.manifest_digest);
}

TEST_F(RegistryClientTest, DockerMediaTypesRoundTrip) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"docker\n"}, HostPlatform(), image::MediaTypeFamily::kDocker);
  Client client = MakeClient();
  ASSERT_TRUE(client.Push(Ref(Name("docker/types:1")), img.push, src));
  auto resolved = client.Resolve(Ref(Name("docker/types:1")));
  ASSERT_TRUE(resolved) << resolved.error().Render();
  EXPECT_EQ(resolved->media_type, image::kDockerManifest);
  MemoryBlobStore dst;
  auto pulled = client.Pull(Ref(Name("docker/types:1")), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(pulled->manifest_digest, img.manifest_digest);
}

TEST_F(RegistryClientTest, MissingTagIsNotFoundWithRegistryMessage) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"x"});
  Client client = MakeClient();
  ASSERT_TRUE(client.Push(Ref(Name("missing/tag:present")), img.push, src));
  MemoryBlobStore dst;
  auto r = client.Pull(Ref(Name("missing/tag:absent")), HostPlatform(), dst);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Render(),
            "manifest unknown (404)\nwhile fetching manifest absent\nwhile pulling " +
                Name("missing/tag:absent") + "\n");
  EXPECT_EQ(dst.size(), 0u);
  // Not retried.
  EXPECT_EQ(Count(recorder_.TakeLog(), "GET /v2/missing/tag/manifests/absent"), 1);

  auto unknown_repo = client.Resolve(Ref(Name("no/such/repo:latest")));
  ASSERT_FALSE(unknown_repo);
  EXPECT_EQ(unknown_repo.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(unknown_repo.error().Render(),
            "not found (404)\nwhile resolving " + Name("no/such/repo:latest") + "\n");
}

TEST_F(RegistryClientTest, SecondPushOnlyChecksBlobs) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"again\n"});
  Client client = MakeClient();
  ASSERT_TRUE(client.Push(Ref(Name("again/img:1")), img.push, src));
  recorder_.TakeLog();
  ASSERT_TRUE(client.Push(Ref(Name("again/img:2")), img.push, src));
  auto log = recorder_.TakeLog();
  std::sort(log.begin(), log.end());
  EXPECT_EQ(log, (std::vector<std::string>{
                     "HEAD /v2/again/img/blobs/" + img.config_digest.str(),
                     "HEAD /v2/again/img/blobs/" + img.layer_digests[0].str(),
                     "PUT /v2/again/img/manifests/2",
                 }));
}

TEST_F(RegistryClientTest, ChunkedUploadOfLargeBlob) {
  MemoryBlobStore src;
  std::string big(10000, 'z');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  TestImage img = BuildImage(src, {big});
  ClientOptions o;
  o.chunk_size = 4096;
  o.parallel_blobs = 1;
  Client client = MakeClient(o);
  auto pushed = client.Push(Ref(Name("chunked/img:1")), img.push, src);
  ASSERT_TRUE(pushed) << pushed.error().Render();
  auto log = recorder_.TakeLog();
  // The layer tar is 11264 bytes: three PATCH chunks of at most 4096 bytes.
  EXPECT_EQ(Count(log, "PATCH "), 3);
  MemoryBlobStore dst;
  auto pulled = MakeClient().Pull(Ref(Name("chunked/img:1")), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(*dst.Get(img.layer_digests[0]), *src.Get(img.layer_digests[0]));
}

// 3 MiB that gzip could not shrink (a layer large enough to be cut), one
// sequence per `seed` (tests share the registry).
std::string NoiseBytes(uint64_t seed) {
  std::string out(3 << 20, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull + seed;
  for (char& c : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    c = static_cast<char>(x);
  }
  return out;
}

int ServerPort(const std::string& address) { return std::stoi(address.substr(address.rfind(':') + 1)); }

// The connection drops 1 MiB into the 3 MiB layer: the client resumes with a
// Range request on a new connection and the blob arrives whole.
TEST_F(RegistryClientTest, PullResumesWhenTheConnectionDropsMidBlob) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {NoiseBytes(1)});
  ASSERT_TRUE(MakeClient().Push(Ref(Name("cut/pull:1")), img.push, src));
  auto proxy = CuttingProxy::Start({ServerPort(server_->address()), CuttingProxyOptions::Direction::kToClient,
                                    1 << 20, 1});
  ASSERT_TRUE(proxy) << proxy.error().Render();
  recorder_.TakeLog();
  ClientOptions o;
  o.sleep = [](std::chrono::milliseconds) {};
  MemoryBlobStore dst;
  auto pulled = MakeClient(o).Pull(Ref((*proxy)->address() + "/cut/pull:1"), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ((*proxy)->cut(), 1);
  EXPECT_EQ(Count(recorder_.TakeLog(), "GET /v2/cut/pull/blobs/" + img.layer_digests[0].str()), 2);
  EXPECT_EQ(*dst.Get(img.layer_digests[0]), *src.Get(img.layer_digests[0]));
}

// The connection drops 1 MiB into the layer's upload: what the registry got
// of it is unknown, so the blob restarts in a new upload and the registry
// ends up with the right bytes.
TEST_F(RegistryClientTest, PushRestartsTheBlobWhenTheConnectionDropsMidUpload) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {NoiseBytes(2)});
  auto proxy = CuttingProxy::Start({ServerPort(server_->address()), CuttingProxyOptions::Direction::kToServer,
                                    1 << 20, 1});
  ASSERT_TRUE(proxy) << proxy.error().Render();
  recorder_.TakeLog();
  ClientOptions o;
  o.sleep = [](std::chrono::milliseconds) {};
  o.parallel_blobs = 1;
  auto pushed = MakeClient(o).Push(Ref((*proxy)->address() + "/cut/push:1"), img.push, src);
  ASSERT_TRUE(pushed) << pushed.error().Render();
  EXPECT_EQ((*proxy)->cut(), 1);
  auto log = recorder_.TakeLog();
  EXPECT_EQ(Count(log, "POST /v2/cut/push/blobs/uploads/"), 3);  // config once, layer twice
  EXPECT_EQ(Count(log, "PUT /v2/cut/push/blobs/uploads/"), 3);
  MemoryBlobStore dst;
  auto pulled = MakeClient().Pull(Ref(Name("cut/push:1")), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(*dst.Get(img.layer_digests[0]), *src.Get(img.layer_digests[0]));
}

// A source whose bytes do not match the digest fails before the registry
// has the whole blob, so nothing is stored under that digest.
TEST_F(RegistryClientTest, PushOfACorruptSourceBlobStoresNothing) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {NoiseBytes(3)});
  std::string bytes = *src.Get(img.layer_digests[0]);
  bytes[bytes.size() - 10] ^= 1;
  // A source that serves the corrupt bytes under the layer's digest and
  // checks them at the end, as the store's reader does.
  class CorruptSource : public BlobSource {
   public:
    CorruptSource(MemoryBlobStore& real, Digest layer, std::string bytes)
        : real_(real), layer_(layer), bytes_(std::move(bytes)) {}
    Result<std::unique_ptr<BlobReader>> Open(const Digest& d) override {
      if (d != layer_) return real_.Open(d);
      return std::unique_ptr<BlobReader>(std::make_unique<Reader>(layer_, bytes_));
    }

   private:
    class Reader : public BlobReader {
     public:
      Reader(Digest d, const std::string& b) : digest_(d), bytes_(b) {}
      Result<std::string> Read(size_t max) override {
        std::string out = bytes_.substr(pos_, max);
        pos_ += out.size();
        if (out.empty() && Digest::Of(bytes_) != digest_)
          return Fail(Error(ErrorCode::kDigestMismatch, "corrupt blob"));
        return out;
      }
      uint64_t size() const override { return bytes_.size(); }

     private:
      Digest digest_;
      const std::string& bytes_;
      size_t pos_ = 0;
    };
    MemoryBlobStore& real_;
    Digest layer_;
    std::string bytes_;
  };
  CorruptSource source(src, img.layer_digests[0], bytes);
  ClientOptions o;
  o.parallel_blobs = 1;  // the config first, then the layer
  auto pushed = MakeClient(o).Push(Ref(Name("corrupt/push:1")), img.push, source);
  ASSERT_FALSE(pushed);
  EXPECT_EQ(pushed.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(pushed.error().Render(), "corrupt blob\nwhile pushing blob " + img.layer_digests[0].str() +
                                         "\nwhile pushing " + Name("corrupt/push:1") + "\n");
  std::string hex = img.layer_digests[0].hex();
  EXPECT_FALSE(PathExists(server_->storage_dir() + "/docker/registry/v2/blobs/sha256/" + hex.substr(0, 2) + "/" +
                          hex + "/data"));
  EXPECT_TRUE(PathExists(server_->storage_dir() + "/docker/registry/v2/blobs/sha256/" +
                         img.config_digest.hex().substr(0, 2) + "/" + img.config_digest.hex() + "/data"));
}

TEST_F(RegistryClientTest, CrossRepositoryMount) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"mount me\n"});
  Client client = MakeClient();
  ASSERT_TRUE(client.Push(Ref(Name("mount/from:1")), img.push, src));
  recorder_.TakeLog();
  PushImage again = img.push;
  again.mount_from = {"mount/from"};
  ASSERT_TRUE(client.Push(Ref(Name("mount/to:1")), again, src));
  auto log = recorder_.TakeLog();
  EXPECT_EQ(Count(log, "POST /v2/mount/to/blobs/uploads/?mount=sha256%3A"), 2);
  EXPECT_EQ(Count(log, "PATCH "), 0);
  EXPECT_EQ(Count(log, "PUT /v2/mount/to/blobs/"), 0);
  MemoryBlobStore dst;
  ASSERT_TRUE(client.Pull(Ref(Name("mount/to:1")), HostPlatform(), dst));
}

TEST_F(RegistryClientTest, PullSkipsBlobsTheTargetHas) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"one\n", "two\n"});
  Client client = MakeClient();
  ASSERT_TRUE(client.Push(Ref(Name("skip/img:1")), img.push, src));
  MemoryBlobStore dst;
  dst.Put(*src.Get(img.layer_digests[0]));
  recorder_.TakeLog();
  ASSERT_TRUE(client.Pull(Ref(Name("skip/img:1")), HostPlatform(), dst));
  auto log = recorder_.TakeLog();
  EXPECT_EQ(Count(log, "GET /v2/skip/img/blobs/" + img.layer_digests[0].str()), 0);
  EXPECT_EQ(Count(log, "GET /v2/skip/img/blobs/" + img.layer_digests[1].str()), 1);
  EXPECT_EQ(dst.size(), 4u);
}

TEST_F(RegistryClientTest, IndexSelectsPlatform) {
  MemoryBlobStore src;
  image::Platform arm{"arm64", "linux", "", {}, "v8"};
  image::Platform amd{"amd64", "linux", "", {}, ""};
  TestImage a = BuildImage(src, {"amd64\n"}, amd);
  TestImage b = BuildImage(src, {"arm64\n"}, arm);
  Client client = MakeClient();
  ASSERT_TRUE(client.Push(Ref(Name("multi/img@" + a.manifest_digest.str())), a.push, src));
  ASSERT_TRUE(client.Push(Ref(Name("multi/img@" + b.manifest_digest.str())), b.push, src));
  image::Index index;
  index.media_type = image::kOciIndex;
  for (auto [img, plat] : {std::pair{&a, amd}, std::pair{&b, arm}}) {
    image::Descriptor d;
    d.media_type = image::kOciManifest;
    d.digest = img->manifest_digest;
    d.size = static_cast<int64_t>(img->push.manifest_bytes.size());
    d.platform = plat;
    index.manifests.push_back(d);
  }
  std::string index_json = image::EncodeIndex(index);
  HttpRequest put;
  put.method = "PUT";
  put.url = "http://" + server_->address() + "/v2/multi/img/manifests/latest";
  put.body = index_json;
  put.headers.emplace_back("Content-Type", std::string(image::kOciIndex));
  auto put_resp = curl_->Send(put, nullptr);
  ASSERT_TRUE(put_resp);
  ASSERT_EQ(put_resp->status, 201) << put_resp->body;

  MemoryBlobStore dst;
  auto pulled = client.Pull(Ref(Name("multi/img")), arm, dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(pulled->reference_digest, Digest::Of(index_json));
  EXPECT_EQ(pulled->manifest_digest, b.manifest_digest);
  EXPECT_EQ(pulled->config.architecture, "arm64");
  EXPECT_EQ(*dst.Get(Digest::Of(index_json)), index_json);

  auto none = client.Pull(Ref(Name("multi/img")), image::Platform{"s390x", "linux", "", {}, ""}, dst);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(none.error().Render(),
            "no matching manifest for linux/s390x in the manifest list entries (available: "
            "linux/amd64, linux/arm64/v8)\nwhile pulling " + Name("multi/img:latest") + "\n");
}

TEST_F(RegistryClientTest, SkopeoPullsWhatKilnPushed) {
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"for skopeo\n"});
  Client client = MakeClient();
  ASSERT_TRUE(client.Push(Ref(Name("interop/kiln:1")), img.push, src));
  auto dir = TempDir::Create("kiln-skopeo");
  ASSERT_TRUE(dir);
  std::string out = JoinPath(dir->path(), "img");
  ASSERT_EQ(Shell("skopeo copy --src-tls-verify=false docker://" + Name("interop/kiln:1") + " dir:" + out), 0);
  auto manifest = ReadFile(JoinPath(out, "manifest.json"));
  ASSERT_TRUE(manifest);
  EXPECT_EQ(Digest::Of(*manifest), img.manifest_digest);
  auto layer = ReadFile(JoinPath(out, img.layer_digests[0].hex()));
  ASSERT_TRUE(layer);
  EXPECT_EQ(*layer, *src.Get(img.layer_digests[0]));
}

TEST_F(RegistryClientTest, KilnPullsWhatSkopeoPushed) {
  // skopeo writes a dir: image from a kiln-built one, then pushes it.
  MemoryBlobStore src;
  TestImage img = BuildImage(src, {"from skopeo\n"});
  auto dir = TempDir::Create("kiln-skopeo");
  ASSERT_TRUE(dir);
  std::string in = JoinPath(dir->path(), "img");
  ASSERT_TRUE(MakeDirs(in));
  ASSERT_TRUE(WriteFile(JoinPath(in, "manifest.json"), img.push.manifest_bytes));
  ASSERT_TRUE(WriteFile(JoinPath(in, "version"), "Directory Transport Version: 1.1\n"));
  for (const auto& d : img.layer_digests) ASSERT_TRUE(WriteFile(JoinPath(in, d.hex()), *src.Get(d)));
  ASSERT_TRUE(WriteFile(JoinPath(in, img.config_digest.hex()), *src.Get(img.config_digest)));
  std::string digest_file = JoinPath(dir->path(), "digest");
  ASSERT_EQ(Shell("skopeo copy --preserve-digests --dest-tls-verify=false --digestfile " + digest_file +
                  " dir:" + in + " docker://" + Name("interop/skopeo:1")),
            0);
  auto skopeo_digest = ReadFile(digest_file);
  ASSERT_TRUE(skopeo_digest);

  Client client = MakeClient();
  MemoryBlobStore dst;
  auto pulled = client.Pull(Ref(Name("interop/skopeo:1")), HostPlatform(), dst);
  ASSERT_TRUE(pulled) << pulled.error().Render();
  EXPECT_EQ(pulled->manifest_digest.str(), *skopeo_digest);
  EXPECT_EQ(pulled->manifest_digest, img.manifest_digest);
  EXPECT_EQ(*dst.Get(img.layer_digests[0]), *src.Get(img.layer_digests[0]));
}

}  // namespace
}  // namespace kiln::registry
