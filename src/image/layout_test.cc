#include "image/layout.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <map>

#include "base/fs.h"
#include "image/codec.h"
#include "image/layout_internal.h"

namespace kiln::image {
namespace {

struct TarEntry {
  std::string name;
  std::string data;
  std::string symlink;  // if set, a symlink to this target
};

enum class Gzip { kNo, kYes };

void WriteTar(const std::string& path, const std::vector<TarEntry>& entries, Gzip gzip = Gzip::kNo) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (gzip == Gzip::kYes) archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const TarEntry& t : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.name.c_str());
    if (!t.symlink.empty()) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, t.symlink.c_str());
      archive_entry_set_perm(e, 0777);
    } else {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_entry_set_size(e, static_cast<la_int64_t>(t.data.size()));
    }
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    if (t.symlink.empty() && !t.data.empty()) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

// Blobs kept in memory, served by digest.
struct BlobStore {
  std::map<Digest, std::string> blobs;
  Digest Put(std::string data) {
    Digest d = Digest::Of(data);
    blobs[d] = std::move(data);
    return d;
  }
  BlobSource Source() {
    return [this](const Digest& d, const BlobSink& sink) -> Result<void> {
      auto it = blobs.find(d);
      if (it == blobs.end()) return Fail(Error::NotFound("no blob " + d.str()));
      // Two chunks, to exercise chunked streaming.
      std::string_view data = it->second;
      KILN_TRY(sink(data.substr(0, data.size() / 2)));
      return sink(data.substr(data.size() / 2));
    };
  }
};

Reference Ref(std::string_view s) { return *Reference::Parse(s); }

// Builds an image with the given layer contents in `store`.
ImageToSave MakeImage(BlobStore& store, const std::vector<std::string>& layers, std::vector<Reference> names,
                      std::string_view layer_type = kOciLayer) {
  ImageConfig config;
  config.architecture = "amd64";
  config.os = "linux";
  Manifest m;
  m.media_type = std::string(kOciManifest);
  for (const std::string& layer : layers) {
    Digest d = store.Put(layer);
    config.rootfs.diff_ids.push_back(d);
    m.layers.push_back({.media_type = std::string(layer_type), .digest = d, .size = static_cast<int64_t>(layer.size())});
  }
  std::string config_json = EncodeImageConfig(config);
  m.config = {.media_type = std::string(kOciConfig), .digest = store.Put(config_json),
              .size = static_cast<int64_t>(config_json.size())};
  return {.names = std::move(names), .manifest_json = EncodeManifest(m), .config_json = config_json};
}

struct Visited {
  LoadedImage image;
  std::map<Digest, std::string> blobs;
};

Result<std::vector<Visited>> ReadAll(const std::string& path) {
  std::vector<Visited> out;
  KILN_TRY(ReadImageArchive(path, [&](const LoadedImage& image, BlobReader& reader) -> Result<void> {
    Visited v;
    v.image = image;
    for (const Descriptor& layer : image.manifest.layers) {
      std::string data;
      KILN_TRY(reader.ReadBlob(layer.digest, [&](std::string_view chunk) -> Result<void> {
        data.append(chunk);
        return Ok();
      }));
      v.blobs[layer.digest] = std::move(data);
    }
    out.push_back(std::move(v));
    return Ok();
  }));
  return out;
}

std::string ReadEntry(const std::string& archive, const std::string& name) {
  auto tree = internal::OpenTarTree(archive);
  EXPECT_TRUE(tree) << tree.error().message();
  auto data = (*tree)->ReadSmall(name, 1 << 20);
  EXPECT_TRUE(data) << data.error().message();
  return data ? *data : "";
}

class LayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = TempDir::Create("kiln-image-test");
    ASSERT_TRUE(dir);
    dir_.emplace(std::move(*dir));
  }
  std::string Path(std::string_view name) { return JoinPath(dir_->path(), name); }
  std::optional<TempDir> dir_;
};

