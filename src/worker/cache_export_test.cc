#include "worker/cache_export.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "archive/layer.h"
#include "base/fs.h"
#include "image/codec.h"
#include "registry/credentials.h"
#include "registry/http.h"
#include "registry/testing/registry_server.h"
#include "worker/local_worker.h"

namespace kiln::worker {
namespace {

// LocalWorker needs an executor; cache calls never run one.
class NoExecutor : public exec::Executor {
 public:
  Result<exec::RunResult> Run(const exec::RunSpec&) override { return Fail(Error::Unsupported("no executor")); }
};

class StringSink : public archive::ByteSink {
 public:
  explicit StringSink(store::BlobWriter& w) : w_(w) {}
  Result<void> Write(std::string_view data) override { return w_.Write(data); }

 private:
  store::BlobWriter& w_;
};

std::string Key(char c) { return std::string(64, c); }

// Render() of an error without context, less its final newline.
std::string OneLine(const Error& e) {
  std::string s = e.Render();
  EXPECT_TRUE(s.ends_with("\n")) << s;
  if (s.ends_with("\n")) s.pop_back();
  return s;
}

// A store with an image store and a local worker over it.
struct Machine {
  explicit Machine(TempDir d) : dir(std::move(d)) {}
  TempDir dir;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<ImageStore> images;
  NoExecutor executor;
  std::unique_ptr<LocalWorker> worker;

  static std::unique_ptr<Machine> Create() {
    auto d = TempDir::Create("kiln-cache-test");
    EXPECT_TRUE(d);
    auto m = std::unique_ptr<Machine>(new Machine(std::move(*d)));
    auto st = store::Store::Open(m->dir.path() + "/root");
    EXPECT_TRUE(st) << st.error().Render();
    m->store = std::move(*st);
    m->images = std::make_unique<ImageStore>(*m->store);
    LocalWorkerOptions o;
    o.scratch_root = m->dir.path() + "/scratch";
    auto w = LocalWorker::Create(*m->images, m->executor, nullptr, o);
    EXPECT_TRUE(w) << w.error().Render();
    m->worker = std::move(*w);
    return m;
  }

  // Writes a layer holding /<name> = `content` on top of `parent`, unpacks
  // it and returns it as the worker's commit would.
  solver::Commit MakeLayer(const std::string& name, const std::string& content, const std::optional<Digest>& parent) {
    auto upper = TempDir::Create("kiln-cache-upper");
    EXPECT_TRUE(upper);
    EXPECT_TRUE(WriteFile(upper->path() + "/" + name, content));
    auto writer = store->blobs().Create();
    EXPECT_TRUE(writer);
    StringSink sink(*writer);
    auto info = archive::WriteLayerFromUpperDir(upper->path(), sink, archive::LayerWriteOptions{});
    EXPECT_TRUE(info) << info.error().Render();
    auto blob = writer->Commit(info->digest, info->size);
    EXPECT_TRUE(blob) << blob.error().Render();
    solver::LayerRef l;
    l.diff_id = info->diff_id;
    l.chain_id = ChainId(parent, info->diff_id);
    l.blob = *blob;
    l.media_type = std::string(image::kOciLayerGzip);
    l.blob_size = info->size;
    auto snap = images->EnsureSnapshot(l.blob, l.diff_id, l.chain_id, parent);
    EXPECT_TRUE(snap) << snap.error().Render();
    l.snapshot = *snap;
    return solver::Commit{l, static_cast<int64_t>(content.size())};
  }

  // An image whose layers are `layers`, tagged `tag`.
  StoredImage CommitImage(const std::vector<solver::LayerRef>& layers, const std::string& tag) {
    solver::ImageState state;
    state.config.architecture = "amd64";
    state.config.os = "linux";
    state.layers = layers;
    auto img = images->Commit(state, {tag});
    EXPECT_TRUE(img) << img.error().Render();
    return *img;
  }
};

// Two steps in the final stage (a layer, then an empty result) on top of a
// layer only a max-mode export carries (another stage's step).
class CacheExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = Machine::Create();
    b_ = Machine::Create();
    other_ = a_->MakeLayer("other", "other stage\n", std::nullopt);
    ASSERT_TRUE(a_->worker->CachePut(Key('1'), other_));
    base_ = a_->MakeLayer("base", "base\n", std::nullopt);
    top_ = a_->MakeLayer("top", "top\n", base_.layer->chain_id);
    ASSERT_TRUE(a_->worker->CachePut(Key('2'), top_));
    ASSERT_TRUE(a_->worker->CachePut(Key('3'), solver::Commit{std::nullopt, 0}));
    image_ = a_->CommitImage({*base_.layer, *top_.layer}, "docker.io/library/app:latest");
  }

