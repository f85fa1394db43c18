#include "worker/push_layers.h"

#include <gtest/gtest.h>

#include "archive/compression.h"
#include "archive/layer.h"
#include "base/fs.h"
#include "image/codec.h"
#include "store/blob_sink.h"
#include "worker/cache_export.h"

namespace kiln::worker {
namespace {

class PushLayersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::Create("kiln-push-test");
    ASSERT_TRUE(d);
    dir_ = std::make_unique<TempDir>(std::move(*d));
    auto st = store::Store::Open(dir_->path() + "/root");
    ASSERT_TRUE(st) << st.error().Render();
    store_ = std::move(*st);
    images_ = std::make_unique<ImageStore>(*store_);
  }

  // Stores a layer holding /<name> = `content`, compressed as `compression`
  // says, and returns it with `media_type`.
  solver::LayerRef MakeLayer(const std::string& name, const std::string& content,
                             archive::Compression compression, std::string_view media_type) {
    auto upper = TempDir::Create("kiln-push-upper");
    EXPECT_TRUE(upper);
    EXPECT_TRUE(WriteFile(upper->path() + "/" + name, std::string(content)));
    auto writer = store_->blobs().Create();
    EXPECT_TRUE(writer);
    store::BlobSink sink(*writer);
    archive::LayerWriteOptions opt;
    opt.compression.compression = compression;
    auto info = archive::WriteLayerFromDir(upper->path(), sink, opt);
    EXPECT_TRUE(info) << info.error().Render();
    auto blob = writer->Commit(info->digest, info->size);
    EXPECT_TRUE(blob) << blob.error().Render();
    solver::LayerRef l;
    l.diff_id = info->diff_id;
    l.blob = *blob;
    l.media_type = std::string(media_type);
    l.blob_size = info->size;
    return l;
  }

  StoredImage CommitImage(const std::vector<solver::LayerRef>& layers) {
    solver::ImageState state;
    state.config.architecture = "amd64";
    state.config.os = "linux";
    state.layers = layers;
    auto img = images_->Commit(state, {"docker.io/library/app:latest"});
    EXPECT_TRUE(img) << img.error().Render();
    return *img;
  }

  // The sha256 of the decompressed blob `d`, and whether it is gzip.
  std::pair<Digest, bool> Inflate(const Digest& d) {
    auto bytes = store_->blobs().Read(d);
    EXPECT_TRUE(bytes) << bytes.error().Render();
    archive::StringSource source(*bytes);
    auto plain = archive::OpenDecompressor(source);
    EXPECT_TRUE(plain);
    std::string out;
    std::vector<char> buf(65536);
    for (;;) {
      auto n = (*plain)->Read(buf);
      EXPECT_TRUE(n);
      if (!n || *n == 0) break;
      out.append(buf.data(), *n);
    }
    return {Digest::Of(out), archive::SniffCompression(*bytes) == archive::Compression::kGzip};
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ImageStore> images_;
};

TEST_F(PushLayersTest, UncompressedLayersArePushedAsGzipOfTheSameTar) {
  solver::LayerRef base = MakeLayer("base", "base\n", archive::Compression::kGzip, image::kOciLayerGzip);
  solver::LayerRef top = MakeLayer("top", "top\n", archive::Compression::kNone, image::kOciLayer);
  ASSERT_EQ(top.blob, top.diff_id);
  StoredImage img = CommitImage({base, top});

  auto push = PushRequest(*images_, img);
  ASSERT_TRUE(push) << push.error().Render();
  EXPECT_EQ(push->media_type, image::kOciManifest);
  auto m = image::DecodeManifest(push->manifest_bytes);
  ASSERT_TRUE(m) << m.error().Render();
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0], img.manifest.layers[0]);  // already gzip: sent as stored
  EXPECT_EQ(m->layers[1].media_type, image::kOciLayerGzip);
  EXPECT_NE(m->layers[1].digest, top.blob);
  auto size = store_->blobs().Size(m->layers[1].digest);
  ASSERT_TRUE(size) << size.error().Render();
  EXPECT_EQ(m->layers[1].size, *size);
  EXPECT_EQ(Inflate(m->layers[1].digest), std::make_pair(top.diff_id, true));
  EXPECT_EQ(m->config, img.manifest.config);  // diff ids unchanged

  // The mapping is recorded: a second push reuses the same blob.
  auto layers = store_->FindLayersByDiffId(top.diff_id);
  ASSERT_TRUE(layers);
  ASSERT_EQ(layers->size(), 2u);
  auto again = PushRequest(*images_, img);
  ASSERT_TRUE(again) << again.error().Render();
  EXPECT_EQ(again->manifest_bytes, push->manifest_bytes);
  layers = store_->FindLayersByDiffId(top.diff_id);
  ASSERT_TRUE(layers);
  EXPECT_EQ(layers->size(), 2u);

  // When GC has removed the gzip blob, it is made again, byte for byte.
  ASSERT_TRUE(store_->blobs().Delete(m->layers[1].digest));
  auto remade = PushRequest(*images_, img);
  ASSERT_TRUE(remade) << remade.error().Render();
  EXPECT_EQ(remade->manifest_bytes, push->manifest_bytes);
  EXPECT_TRUE(store_->blobs().Has(m->layers[1].digest));
}