TEST_F(LayoutTest, OciArchiveRoundTrip) {
  BlobStore store;
  std::vector<ImageToSave> images = {
      MakeImage(store, {"layer one", "layer two"}, {Ref("busybox"), Ref("ghcr.io/a/b:1.0")}),
      MakeImage(store, {"layer one", "third"}, {}),
  };
  std::string out = Path("img.tar");
  auto w = WriteImageArchive(out, ArchiveFormat::kOciArchive, images, store.Source());
  ASSERT_TRUE(w) << w.error().Render();

  Digest m0 = Digest::Of(images[0].manifest_json);
  Digest m1 = Digest::Of(images[1].manifest_json);
  EXPECT_EQ(ReadEntry(out, "oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  EXPECT_EQ(ReadEntry(out, "index.json"),
            R"({"manifests":[{"annotations":{"io.containerd.image.name":"docker.io/library/busybox:latest","org.opencontainers.image.ref.name":"latest"},"digest":")" +
                m0.str() + R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","size":)" +
                std::to_string(images[0].manifest_json.size()) +
                R"(},{"annotations":{"io.containerd.image.name":"ghcr.io/a/b:1.0","org.opencontainers.image.ref.name":"1.0"},"digest":")" +
                m0.str() + R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","size":)" +
                std::to_string(images[0].manifest_json.size()) + R"(},{"digest":")" + m1.str() +
                R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","size":)" +
                std::to_string(images[1].manifest_json.size()) +
                R"(}],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2})");

  auto read = ReadAll(out);
  ASSERT_TRUE(read) << read.error().Render();
  ASSERT_EQ(read->size(), 2u);
  const Visited& a = (*read)[0];
  ASSERT_EQ(a.image.names.size(), 2u);
  EXPECT_EQ(a.image.names[0].String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(a.image.names[1].String(), "ghcr.io/a/b:1.0");
  EXPECT_EQ(a.image.manifest_digest, m0);
  EXPECT_EQ(a.image.manifest_json, images[0].manifest_json);
  EXPECT_EQ(a.image.config_json, images[0].config_json);
  EXPECT_EQ(a.blobs.at(Digest::Of("layer one")), "layer one");
  EXPECT_EQ(a.blobs.at(Digest::Of("layer two")), "layer two");
  const Visited& b = (*read)[1];
  EXPECT_TRUE(b.image.names.empty());
  EXPECT_EQ(b.image.manifest_digest, m1);
  EXPECT_EQ(b.blobs.at(Digest::Of("third")), "third");
}

TEST_F(LayoutTest, DockerArchiveRoundTrip) {
  BlobStore store;
  std::vector<ImageToSave> images = {MakeImage(store, {"l1", "l2"}, {Ref("busybox:1.36")}, kOciLayerGzip)};
  std::string out = Path("docker.tar");
  auto w = WriteImageArchive(out, ArchiveFormat::kDockerArchive, images, store.Source());
  ASSERT_TRUE(w) << w.error().Render();
  Digest config = Digest::Of(images[0].config_json);
  EXPECT_EQ(ReadEntry(out, "manifest.json"), R"([{"Config":"blobs/sha256/)" + config.hex() +
                                                 R"(","Layers":["blobs/sha256/)" + Digest::Of("l1").hex() +
                                                 R"(","blobs/sha256/)" + Digest::Of("l2").hex() +
                                                 R"("],"RepoTags":["busybox:1.36"]}])");
  EXPECT_EQ(ReadEntry(out, "repositories"), R"({"busybox":{"1.36":")" + Digest::Of("l2").hex() + R"("}})");

  auto read = ReadAll(out);
  ASSERT_TRUE(read) << read.error().Render();
  ASSERT_EQ(read->size(), 1u);
  const LoadedImage& image = (*read)[0].image;
  EXPECT_EQ(image.names[0].String(), "docker.io/library/busybox:1.36");
  EXPECT_EQ(image.manifest.media_type, kDockerManifest);
  EXPECT_EQ(image.manifest.config.media_type, kDockerConfig);
  EXPECT_EQ(image.manifest.layers[0].media_type, kDockerLayerGzip);
  EXPECT_EQ(image.manifest.config.digest, config);
  EXPECT_EQ(image.manifest_digest, Digest::Of(image.manifest_json));
  EXPECT_EQ((*read)[0].blobs.at(Digest::Of("l2")), "l2");
}

