#include "image/codec.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln::image {
namespace {

const std::string kA = "sha256:" + std::string(64, 'a');
const std::string kB = "sha256:" + std::string(64, 'b');
const std::string kC = "sha256:" + std::string(64, 'c');

Digest D(const std::string& s) { return *Digest::Parse(s); }

TEST(CodecTest, PlatformRoundTrip) {
  Platform p{.architecture = "arm64", .os = "linux", .os_version = "", .os_features = {}, .variant = "v8"};
  const std::string want = R"({"architecture":"arm64","os":"linux","variant":"v8"})";
  EXPECT_EQ(EncodePlatform(p), want);
  auto back = DecodePlatform(want);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, p);

  Platform win{.architecture = "amd64", .os = "windows", .os_version = "10.0.17763.1",
               .os_features = {"win32k"}, .variant = ""};
  const std::string want_win =
      R"({"architecture":"amd64","os":"windows","os.features":["win32k"],"os.version":"10.0.17763.1"})";
  EXPECT_EQ(EncodePlatform(win), want_win);
  auto win_back = DecodePlatform(want_win);
  ASSERT_TRUE(win_back);
  EXPECT_EQ(*win_back, win);
}

TEST(CodecTest, DescriptorRoundTripOmitsEmptyFields) {
  Descriptor d{.media_type = std::string(kOciLayerGzip), .digest = D(kA), .size = 123};
  const std::string want = R"({"digest":")" + kA + R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":123})";
  EXPECT_EQ(EncodeDescriptor(d), want);
  auto back = DecodeDescriptor(want);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, d);

  d.urls = {"https://example.com/layer"};
  d.annotations = {{"z", "1"}, {"a", "2"}};
  d.platform = Platform{.architecture = "amd64", .os = "linux"};
  d.artifact_type = "application/x-test";
  const std::string want_full = R"({"annotations":{"a":"2","z":"1"},"artifactType":"application/x-test","digest":")" +
                                kA +
                                R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","platform":{"architecture":"amd64","os":"linux"},"size":123,"urls":["https://example.com/layer"]})";
  EXPECT_EQ(EncodeDescriptor(d), want_full);
  auto full_back = DecodeDescriptor(want_full);
  ASSERT_TRUE(full_back);
  EXPECT_EQ(*full_back, d);
}

Manifest SampleManifest() {
  Manifest m;
  m.media_type = std::string(kOciManifest);
  m.config = {.media_type = std::string(kOciConfig), .digest = D(kA), .size = 1469};
  m.layers.push_back({.media_type = std::string(kOciLayerGzip), .digest = D(kB), .size = 2152262});
  m.layers.push_back({.media_type = std::string(kOciLayerZstd), .digest = D(kC), .size = 99});
  m.annotations = {{"org.opencontainers.image.created", "2024-01-02T03:04:05Z"}};
  return m;
}

TEST(CodecTest, ManifestRoundTripExactBytes) {
  const std::string want =
      R"({"annotations":{"org.opencontainers.image.created":"2024-01-02T03:04:05Z"},"config":{"digest":")" + kA +
      R"(","mediaType":"application/vnd.oci.image.config.v1+json","size":1469},"layers":[{"digest":")" + kB +
      R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":2152262},{"digest":")" + kC +
      R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","size":99}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2})";
  EXPECT_EQ(EncodeManifest(SampleManifest()), want);
  auto back = DecodeManifest(want);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, SampleManifest());
  EXPECT_EQ(EncodeManifest(*back), want);
  EXPECT_EQ(Digest::Of(EncodeManifest(*back)), Digest::Of(want));
}

TEST(CodecTest, EmptyManifestStillHasLayersArray) {
  Manifest m;
  m.config = {.media_type = std::string(kOciConfig), .digest = D(kA), .size = 2};
  EXPECT_EQ(EncodeManifest(m), R"({"config":{"digest":")" + kA +
                                   R"(","mediaType":"application/vnd.oci.image.config.v1+json","size":2},"layers":[],"schemaVersion":2})");
}