  // Checks that `m` now serves `key` from its cache with `want`'s layer and
  // the layer's files unpacked.
  void ExpectCached(Machine& m, const std::string& key, const solver::Commit& want, const std::string& file,
                    const std::string& content) {
    auto got = m.worker->CacheGet(key);
    ASSERT_TRUE(got) << got.error().Render();
    ASSERT_TRUE(got->has_value()) << "no cache hit for " << key;
    ASSERT_TRUE((*got)->layer);
    const auto& l = *(*got)->layer;
    EXPECT_EQ(l.diff_id, want.layer->diff_id);
    EXPECT_EQ(l.chain_id, want.layer->chain_id);
    EXPECT_EQ(l.blob, want.layer->blob);
    EXPECT_EQ(l.media_type, want.layer->media_type);
    EXPECT_EQ(l.blob_size, want.layer->blob_size);
    EXPECT_EQ((*got)->size, want.size);
    EXPECT_EQ(l.snapshot, m.store->root() + "/snapshots/" + want.layer->chain_id.hex());
    auto text = ReadFile(l.snapshot + "/" + file);
    ASSERT_TRUE(text) << text.error().Render();
    EXPECT_EQ(*text, content);
  }

  std::unique_ptr<Machine> a_, b_;
  solver::Commit other_, base_, top_;
  StoredImage image_;
};

TEST(CacheSpecTest, ParsesBuildKitForms) {
  auto r = ParseCacheSpec("type=registry,ref=127.0.0.1:5000/app:cache,mode=max", CacheDirection::kExport);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (CacheSpec{CacheKind::kRegistry, "127.0.0.1:5000/app:cache", "", CacheMode::kMax}));
  r = ParseCacheSpec("type=local,dest=/tmp/c,compression=zstd", CacheDirection::kExport);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (CacheSpec{CacheKind::kLocal, "", "/tmp/c", CacheMode::kMin}));
  r = ParseCacheSpec("type=local,src=/tmp/c", CacheDirection::kImport);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (CacheSpec{CacheKind::kLocal, "", "/tmp/c", CacheMode::kMin}));
  r = ParseCacheSpec("type=inline", CacheDirection::kExport);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (CacheSpec{CacheKind::kInline, "", "", CacheMode::kMin}));
  r = ParseCacheSpec("example.com/app:latest", CacheDirection::kImport);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*r, (CacheSpec{CacheKind::kRegistry, "example.com/app:latest", "", CacheMode::kMin}));
}

TEST(CacheSpecTest, Errors) {
  auto err = [](std::string_view text, CacheDirection d) {
    auto r = ParseCacheSpec(text, d);
    EXPECT_FALSE(r);
    if (r) return std::string();
    EXPECT_EQ(r.error().code(), ErrorCode::kUsage);
    return OneLine(r.error());
  };
  EXPECT_EQ(err("type=local", CacheDirection::kExport), "invalid --cache-to \"type=local\": type=local needs dest=DIR");
  EXPECT_EQ(err("type=local,dest=/x", CacheDirection::kImport),
            "invalid --cache-from \"type=local,dest=/x\": type=local needs src=DIR");
  EXPECT_EQ(err("type=gha", CacheDirection::kExport),
            "invalid --cache-to \"type=gha\": unknown type \"gha\" (want registry, local or inline)");
  EXPECT_EQ(err("type=registry", CacheDirection::kExport),
            "invalid --cache-to \"type=registry\": type=registry needs ref=REF");
  EXPECT_EQ(err("type=registry,ref=x,mode=all", CacheDirection::kExport),
            "invalid --cache-to \"type=registry,ref=x,mode=all\": unknown mode \"all\" (want min or max)");
  EXPECT_EQ(err("type=inline", CacheDirection::kImport),
            "invalid --cache-from \"type=inline\": type=inline is for --cache-to; import an image with "
            "type=registry,ref=IMAGE");
  EXPECT_EQ(err("type=inline,mode=max", CacheDirection::kExport),
            "invalid --cache-to \"type=inline,mode=max\": type=inline supports mode=min only");
  EXPECT_EQ(err("type=local,dest", CacheDirection::kExport),
            "invalid --cache-to \"type=local,dest\": \"dest\" is not KEY=VALUE");
}