TEST_F(LayoutTest, OciDirectoryRoundTripAndAppend) {
  BlobStore store;
  std::string out = Path("layout");
  auto w = WriteImageArchive(out, ArchiveFormat::kOciDirectory, {MakeImage(store, {"a"}, {Ref("x:1")})},
                             store.Source());
  ASSERT_TRUE(w) << w.error().Render();
  w = WriteImageArchive(out, ArchiveFormat::kOciDirectory, {MakeImage(store, {"b"}, {Ref("x:2")})},
                        store.Source());
  ASSERT_TRUE(w) << w.error().Render();
  auto read = ReadAll(out);
  ASSERT_TRUE(read) << read.error().Render();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].image.names[0].String(), "docker.io/library/x:1");
  EXPECT_EQ((*read)[0].blobs.at(Digest::Of("a")), "a");
  EXPECT_EQ((*read)[1].image.names[0].String(), "docker.io/library/x:2");
  EXPECT_EQ(*ReadFile(JoinPath(out, "blobs/sha256/" + Digest::Of("b").hex())), "b");
}

TEST_F(LayoutTest, WriteRejectsWrongBlobContentAndLeavesNoFile) {
  BlobStore store;
  ImageToSave image = MakeImage(store, {"good"}, {Ref("x")});
  store.blobs[Digest::Of("good")] = "evil";  // same size, different content
  std::string out = Path("bad.tar");
  auto w = WriteImageArchive(out, ArchiveFormat::kOciArchive, {image}, store.Source());
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(w.error().message(), "blob " + Digest::Of("good").str() + ": digest mismatch: content is " +
                                     Digest::Of("evil").str());
  EXPECT_EQ(w.error().context(), std::vector<std::string>{"writing " + out});
  EXPECT_FALSE(PathExists(out));

  store.blobs[Digest::Of("good")] = "goo";  // short
  w = WriteImageArchive(out, ArchiveFormat::kOciArchive, {image}, store.Source());
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().message(), "blob " + Digest::Of("good").str() + ": got 3 bytes, expected 4");
  EXPECT_FALSE(PathExists(out));
}

// A classic `docker save` archive (docker < 25): legacy layer dirs, a
// symlinked duplicate layer, "<hex>.json" config, manifest.json, repositories.
TEST_F(LayoutTest, ReadsClassicDockerSave) {
  const std::string layer1 = std::string("layer-one-tar-bytes");
  const std::string layer2 = std::string("\x1f\x8b\x08gzipped", 11);
  ImageConfig config;
  config.architecture = "amd64";
  config.os = "linux";
  config.rootfs.diff_ids = {Digest::Of(layer1), Digest::Of("uncompressed layer2")};
  std::string config_json = EncodeImageConfig(config);
  Digest config_digest = Digest::Of(config_json);
  std::string out = Path("classic.tar");
  WriteTar(out, {
                    {"aaa/VERSION", "1.0", ""},
                    {"aaa/json", "{}", ""},
                    {"aaa/layer.tar", layer1, ""},
                    {"bbb/layer.tar", layer2, ""},
                    {"ccc/layer.tar", "", "../bbb/layer.tar"},
                    {config_digest.hex() + ".json", config_json, ""},
                    {"manifest.json",
                     R"([{"Config":")" + config_digest.hex() +
                         R"(.json","RepoTags":["busybox:latest","localhost:5000/b:2"],"Layers":["aaa/layer.tar","ccc/layer.tar"]}])",
                     ""},
                    {"repositories", R"({"busybox":{"latest":"ccc"}})", ""},
                });
  auto read = ReadAll(out);
  ASSERT_TRUE(read) << read.error().Render();
  ASSERT_EQ(read->size(), 1u);
  const LoadedImage& image = (*read)[0].image;
  ASSERT_EQ(image.names.size(), 2u);
  EXPECT_EQ(image.names[0].String(), "docker.io/library/busybox:latest");
  EXPECT_EQ(image.names[1].String(), "localhost:5000/b:2");
  EXPECT_EQ(image.config_json, config_json);
  EXPECT_EQ(image.manifest_json,
            R"({"config":{"digest":")" + config_digest.str() +
                R"(","mediaType":"application/vnd.oci.image.config.v1+json","size":)" +
                std::to_string(config_json.size()) + R"(},"layers":[{"digest":")" + Digest::Of(layer1).str() +
                R"(","mediaType":"application/vnd.oci.image.layer.v1.tar","size":19},{"digest":")" +
                Digest::Of(layer2).str() +
                R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":11}],"mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2})");
  EXPECT_EQ(image.manifest_digest, Digest::Of(image.manifest_json));
  EXPECT_EQ((*read)[0].blobs.at(Digest::Of(layer1)), layer1);
  EXPECT_EQ((*read)[0].blobs.at(Digest::Of(layer2)), layer2);
}

struct Malformed {
  std::string name;
  std::vector<TarEntry> entries;
  ErrorCode code;
  std::string message;  // "ARCHIVE" is replaced by the archive path
};