TEST_F(PushLayersTest, AnImageWithoutPlainLayersIsPushedAsStored) {
  StoredImage img = CommitImage({MakeLayer("a", "a\n", archive::Compression::kGzip, image::kOciLayerGzip)});
  auto push = PushRequest(*images_, img);
  ASSERT_TRUE(push) << push.error().Render();
  EXPECT_EQ(push->manifest_bytes, img.manifest_json);
}

TEST_F(PushLayersTest, DockerManifestsGetTheDockerGzipMediaType) {
  solver::LayerRef l = MakeLayer("a", "a\n", archive::Compression::kNone, image::kDockerLayer);
  StoredImage oci = CommitImage({l});
  image::Manifest m = oci.manifest;
  m.media_type = std::string(image::kDockerManifest);
  m.config.media_type = "application/vnd.docker.container.image.v1+json";
  auto img = images_->Register(image::EncodeManifest(m), {});
  ASSERT_TRUE(img) << img.error().Render();

  auto push = PushRequest(*images_, *img);
  ASSERT_TRUE(push) << push.error().Render();
  EXPECT_EQ(push->media_type, image::kDockerManifest);
  auto pushed = image::DecodeManifest(push->manifest_bytes);
  ASSERT_TRUE(pushed);
  ASSERT_EQ(pushed->layers.size(), 1u);
  EXPECT_EQ(pushed->layers[0].media_type, image::kDockerLayerGzip);
  EXPECT_EQ(Inflate(pushed->layers[0].digest), std::make_pair(l.diff_id, true));
}

TEST_F(PushLayersTest, InlineCacheRecordsNameThePushedBlobs) {
  solver::LayerRef l = MakeLayer("a", "a\n", archive::Compression::kNone, image::kOciLayer);
  StoredImage img = CommitImage({l});
  CacheRecord r;
  r.key = std::string(64, '1');
  r.size = 2;
  r.diff_id = l.diff_id;
  r.chain_id = l.diff_id;
  r.blob = l.blob;
  r.media_type = l.media_type;
  r.blob_size = l.blob_size;
  CacheRecord empty;
  empty.key = std::string(64, '2');
  empty.empty = true;
  auto annotated = AddInlineCache(*images_, img, {r, empty}, {});
  ASSERT_TRUE(annotated) << annotated.error().Render();

  auto push = PushRequest(*images_, *annotated);
  ASSERT_TRUE(push) << push.error().Render();
  auto m = image::DecodeManifest(push->manifest_bytes);
  ASSERT_TRUE(m);
  auto records = DecodeCacheConfig(m->annotations.at(std::string(kInlineCacheAnnotation)));
  ASSERT_TRUE(records) << records.error().Render();
  ASSERT_EQ(records->size(), 2u);
  EXPECT_EQ((*records)[0].blob, m->layers[0].digest);
  EXPECT_EQ((*records)[0].media_type, image::kOciLayerGzip);
  EXPECT_EQ((*records)[0].blob_size, m->layers[0].size);
  EXPECT_EQ((*records)[0].diff_id, l.diff_id);
  EXPECT_EQ((*records)[1], empty);
}

TEST_F(PushLayersTest, ALayerThatIsNotItsDiffIdIsAnError) {
  solver::LayerRef l = MakeLayer("a", "a\n", archive::Compression::kNone, image::kOciLayer);
  image::Descriptor d;
  d.media_type = std::string(image::kOciLayer);
  d.digest = l.blob;
  d.size = l.blob_size;
  Digest wrong = Digest::Of("not the tar");
  auto got = PushableLayer(*store_, d, wrong, image::kOciLayerGzip);
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(got.error().message(),
            fmt::format("layer {}: uncompressed digest {} does not match the config's diff id {}",
                        l.blob.str(), l.diff_id.str(), wrong.str()));
}

}  // namespace
}  // namespace kiln::worker