TEST_F(CacheExportTest, WorkerRecordsUsedKeys) {
  EXPECT_EQ(a_->worker->used_cache_keys(), (std::vector<std::string>{Key('1'), Key('2'), Key('3')}));
  auto hit = a_->worker->CacheGet(Key('3'));
  ASSERT_TRUE(hit && hit->has_value());
  auto miss = a_->worker->CacheGet(Key('9'));
  ASSERT_TRUE(miss);
  EXPECT_FALSE(miss->has_value());
  EXPECT_EQ(a_->worker->used_cache_keys(), (std::vector<std::string>{Key('1'), Key('2'), Key('3'), Key('3')}));
}

TEST_F(CacheExportTest, MinKeepsTheFinalImagesStepsAndMaxKeepsAll) {
  auto keys = a_->worker->used_cache_keys();
  keys.push_back(Key('9'));  // not in the store: skipped
  auto min = CollectCacheRecords(*a_->images, {keys}, CacheMode::kMin, image_);
  ASSERT_TRUE(min) << min.error().Render();
  ASSERT_EQ(min->size(), 2u);
  EXPECT_EQ((*min)[0], (CacheRecord{Key('2'), 4, false, top_.layer->diff_id, top_.layer->chain_id,
                                    base_.layer->chain_id, top_.layer->blob, std::string(image::kOciLayerGzip),
                                    top_.layer->blob_size}));
  EXPECT_EQ((*min)[1], (CacheRecord{Key('3'), 0, true, {}, {}, std::nullopt, {}, "", 0}));
  auto max = CollectCacheRecords(*a_->images, {keys}, CacheMode::kMax, image_);
  ASSERT_TRUE(max) << max.error().Render();
  ASSERT_EQ(max->size(), 3u);
  EXPECT_EQ((*max)[0].key, Key('1'));
  EXPECT_EQ((*max)[0].parent, std::nullopt);
  EXPECT_EQ((*max)[1], (*min)[0]);
}

// Issue #7: with the final image's keys, mode=min is BuildKit's: the final
// stage's steps, empty ones included, and not another stage's empty step
// (which the layer-only approximation cannot tell apart).
TEST_F(CacheExportTest, MinWithTheFinalImagesKeysLeavesOutOtherStagesEmptySteps) {
  ASSERT_TRUE(a_->worker->CachePut(Key('4'), solver::Commit{std::nullopt, 0}));  // other stage: RUN true
  // In the store from an earlier build, but this build did not use it.
  ASSERT_TRUE(a_->store->PutCacheEntry(Key('5'), R"({"size":0,"empty":true})", {}));
  BuildCacheKeys keys{a_->worker->used_cache_keys(), std::vector<std::string>{Key('2'), Key('3'), Key('5')}};
  auto key_list = [](const std::vector<CacheRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.key);
    return out;
  };
  auto min = CollectCacheRecords(*a_->images, keys, CacheMode::kMin, image_);
  ASSERT_TRUE(min) << min.error().Render();
  EXPECT_EQ(key_list(*min), (std::vector<std::string>{Key('2'), Key('3')}));
  auto max = CollectCacheRecords(*a_->images, keys, CacheMode::kMax, image_);
  ASSERT_TRUE(max) << max.error().Render();
  EXPECT_EQ(key_list(*max), (std::vector<std::string>{Key('1'), Key('2'), Key('3'), Key('4')}));
  keys.final_image.reset();
  auto approx = CollectCacheRecords(*a_->images, keys, CacheMode::kMin, image_);
  ASSERT_TRUE(approx) << approx.error().Render();
  EXPECT_EQ(key_list(*approx), (std::vector<std::string>{Key('2'), Key('3'), Key('4')}));

  // Through ExportCaches to a directory and into a fresh store.
  std::string dir = a_->dir.path() + "/min-cache";
  ASSERT_TRUE(ExportCaches(*a_->images, nullptr, {"type=local,dest=" + dir}, image_, a_->worker->used_cache_keys(),
                           {}, std::vector<std::string>{Key('2'), Key('3')}));
  auto report = ImportCacheFromDir(*b_->images, dir);
  ASSERT_TRUE(report) << report.error().Render();
  EXPECT_EQ(report->imported, 2);
  ExpectCached(*b_, Key('2'), top_, "top", "top\n");
  for (char other : {'1', '4'}) {
    auto got = b_->worker->CacheGet(Key(other));
    ASSERT_TRUE(got);
    EXPECT_FALSE(got->has_value()) << "key " << Key(other) << " was exported";
  }
}