TEST_F(LayoutTest, MalformedArchivesGiveClearErrors) {
  ImageConfig config;
  config.architecture = "amd64";
  config.os = "linux";
  config.rootfs.diff_ids = {Digest::Of("L")};
  const std::string cfg = EncodeImageConfig(config);
  const Digest cfg_digest = Digest::Of(cfg);
  const std::string bad_hex = Digest::Of("x").hex();
  const std::string manifest_for = R"({"schemaVersion":2,"config":{"digest":")" + cfg_digest.str() +
                                   R"(","size":1},"layers":[{"digest":"sha256:)" + bad_hex + R"(","size":1}]})";
  const std::string index_for = R"({"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                                Digest::Of(manifest_for).str() + R"(","size":1}]})";
  const Malformed cases[] = {
      {"empty", {{"hello.txt", "hi", ""}}, ErrorCode::kInvalid,
       "ARCHIVE: not an image archive: no manifest.json or index.json"},
      {"traversal",
       {{"c.json", cfg, ""}, {"manifest.json", R"([{"Config":"c.json","Layers":["../../x"]}])", ""}},
       ErrorCode::kInvalid, R"(ARCHIVE: manifest.json[0].Layers[0]: invalid path "../../x": outside the archive)"},
      {"absolute",
       {{"c.json", cfg, ""}, {"manifest.json", R"([{"Config":"/etc/passwd","Layers":[]}])", ""}},
       ErrorCode::kInvalid, R"(ARCHIVE: manifest.json[0].Config: invalid path "/etc/passwd": outside the archive)"},
      {"missing layer",
       {{"c.json", cfg, ""}, {"manifest.json", R"([{"Config":"c.json","Layers":["abc/layer.tar"]}])", ""}},
       ErrorCode::kNotFound, R"(ARCHIVE: manifest.json[0].Layers[0]: "abc/layer.tar" not found in the archive)"},
      {"diff id mismatch",
       {{"c.json", cfg, ""}, {"l.tar", "M", ""}, {"manifest.json", R"([{"Config":"c.json","Layers":["l.tar"]}])", ""}},
       ErrorCode::kDigestMismatch,
       "ARCHIVE: l.tar: digest mismatch: content is " + Digest::Of("M").str() + ", rootfs.diff_ids[0] is " +
           Digest::Of("L").str()},
      {"layer count",
       {{"c.json", cfg, ""}, {"manifest.json", R"([{"Config":"c.json","Layers":[]}])", ""}},
       ErrorCode::kInvalid, "ARCHIVE: manifest.json[0]: 0 layers but the config lists 1 diff_ids"},
      {"bad json", {{"manifest.json", R"({"Config":)", ""}}, ErrorCode::kInvalid,
       "ARCHIVE: manifest.json: invalid JSON: parse error at line 1, column 11: syntax error while parsing value - unexpected end of input; expected '[', '{', or a literal"},
      {"oci blob digest mismatch",
       {{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})", ""},
        {"index.json", index_for, ""},
        {"blobs/sha256/" + Digest::Of(manifest_for).hex(), manifest_for, ""},
        {"blobs/sha256/" + cfg_digest.hex(), "tampered", ""}},
       ErrorCode::kDigestMismatch,
       "ARCHIVE: blobs/sha256/" + cfg_digest.hex() + ": digest mismatch: content is " + Digest::Of("tampered").str()},
      {"oci blob missing",
       {{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})", ""},
        {"index.json", index_for, ""},
        {"blobs/sha256/" + Digest::Of(manifest_for).hex(), manifest_for, ""},
        {"blobs/sha256/" + cfg_digest.hex(), cfg, ""}},
       ErrorCode::kNotFound, "ARCHIVE: blob sha256:" + bad_hex + " not found in the archive"},
      {"oci layout version",
       {{"oci-layout", R"({"imageLayoutVersion":"2.0.0"})", ""}, {"index.json", index_for, ""}},
       ErrorCode::kUnsupported, R"(ARCHIVE: oci-layout: unsupported imageLayoutVersion "2.0.0" (want "1.0.0"))"},
  };
  for (const Malformed& c : cases) {
    SCOPED_TRACE(c.name);
    std::string out = Path("bad.tar");
    WriteTar(out, c.entries);
    auto read = ReadAll(out);
    ASSERT_FALSE(read);
    EXPECT_EQ(read.error().code(), c.code);
    std::string want = c.message;
    want.replace(0, 7, out);
    EXPECT_EQ(read.error().message(), want);
  }
}