TEST(CodecTest, DecodesRealWorldDockerManifest) {
  // Shaped like `docker manifest inspect` output for a schema2 image:
  // indented, Go field order.
  const std::string text = R"({
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
   "config": {
      "mediaType": "application/vnd.docker.container.image.v1+json",
      "size": 1457,
      "digest": ")" + kA + R"("
   },
   "layers": [
      {
         "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
         "size": 2220094,
         "digest": ")" + kB + R"("
      }
   ]
})";
  auto m = DecodeManifest(text);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->media_type, kDockerManifest);
  EXPECT_EQ(m->config.size, 1457);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].digest.str(), kB);
  EXPECT_EQ(m->layers[0].media_type, kDockerLayerGzip);
  auto kind = DetectManifestMediaType(text);
  ASSERT_TRUE(kind);
  EXPECT_EQ(*kind, kDockerManifest);
}

TEST(CodecTest, IndexRoundTripAndRealWorldList) {
  Index index;
  index.media_type = std::string(kOciIndex);
  index.manifests.push_back({.media_type = std::string(kOciManifest), .digest = D(kA), .size = 500,
                             .platform = Platform{.architecture = "amd64", .os = "linux"}});
  index.manifests.push_back({.media_type = std::string(kOciManifest), .digest = D(kB), .size = 501,
                             .annotations = {{"vnd.docker.reference.digest", kA},
                                             {"vnd.docker.reference.type", "attestation-manifest"}},
                             .platform = Platform{.architecture = "unknown", .os = "unknown"}});
  const std::string want = R"({"manifests":[{"digest":")" + kA +
                           R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"architecture":"amd64","os":"linux"},"size":500},{"annotations":{"vnd.docker.reference.digest":")" +
                           kA + R"(","vnd.docker.reference.type":"attestation-manifest"},"digest":")" + kB +
                           R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","platform":{"architecture":"unknown","os":"unknown"},"size":501}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2})";
  EXPECT_EQ(EncodeIndex(index), want);
  auto back = DecodeIndex(want);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, index);

  const std::string list = R"({"manifests":[{"digest":")" + kC +
                           R"(","mediaType":"application/vnd.docker.distribution.manifest.v2+json","platform":{"architecture":"arm","os":"linux","variant":"v7"},"size":527}],"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","schemaVersion":2})";
  auto decoded = DecodeIndex(list);
  ASSERT_TRUE(decoded) << decoded.error().message();
  ASSERT_EQ(decoded->manifests.size(), 1u);
  EXPECT_EQ(decoded->manifests[0].platform->variant, "v7");
  EXPECT_EQ(EncodeIndex(*decoded), list);
  auto kind = DetectManifestMediaType(R"({"schemaVersion":2,"manifests":[]})");
  ASSERT_TRUE(kind);
  EXPECT_EQ(*kind, kOciIndex);
}

ImageConfig SampleConfig() {
  ImageConfig c;
  c.created = "2024-01-02T03:04:05.123456789Z";
  c.author = "kiln";
  c.architecture = "amd64";
  c.os = "linux";
  c.config.user = "app";
  c.config.exposed_ports = {"443/tcp", "80/tcp"};
  c.config.env = {"PATH=/usr/local/bin:/usr/bin", "A=b"};
  c.config.entrypoint = {"/bin/sh", "-c"};
  c.config.cmd = {"echo hi"};
  c.config.volumes = {"/data"};
  c.config.working_dir = "/app";
  c.config.labels = {{"org.example", "1"}};
  c.config.stop_signal = "SIGTERM";
  c.config.healthcheck = Healthcheck{.test = {"CMD-SHELL", "true"}, .interval = 30000000000,
                                     .timeout = 5000000000, .start_period = 1, .start_interval = 2,
                                     .retries = 3};
  c.config.shell = {"/bin/bash", "-c"};
  c.config.on_build = {"RUN true"};
  c.config.args_escaped = true;
  c.rootfs.diff_ids = {D(kB)};
  c.history.push_back({.created = "2024-01-02T03:04:05Z", .created_by = "/bin/sh -c #(nop) ADD file:x in / "});
  c.history.push_back({.created = "2024-01-02T03:04:06Z", .created_by = "CMD [\"echo hi\"]",
                       .author = "me", .comment = "buildkit.dockerfile.v0", .empty_layer = true});
  return c;
}