TEST_F(CacheExportTest, ConfigRoundTripsAndHoldsOnlyRecordFields) {
  // A local entry with a field that must not leave the store.
  ASSERT_TRUE(a_->store->PutCacheEntry(Key('4'), R"({"size":1,"empty":true,"token":"hmac-sha256:00"})", {}));
  auto records = CollectCacheRecords(*a_->images, {{Key('2'), Key('4')}}, CacheMode::kMax, image_);
  ASSERT_TRUE(records) << records.error().Render();
  std::string config = EncodeCacheConfig(*records);
  EXPECT_EQ(config.find("token"), std::string::npos);
  EXPECT_EQ(config.find("hmac"), std::string::npos);
  EXPECT_EQ(config, fmt::format(R"({{"kind":"kiln-build-cache","records":[{{"blob":"{}","blob_size":{},)"
                                R"("chain_id":"{}","diff_id":"{}","key":"{}",)"
                                R"("media_type":"application/vnd.oci.image.layer.v1.tar+gzip","parent":"{}",)"
                                R"("size":4}},{{"empty":true,"key":"{}","size":1}}],"version":1}})",
                                top_.layer->blob.str(), top_.layer->blob_size, top_.layer->chain_id.str(),
                                top_.layer->diff_id.str(), Key('2'), base_.layer->chain_id.str(), Key('4')));
  auto back = DecodeCacheConfig(config);
  ASSERT_TRUE(back) << back.error().Render();
  EXPECT_EQ(*back, *records);
}

TEST(CacheConfigTest, DecodeErrors) {
  auto err = [](std::string_view text) {
    auto r = DecodeCacheConfig(text);
    EXPECT_FALSE(r);
    return r ? std::string() : OneLine(r.error());
  };
  EXPECT_EQ(err("[]"), "cache config: not a JSON object");
  EXPECT_EQ(err(R"({"kind":"x"})"), "cache config: kind is not \"kiln-build-cache\"");
  EXPECT_EQ(err(R"({"kind":"kiln-build-cache","version":2,"records":[]})"),
            "cache config: unsupported version (this kiln reads version 1)");
  EXPECT_EQ(err(R"({"kind":"kiln-build-cache","version":1,"records":[{"key":"../x","size":0,"empty":true}]})"),
            "cache config: records[0]: key \"../x\" is not 64 lowercase hex digits");
  Digest diff = Digest::Of("layer");
  Digest wrong = Digest::Of("wrong");
  EXPECT_EQ(err(fmt::format(R"({{"kind":"kiln-build-cache","version":1,"records":[{{"key":"{}","size":0,)"
                            R"("diff_id":"{}","chain_id":"{}","blob":"{}","media_type":"x","blob_size":1}}]}})",
                            Key('a'), diff.str(), wrong.str(), wrong.str())),
            fmt::format("cache config: records[0]: chain_id {} is not the chain of parent and diff_id", wrong.str()));
  EXPECT_EQ(err(fmt::format(R"({{"kind":"kiln-build-cache","version":1,"records":[{{"key":"{}","size":0,)"
                            R"("diff_id":"{}","chain_id":"{}","blob":"{}","media_type":"text/plain","blob_size":1}}]}})",
                            Key('a'), diff.str(), diff.str(), wrong.str())),
            "cache config: records[0]: media_type \"text/plain\" is not a layer type");
}