// `docker save busybox | gzip` and buildkit's multi-platform OCI export: a
// nested index whose manifest for the requested platform is chosen.
TEST_F(LayoutTest, ReadsGzippedOciArchiveWithNestedIndex) {
  BlobStore store;
  ImageToSave amd = MakeImage(store, {"amd64 layer"}, {});
  ImageToSave arm = MakeImage(store, {"arm64 layer"}, {});
  Index nested;
  nested.media_type = std::string(kOciIndex);
  nested.manifests = {
      {.media_type = std::string(kOciManifest), .digest = Digest::Of(amd.manifest_json),
       .size = static_cast<int64_t>(amd.manifest_json.size()), .platform = Platform{.architecture = "amd64", .os = "linux"}},
      {.media_type = std::string(kOciManifest), .digest = Digest::Of(arm.manifest_json),
       .size = static_cast<int64_t>(arm.manifest_json.size()), .platform = Platform{.architecture = "arm64", .os = "linux"}},
  };
  std::string nested_json = EncodeIndex(nested);
  Index top;
  top.manifests = {{.media_type = std::string(kOciIndex), .digest = Digest::Of(nested_json),
                    .size = static_cast<int64_t>(nested_json.size()),
                    .annotations = {{"io.containerd.image.name", "docker.io/library/multi:1"},
                                    {"org.opencontainers.image.ref.name", "1"}}}};
  std::vector<TarEntry> entries = {{"oci-layout", R"({"imageLayoutVersion":"1.0.0"})", ""},
                                   {"index.json", EncodeIndex(top), ""},
                                   {"blobs/sha256/" + Digest::Of(nested_json).hex(), nested_json, ""}};
  for (const ImageToSave* image : {&amd, &arm}) {
    entries.push_back({"blobs/sha256/" + Digest::Of(image->manifest_json).hex(), image->manifest_json, ""});
  }
  for (const auto& [digest, data] : store.blobs) entries.push_back({"blobs/sha256/" + digest.hex(), data, ""});
  std::string out = Path("multi.tar.gz");
  WriteTar(out, entries, Gzip::kYes);

  std::vector<std::string> seen;
  ReadOptions options;
  options.platform = Platform{.architecture = "arm64", .os = "linux", .variant = "v8"};
  auto r = ReadImageArchive(
      out,
      [&](const LoadedImage& image, BlobReader& blobs) -> Result<void> {
        seen.push_back(image.names.at(0).String() + " " + image.manifest_digest.str());
        std::string data;
        KILN_TRY(blobs.ReadBlob(image.manifest.layers.at(0).digest, [&](std::string_view c) -> Result<void> {
          data.append(c);
          return Ok();
        }));
        seen.push_back(data);
        return Ok();
      },
      options);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(seen, (std::vector<std::string>{"docker.io/library/multi:1 " + Digest::Of(arm.manifest_json).str(),
                                            "arm64 layer"}));

  options.platform = Platform{.architecture = "s390x", .os = "linux"};
  r = ReadImageArchive(out, [](const LoadedImage&, BlobReader&) -> Result<void> { return Ok(); }, options);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), "no matching manifest for linux/s390x in the manifest list entries");
  EXPECT_EQ(r.error().context(),
            std::vector<std::string>{out + ": reading index " + Digest::Of(nested_json).str()});
}

TEST_F(LayoutTest, VisitorErrorsAreReturnedUnchanged) {
  BlobStore store;
  std::string out = Path("img.tar");
  ASSERT_TRUE(WriteImageArchive(out, ArchiveFormat::kOciArchive, {MakeImage(store, {"a"}, {})}, store.Source()));
  auto r = ReadImageArchive(out, [](const LoadedImage&, BlobReader&) -> Result<void> {
    return Fail(Error::Usage("stop"));
  });
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUsage);
  EXPECT_EQ(r.error().message(), "stop");
}

TEST_F(LayoutTest, NotATarIsAnError) {
  std::string out = Path("junk.tar");
  ASSERT_TRUE(WriteFile(out, std::string(2000, 'j')));
  auto read = ReadAll(out);
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(read.error().message(), out + ": not a tar archive: Unrecognized archive format");
  auto missing = ReadAll(Path("nope.tar"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

}  // namespace
}  // namespace kiln::image