TEST(CodecTest, ImageConfigRoundTripExactBytes) {
  const std::string want =
      R"({"architecture":"amd64","author":"kiln","config":{"ArgsEscaped":true,"Cmd":["echo hi"],"Entrypoint":["/bin/sh","-c"],"Env":["PATH=/usr/local/bin:/usr/bin","A=b"],"ExposedPorts":{"443/tcp":{},"80/tcp":{}},"Healthcheck":{"Interval":30000000000,"Retries":3,"StartInterval":2,"StartPeriod":1,"Test":["CMD-SHELL","true"],"Timeout":5000000000},"Labels":{"org.example":"1"},"OnBuild":["RUN true"],"Shell":["/bin/bash","-c"],"StopSignal":"SIGTERM","User":"app","Volumes":{"/data":{}},"WorkingDir":"/app"},"created":"2024-01-02T03:04:05.123456789Z","history":[{"created":"2024-01-02T03:04:05Z","created_by":"/bin/sh -c #(nop) ADD file:x in / "},{"author":"me","comment":"buildkit.dockerfile.v0","created":"2024-01-02T03:04:06Z","created_by":"CMD [\"echo hi\"]","empty_layer":true}],"os":"linux","rootfs":{"diff_ids":[")" +
      kB + R"("],"type":"layers"}})";
  EXPECT_EQ(EncodeImageConfig(SampleConfig()), want);
  auto back = DecodeImageConfig(want);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, SampleConfig());
}

TEST(CodecTest, MinimalImageConfig) {
  ImageConfig c;
  c.architecture = "amd64";
  c.os = "linux";
  const std::string want = R"({"architecture":"amd64","os":"linux","rootfs":{"diff_ids":[],"type":"layers"}})";
  EXPECT_EQ(EncodeImageConfig(c), want);
  auto back = DecodeImageConfig(want);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, c);
}

TEST(CodecTest, DecodesRealWorldDockerConfigWithNulls) {
  // Docker-built configs carry null fields and extra legacy keys.
  const std::string text = R"({"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"",
    "AttachStdin":false,"Tty":false,"Env":["PATH=/bin"],"Cmd":["sh"],"Image":"sha256:00","Volumes":null,
    "WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":null},"container":"abc","created":"2023-07-18T23:19:33.655005962Z",
    "docker_version":"20.10.23","history":[{"created":"2023-07-18T23:19:33.538571854Z","created_by":"/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in / "},
    {"created":"2023-07-18T23:19:33.655005962Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}],
    "os":"linux","rootfs":{"type":"layers","diff_ids":[")" + kB + R"("]}})";
  auto c = DecodeImageConfig(text);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->config.cmd, std::vector<std::string>{"sh"});
  EXPECT_TRUE(c->config.entrypoint.empty());
  EXPECT_EQ(c->history.size(), 2u);
  EXPECT_TRUE(c->history[1].empty_layer);
  EXPECT_EQ(EncodeImageConfig(*c),
            R"({"architecture":"amd64","config":{"Cmd":["sh"],"Env":["PATH=/bin"]},"created":"2023-07-18T23:19:33.655005962Z","history":[{"created":"2023-07-18T23:19:33.538571854Z","created_by":"/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in / "},{"created":"2023-07-18T23:19:33.655005962Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}],"os":"linux","rootfs":{"diff_ids":[")" +
                kB + R"("],"type":"layers"}})");
}

struct BadCase {
  std::string json;
  std::string message;
};