TEST_F(CacheExportTest, LocalDirectoryRoundTripToAFreshStore) {
  std::string dir = a_->dir.path() + "/cache";
  auto records = CollectCacheRecords(*a_->images, {a_->worker->used_cache_keys()}, CacheMode::kMax, image_);
  ASSERT_TRUE(records) << records.error().Render();
  ASSERT_TRUE(ExportCacheToDir(*a_->images, *records, dir));
  // The layout: index.json -> manifest -> config + each layer blob once.
  auto index = image::DecodeIndex(*ReadFile(dir + "/index.json"));
  ASSERT_TRUE(index) << index.error().Render();
  ASSERT_EQ(index->manifests.size(), 1u);
  auto manifest = image::DecodeManifest(*ReadFile(dir + "/blobs/sha256/" + index->manifests[0].digest.hex()));
  ASSERT_TRUE(manifest) << manifest.error().Render();
  EXPECT_EQ(manifest->config.media_type, kCacheConfigMediaType);
  ASSERT_EQ(manifest->layers.size(), 2u);
  EXPECT_EQ(manifest->layers[0].digest, other_.layer->blob);
  EXPECT_EQ(manifest->layers[1].digest, top_.layer->blob);
  EXPECT_EQ(*ReadFile(dir + "/blobs/sha256/" + manifest->config.digest.hex()), EncodeCacheConfig(*records));

  auto report = ImportCacheFromDir(*b_->images, dir);
  ASSERT_TRUE(report) << report.error().Render();
  EXPECT_EQ(report->imported, 3);
  EXPECT_EQ(report->present, 0);
  ExpectCached(*b_, Key('1'), other_, "other", "other stage\n");
  ExpectCached(*b_, Key('2'), top_, "top", "top\n");
  auto empty = b_->worker->CacheGet(Key('3'));
  ASSERT_TRUE(empty && empty->has_value());
  EXPECT_FALSE((*empty)->layer);
  auto snap = b_->store->GetSnapshot(top_.layer->chain_id);
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->parent, base_.layer->chain_id);

  // Importing again changes nothing.
  report = ImportCacheFromDir(*b_->images, dir);
  ASSERT_TRUE(report) << report.error().Render();
  EXPECT_EQ(report->imported, 0);
  EXPECT_EQ(report->present, 3);
}

TEST_F(CacheExportTest, CorruptOrMissingLayerIsAnError) {
  std::string dir = a_->dir.path() + "/cache";
  auto records = CollectCacheRecords(*a_->images, {{Key('2')}}, CacheMode::kMin, image_);
  ASSERT_TRUE(records) << records.error().Render();
  ASSERT_TRUE(ExportCacheToDir(*a_->images, *records, dir));
  std::string blob = dir + "/blobs/sha256/" + top_.layer->blob.hex();
  std::string bytes = *ReadFile(blob);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_TRUE(WriteFile(blob, bytes));
  auto r = ImportCacheFromDir(*b_->images, dir);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(r.error().context().back(), "importing cache from " + dir);
  auto got = b_->worker->CacheGet(Key('2'));
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->has_value());

  ASSERT_EQ(::unlink(blob.c_str()), 0);
  r = ImportCacheFromDir(*b_->images, dir);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Render(), "open " + blob + ": No such file or directory\nwhile importing cache from " + dir + "\n");
}

TEST_F(CacheExportTest, ImportCachesWarnsForAMissingSource) {
  CollectingDiagnostics diags;
  std::string dir = a_->dir.path() + "/nothing";
  ASSERT_TRUE(ImportCaches(*b_->images, nullptr, {"type=local,src=" + dir}, diags));
  ASSERT_EQ(diags.warnings().size(), 1u);
  EXPECT_EQ(diags.warnings()[0].name, "CacheImportFailed");
  EXPECT_EQ(diags.warnings()[0].message,
            "open " + dir + "/index.json: No such file or directory (importing cache from " + dir + ")");
  auto bad = ImportCaches(*b_->images, nullptr, {"type=nope"}, diags);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().Render(), "invalid --cache-from \"type=nope\": unknown type \"nope\" (want registry, local or inline)\n");
}

class CacheRegistryTest : public CacheExportTest {
 protected:
  static void SetUpTestSuite() {
    auto s = registry::testing::RegistryServer::Start();
    ASSERT_TRUE(s) << s.error().Render();
    server_ = std::move(*s).release();
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  image::Reference Ref(const std::string& repo_tag) {
    auto r = image::Reference::Parse(server_->address() + "/" + repo_tag);
    EXPECT_TRUE(r) << r.error().Render();
    return *r;
  }

  static registry::testing::RegistryServer* server_;
  std::unique_ptr<registry::HttpClient> http_ = registry::NewCurlHttpClient();
  registry::StaticCredentials anonymous_;
  registry::Client client_{*http_, anonymous_};
};

registry::testing::RegistryServer* CacheRegistryTest::server_ = nullptr;

TEST_F(CacheRegistryTest, RegistryRoundTripToAFreshStore) {
  ASSERT_NE(server_, nullptr);
  auto image = ExportCaches(*a_->images, &client_, {"type=registry,ref=" + Ref("app:cache").String() + ",mode=max"},
                            image_, a_->worker->used_cache_keys(), {});
  ASSERT_TRUE(image) << image.error().Render();
  EXPECT_EQ(image->record.manifest, image_.record.manifest);  // not inline: the image is unchanged

  CollectingDiagnostics diags;
  ASSERT_TRUE(ImportCaches(*b_->images, &client_, {"type=registry,ref=" + Ref("app:cache").String()}, diags));
  EXPECT_TRUE(diags.warnings().empty()) << diags.warnings()[0].message;
  ExpectCached(*b_, Key('1'), other_, "other", "other stage\n");
  ExpectCached(*b_, Key('2'), top_, "top", "top\n");
}

TEST_F(CacheRegistryTest, InlineCacheTravelsWithThePushedImage) {
  ASSERT_NE(server_, nullptr);
  std::string tag = "docker.io/library/app:latest";
  auto annotated = ExportCaches(*a_->images, &client_, {"type=inline"}, image_, a_->worker->used_cache_keys(), {tag});
  ASSERT_TRUE(annotated) << annotated.error().Render();
  EXPECT_NE(annotated->record.manifest, image_.record.manifest);
  EXPECT_EQ(annotated->record.config, image_.record.config);  // same image ID
  auto records = CollectCacheRecords(*a_->images, {a_->worker->used_cache_keys()}, CacheMode::kMin, image_);
  ASSERT_TRUE(records);
  EXPECT_EQ(annotated->manifest.annotations.at(std::string(kInlineCacheAnnotation)), EncodeCacheConfig(*records));
  auto tagged = a_->images->Find(tag);
  ASSERT_TRUE(tagged);
  EXPECT_EQ(tagged->record.manifest, annotated->record.manifest);

  registry::PushImage push{annotated->manifest_json, std::string(image::kOciManifest), {}};
  auto source = a_->images->NewBlobSource();
  ASSERT_TRUE(client_.Push(Ref("app:v1"), push, *source));

  CollectingDiagnostics diags;
  ASSERT_TRUE(ImportCaches(*b_->images, &client_, {Ref("app:v1").String()}, diags));
  EXPECT_TRUE(diags.warnings().empty()) << diags.warnings()[0].message;
  ExpectCached(*b_, Key('2'), top_, "top", "top\n");
  auto other = b_->worker->CacheGet(Key('1'));  // another stage's step: not inline
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->has_value());
}

TEST_F(CacheRegistryTest, AnImageWithoutCacheIsAWarning) {
  ASSERT_NE(server_, nullptr);
  registry::PushImage push{image_.manifest_json, std::string(image::kOciManifest), {}};
  auto source = a_->images->NewBlobSource();
  ASSERT_TRUE(client_.Push(Ref("plain:v1"), push, *source));
  CollectingDiagnostics diags;
  ASSERT_TRUE(ImportCaches(*b_->images, &client_, {Ref("plain:v1").String()}, diags));
  ASSERT_EQ(diags.warnings().size(), 1u);
  EXPECT_EQ(diags.warnings()[0].message, fmt::format("{0} has no kiln build cache (importing cache from {0})",
                                                     Ref("plain:v1").String()));
}

}  // namespace
}  // namespace kiln::worker