TEST(CodecTest, ManifestErrorsNameTheField) {
  const std::string cfg = R"("config":{"mediaType":"x","digest":")" + kA + R"(","size":1})";
  const BadCase cases[] = {
      {"", "manifest: invalid JSON: parse error at line 1, column 1: syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal"},
      {"[]", "manifest: expected object, got array"},
      {R"({"config":{}})", "manifest.schemaVersion: unsupported schema version missing (want 2)"},
      {R"({"schemaVersion":1})", "manifest.schemaVersion: unsupported schema version 1 (want 2)"},
      {R"({"schemaVersion":"2"})", "manifest.schemaVersion: expected integer, got string"},
      {R"({"schemaVersion":2})", "manifest.config: missing"},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)" + cfg + "}",
       R"(manifest.mediaType: "application/vnd.oci.image.index.v1+json" is not an image manifest)"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":{}})", "manifest.layers: expected array, got object"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"digest":")" + kB + R"(","size":1},{"digest":")" + kB +
           R"(","size":1},{"digest":"sha256:xyz","size":3}]})",
       R"(manifest.layers[2].digest: invalid digest "sha256:xyz": want 64 lowercase hex digits)"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"size":1}]})", "manifest.layers[0].digest: missing"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"digest":")" + kB + R"(","size":-1}]})",
       "manifest.layers[0].size: negative size -1"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"digest":")" + kB + R"(","size":1.5}]})",
       "manifest.layers[0].size: expected integer, got number"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"layers":[{"digest":")" + kB + R"(","size":18446744073709551615}]})",
       "manifest.layers[0].size: 18446744073709551615 is out of range"},
      {R"({"schemaVersion":2,)" + cfg + R"(,"annotations":{"a":1}})",
       R"(manifest.annotations["a"]: expected string, got number)"},
      {R"({"schemaVersion":2,"config":{"digest":")" + kA + R"(","size":1,"platform":[]}})",
       "manifest.config.platform: expected object, got array"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.json);
    auto m = DecodeManifest(c.json);
    ASSERT_FALSE(m);
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalid);
    EXPECT_EQ(m.error().message(), c.message);
  }
}

TEST(CodecTest, ConfigAndIndexErrorsNameTheField) {
  const BadCase config_cases[] = {
      {R"({"config":{"Env":["A",1]}})", "config.config.Env[1]: expected string, got number"},
      {R"({"config":{"Healthcheck":{"Retries":"3"}}})", "config.config.Healthcheck.Retries: expected integer, got string"},
      {R"({"config":{"Healthcheck":{"Retries":4294967296}}})", "config.config.Healthcheck.Retries: 4294967296 is out of range"},
      {R"({"config":{"ExposedPorts":["80/tcp"]}})", "config.config.ExposedPorts: expected object, got array"},
      {R"({"config":{"ArgsEscaped":"true"}})", "config.config.ArgsEscaped: expected boolean, got string"},
      {R"({"rootfs":{"diff_ids":["sha256:00"]}})",
       R"(config.rootfs.diff_ids[0]: invalid digest "sha256:00": want 64 lowercase hex digits)"},
      {R"({"history":[{},{"empty_layer":1}]})", "config.history[1].empty_layer: expected boolean, got number"},
  };
  for (const BadCase& c : config_cases) {
    SCOPED_TRACE(c.json);
    auto r = DecodeImageConfig(c.json);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message(), c.message);
  }
  auto index = DecodeIndex(R"({"schemaVersion":2,"manifests":[{"digest":"md5:00","size":1}]})");
  ASSERT_FALSE(index);
  EXPECT_EQ(index.error().message(), R"(index.manifests[0].digest: invalid digest "md5:00": unsupported algorithm "md5")");
  auto wrong = DecodeIndex(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"})");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().message(),
            R"(index.mediaType: "application/vnd.oci.image.manifest.v1+json" is not an image index)");
  auto neither = DetectManifestMediaType(R"({"schemaVersion":2})");
  ASSERT_FALSE(neither);
  EXPECT_EQ(neither.error().message(),
            "manifest: neither an image manifest nor an index (no mediaType, manifests or layers)");
}

TEST(CodecTest, RejectsOversizedDocuments) {
  std::string big = R"({"schemaVersion":2,"annotations":{"a":")" + std::string(kMaxManifestBytes, 'x') + R"("}})";
  auto m = DecodeManifest(big);
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(),
            "manifest: document is 4194346 bytes, larger than the limit of 4194304 bytes");
}

TEST(CodecTest, EncodingReplacesInvalidUtf8InsteadOfThrowing) {
  ImageConfig c;
  c.architecture = "amd64";
  c.os = "linux";
  c.author = "a\xff";
  EXPECT_EQ(EncodeImageConfig(c),
            "{\"architecture\":\"amd64\",\"author\":\"a\xef\xbf\xbd\",\"os\":\"linux\",\"rootfs\":{\"diff_ids\":[],\"type\":\"layers\"}}");
}

}  // namespace
}  // namespace kiln::image
