#include "worker/cache_export.h"

#include <fcntl.h>
#include <unistd.h>

#include <set>

#include <nlohmann/json.hpp>

#include "base/fs.h"
#include "base/strings.h"
#include "image/codec.h"
#include "worker/push_layers.h"

namespace kiln::worker {

namespace {

using nlohmann::json;

constexpr std::string_view kCacheConfigKind = "kiln-build-cache";
constexpr int kCacheConfigVersion = 1;

bool IsCacheKey(std::string_view key) {
  if (key.size() != 64) return false;
  for (char c : key)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// The local cache entry's result JSON, as LocalWorker::CachePut writes it.
std::string ResultJson(const CacheRecord& r) {
  json j;
  j["size"] = r.size;
  if (r.empty) {
    j["empty"] = true;
  } else {
    j["diff_id"] = r.diff_id.str();
    j["chain_id"] = r.chain_id.str();
    j["blob"] = r.blob.str();
    j["media_type"] = r.media_type;
    j["blob_size"] = r.blob_size;
  }
  return j.dump();
}

Error SpecError(std::string_view text, CacheDirection direction, std::string_view why) {
  return Error::Usage(fmt::format("invalid {} {}: {}", direction == CacheDirection::kExport ? "--cache-to" : "--cache-from",
                                  Quote(text), why));
}

// Each layer blob once, in record order.
std::vector<image::Descriptor> LayerDescriptors(const std::vector<CacheRecord>& records) {
  std::vector<image::Descriptor> out;
  std::set<Digest> seen;
  for (const auto& r : records) {
    if (r.empty || !seen.insert(r.blob).second) continue;
    image::Descriptor d;
    d.media_type = r.media_type;
    d.digest = r.blob;
    d.size = r.blob_size;
    out.push_back(std::move(d));
  }
  return out;
}

std::string BlobPath(const std::string& dir, const Digest& d) {
  return JoinPath(dir, "blobs/" + d.algorithm() + "/" + d.hex());
}

// Copies a store blob into an OCI layout's blobs/ (temp file + rename).
Result<void> CopyBlobToDir(store::Store& st, const Digest& d, const std::string& dir) {
  std::string path = BlobPath(dir, d);
  if (PathExists(path)) return Ok();
  std::string tmp = path + ".tmp-" + RandomHex(6);
  auto copy = [&]() -> Result<void> {
    KILN_TRY_ASSIGN(store::BlobReader reader, st.OpenBlob(d));
    KILN_TRY_ASSIGN(Fd out, OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
    std::string buf(1 << 20, '\0');
    for (;;) {
      KILN_TRY_ASSIGN(size_t n, reader.Read(buf.data(), buf.size()));
      if (n == 0) break;
      KILN_TRY(WriteAll(out.get(), std::string_view(buf.data(), n), tmp));
    }
    if (::fsync(out.get()) != 0) return Fail(Error::Io(tmp, errno, "fsync"));
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Fail(Error::Io(path, errno, "rename to"));
    return Ok();
  };
  auto r = copy();
  if (!r) ::unlink(tmp.c_str());
  return r;
}

// Copies a layout blob into the store, verifying digest and size.
Result<void> CopyBlobFromDir(store::Store& st, const std::string& dir, const image::Descriptor& d) {
  if (st.HasBlob(d.digest)) return Ok();
  std::string path = BlobPath(dir, d.digest);
  KILN_TRY_ASSIGN(Fd in, OpenFile(path, O_RDONLY));
  KILN_TRY_ASSIGN(store::BlobWriter writer, st.blobs().Create());
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(path, errno, "read"));
    }
    if (n == 0) break;
    KILN_TRY(writer.Write(std::string_view(buf.data(), static_cast<size_t>(n))));
  }
  auto committed = writer.Commit(d.digest, d.size);
  if (!committed) return Fail(std::move(committed).error().Wrap("reading {}", path));
  return Ok();
}

Result<std::vector<CacheRecord>> RecordsOfManifest(ImageStore& images, const image::Manifest& m,
                                                   std::string_view where) {
  if (m.config.media_type == kCacheConfigMediaType) {
    KILN_TRY_ASSIGN(std::string config, images.store().blobs().Read(m.config.digest));
    return DecodeCacheConfig(config);
  }
  auto it = m.annotations.find(std::string(kInlineCacheAnnotation));
  if (it != m.annotations.end()) return DecodeCacheConfig(it->second);
  return Fail(Error::Invalid(fmt::format("{} has no kiln build cache", where)));
}

}  // namespace

Result<CacheSpec> ParseCacheSpec(std::string_view text, CacheDirection direction) {
  CacheSpec spec;
  if (text.find('=') == std::string_view::npos) {
    if (text.empty()) return Fail(SpecError(text, direction, "empty value"));
    spec.ref = std::string(text);
    return spec;
  }
  std::string type, ref, dest, src, mode;
  for (std::string_view field : Split(text, ',')) {
    auto cut = CutString(field, '=');
    std::string name = std::string(TrimSpace(cut.first));
    std::string value = std::string(TrimSpace(cut.second));
    if (!cut.found) return Fail(SpecError(text, direction, fmt::format("{} is not KEY=VALUE", Quote(field))));
    if (name == "type") type = value;
    else if (name == "ref") ref = value;
    else if (name == "dest") dest = value;
    else if (name == "src") src = value;
    else if (name == "mode") mode = value;
  }
  if (type.empty()) return Fail(SpecError(text, direction, "missing type="));
  if (type == "registry") {
    if (ref.empty()) return Fail(SpecError(text, direction, "type=registry needs ref=REF"));
    spec.kind = CacheKind::kRegistry;
    spec.ref = ref;
  } else if (type == "local") {
    spec.kind = CacheKind::kLocal;
    spec.dir = direction == CacheDirection::kExport ? dest : src;
    if (spec.dir.empty())
      return Fail(SpecError(text, direction,
                            direction == CacheDirection::kExport ? "type=local needs dest=DIR" : "type=local needs src=DIR"));
  } else if (type == "inline") {
    if (direction == CacheDirection::kImport)
      return Fail(SpecError(text, direction, "type=inline is for --cache-to; import an image with type=registry,ref=IMAGE"));
    spec.kind = CacheKind::kInline;
  } else {
    return Fail(SpecError(text, direction, fmt::format("unknown type {} (want registry, local or inline)", Quote(type))));
  }
  if (mode == "max") {
    if (spec.kind == CacheKind::kInline) return Fail(SpecError(text, direction, "type=inline supports mode=min only"));
    spec.mode = CacheMode::kMax;
  } else if (!mode.empty() && mode != "min") {
    return Fail(SpecError(text, direction, fmt::format("unknown mode {} (want min or max)", Quote(mode))));
  }
  return spec;
}

Result<std::vector<CacheRecord>> CollectCacheRecords(ImageStore& images, const BuildCacheKeys& keys, CacheMode mode,
                                                     const StoredImage& image) {
  store::Store& st = images.store();
  std::set<Digest> image_chains;
  std::optional<Digest> parent;
  for (const auto& diff_id : image.config.rootfs.diff_ids) {
    parent = ChainId(parent, diff_id);
    image_chains.insert(*parent);
  }
  const std::vector<std::string>* candidates = &keys.used;
  std::set<std::string> used;
  bool exact_min = mode == CacheMode::kMin && keys.final_image.has_value();
  if (exact_min) {
    used.insert(keys.used.begin(), keys.used.end());
    candidates = &*keys.final_image;
  }
  std::vector<CacheRecord> out;
  std::set<std::string> seen;
  for (const auto& key : *candidates) {
    if (!seen.insert(key).second) continue;
    if (exact_min && !used.count(key)) continue;
    auto entry = st.GetCacheEntry(key);
    if (!entry) {
      if (entry.error().code() == ErrorCode::kNotFound) continue;
      return Fail(std::move(entry).error().Wrap("reading cache entry {}", key));
    }
    // Only the fields below leave the store, whatever else the entry holds.
    json j = json::parse(entry->result, nullptr, false);
    if (j.is_discarded() || !j.is_object()) continue;
    CacheRecord r;
    r.key = key;
    r.size = j.value("size", int64_t{0});
    if (j.value("empty", false)) {
      r.empty = true;
      out.push_back(std::move(r));
      continue;
    }
    auto diff_id = Digest::Parse(j.value("diff_id", ""));
    auto chain = Digest::Parse(j.value("chain_id", ""));
    auto blob = Digest::Parse(j.value("blob", ""));
    if (!diff_id || !chain || !blob || !st.HasBlob(*blob)) continue;
    if (mode == CacheMode::kMin && !image_chains.count(*chain)) continue;
    auto snap = st.GetSnapshot(*chain);
    if (!snap) continue;
    r.diff_id = *diff_id;
    r.chain_id = *chain;
    r.parent = snap->parent;
    if (ChainId(r.parent, r.diff_id) != r.chain_id) continue;
    r.blob = *blob;
    r.media_type = j.value("media_type", std::string(image::kOciLayerGzip));
    r.blob_size = j.value("blob_size", int64_t{0});
    out.push_back(std::move(r));
  }
  return out;
}

std::string EncodeCacheConfig(const std::vector<CacheRecord>& records) {
  json list = json::array();
  for (const auto& r : records) {
    json j;
    j["key"] = r.key;
    j["size"] = r.size;
    if (r.empty) {
      j["empty"] = true;
    } else {
      j["diff_id"] = r.diff_id.str();
      j["chain_id"] = r.chain_id.str();
      if (r.parent) j["parent"] = r.parent->str();
      j["blob"] = r.blob.str();
      j["media_type"] = r.media_type;
      j["blob_size"] = r.blob_size;
    }
    list.push_back(std::move(j));
  }
  json doc;
  doc["kind"] = kCacheConfigKind;
  doc["version"] = kCacheConfigVersion;
  doc["records"] = std::move(list);
  return doc.dump();
}

Result<std::vector<CacheRecord>> DecodeCacheConfig(std::string_view text) {
  json doc = json::parse(text, nullptr, false);
  auto bad = [](std::string what) { return Fail(Error::Invalid("cache config: " + what)); };
  if (doc.is_discarded() || !doc.is_object()) return bad("not a JSON object");
  if (!doc.contains("kind") || doc["kind"] != kCacheConfigKind) return bad("kind is not \"kiln-build-cache\"");
  if (!doc.contains("version") || !doc["version"].is_number_integer() || doc["version"] != kCacheConfigVersion)
    return Fail(Error::Unsupported("cache config: unsupported version (this kiln reads version 1)"));
  if (!doc.contains("records") || !doc["records"].is_array()) return bad("records is not an array");
  std::vector<CacheRecord> out;
  const json& list = doc["records"];
  for (size_t i = 0; i < list.size(); ++i) {
    const json& j = list[i];
    std::string at = fmt::format("records[{}]", i);
    if (!j.is_object()) return bad(at + ": not an object");
    auto str = [&](const char* name) -> Result<std::string> {
      if (!j.contains(name) || !j[name].is_string())
        return Fail(Error::Invalid(fmt::format("cache config: {}: {} is missing or not a string", at, name)));
      return j[name].get<std::string>();
    };
    auto digest = [&](const char* name) -> Result<Digest> {
      KILN_TRY_ASSIGN(std::string s, str(name));
      auto d = Digest::Parse(s);
      if (!d) return Fail(Error::Invalid(fmt::format("cache config: {}: {}: invalid digest {}", at, name, Quote(s))));
      return *d;
    };
    auto number = [&](const char* name) -> Result<int64_t> {
      if (!j.contains(name) || !j[name].is_number_integer() || j[name].get<int64_t>() < 0)
        return Fail(Error::Invalid(fmt::format("cache config: {}: {} is missing or not a size", at, name)));
      return j[name].get<int64_t>();
    };
    CacheRecord r;
    KILN_TRY_ASSIGN(r.key, str("key"));
    if (!IsCacheKey(r.key)) return bad(fmt::format("{}: key {} is not 64 lowercase hex digits", at, Quote(r.key)));
    KILN_TRY_ASSIGN(r.size, number("size"));
    if (j.contains("empty")) {
      if (j["empty"] != true) return bad(at + ": empty must be true when present");
      r.empty = true;
      out.push_back(std::move(r));
      continue;
    }
    KILN_TRY_ASSIGN(r.diff_id, digest("diff_id"));
    KILN_TRY_ASSIGN(r.chain_id, digest("chain_id"));
    if (j.contains("parent")) {
      KILN_TRY_ASSIGN(Digest p, digest("parent"));
      r.parent = p;
    }
    if (ChainId(r.parent, r.diff_id) != r.chain_id)
      return bad(fmt::format("{}: chain_id {} is not the chain of parent and diff_id", at, r.chain_id.str()));
    KILN_TRY_ASSIGN(r.blob, digest("blob"));
    KILN_TRY_ASSIGN(r.media_type, str("media_type"));
    if (!image::IsLayerMediaType(r.media_type))
      return bad(fmt::format("{}: media_type {} is not a layer type", at, Quote(r.media_type)));
    KILN_TRY_ASSIGN(r.blob_size, number("blob_size"));
    out.push_back(std::move(r));
  }
  return out;
}

std::string EncodeCacheManifest(const std::vector<CacheRecord>& records, std::string_view config_json) {
  image::Manifest m;
  m.schema_version = 2;
  m.media_type = std::string(image::kOciManifest);
  m.config.media_type = std::string(kCacheConfigMediaType);
  m.config.digest = Digest::Of(config_json);
  m.config.size = static_cast<int64_t>(config_json.size());
  m.layers = LayerDescriptors(records);
  return image::EncodeManifest(m);
}

Result<void> ExportCacheToDir(ImageStore& images, const std::vector<CacheRecord>& records, const std::string& dir) {
  store::Store& st = images.store();
  std::string config = EncodeCacheConfig(records);
  std::string manifest = EncodeCacheManifest(records, config);
  KILN_TRY(MakeDirs(JoinPath(dir, "blobs/sha256")));
  KILN_TRY(WriteFileAtomic(JoinPath(dir, "oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}"));
  for (const auto& d : LayerDescriptors(records)) KILN_TRY(CopyBlobToDir(st, d.digest, dir));
  KILN_TRY(WriteFileAtomic(BlobPath(dir, Digest::Of(config)), config));
  KILN_TRY(WriteFileAtomic(BlobPath(dir, Digest::Of(manifest)), manifest));
  image::Index index;
  index.schema_version = 2;
  index.media_type = std::string(image::kOciIndex);
  image::Descriptor d;
  d.media_type = std::string(image::kOciManifest);
  d.digest = Digest::Of(manifest);
  d.size = static_cast<int64_t>(manifest.size());
  d.artifact_type = std::string(kCacheConfigMediaType);
  d.annotations[std::string(image::kAnnotationRefName)] = "latest";
  index.manifests.push_back(std::move(d));
  return WriteFileAtomic(JoinPath(dir, "index.json"), image::EncodeIndex(index));
}

Result<Digest> ExportCacheToRegistry(ImageStore& images, registry::Client& client,
                                     const std::vector<CacheRecord>& records, const image::Reference& ref) {
  // Layers go out gzipped, as image pushes do; an import unpacks either.
  std::vector<CacheRecord> pushed = records;
  for (auto& r : pushed) {
    if (r.empty) continue;
    image::Descriptor layer;
    layer.media_type = r.media_type;
    layer.digest = r.blob;
    layer.size = r.blob_size;
    KILN_TRY_ASSIGN(image::Descriptor d, PushableLayer(images.store(), layer, r.diff_id, image::kOciLayerGzip));
    r.blob = d.digest;
    r.media_type = d.media_type;
    r.blob_size = d.size;
  }
  std::string config = EncodeCacheConfig(pushed);
  KILN_TRY(images.store().blobs().Put(config));
  registry::PushImage push;
  push.manifest_bytes = EncodeCacheManifest(pushed, config);
  push.media_type = std::string(image::kOciManifest);
  auto source = images.NewBlobSource();
  return client.Push(ref, push, *source);
}

Result<StoredImage> AddInlineCache(ImageStore& images, const StoredImage& image,
                                   const std::vector<CacheRecord>& records, const std::vector<std::string>& tags) {
  std::set<Digest> layers;
  for (const auto& l : image.manifest.layers) layers.insert(l.digest);
  for (const auto& r : records)
    if (!r.empty && !layers.count(r.blob))
      return Fail(Error::Invalid(fmt::format("inline cache: record {} references layer {}, which is not in image {}",
                                             r.key, r.blob.str(), image.record.manifest.str())));
  image::Manifest m = image.manifest;
  m.annotations[std::string(kInlineCacheAnnotation)] = EncodeCacheConfig(records);
  KILN_TRY_ASSIGN(StoredImage annotated, images.Register(image::EncodeManifest(m), tags));
  // The unannotated record would linger as an untagged image.
  if (annotated.record.manifest != image.record.manifest) {
    auto old = images.store().GetImage(image.record.manifest);
    if (old && old->tags.empty()) KILN_TRY(images.store().RemoveImage(image.record.manifest));
  }
  return annotated;
}

Result<CacheImportReport> ImportCacheRecords(ImageStore& images, const std::vector<CacheRecord>& records) {
  store::Store& st = images.store();
  CacheImportReport report;
  for (const auto& r : records) {
    auto existing = st.GetCacheEntry(r.key);
    if (existing) {
      ++report.present;
      continue;
    }
    if (existing.error().code() != ErrorCode::kNotFound) return Fail(std::move(existing).error());
    std::vector<store::Ref> refs;
    if (!r.empty) {
      if (!st.HasBlob(r.blob))
        return Fail(Error::NotFound(fmt::format("cache record {}: layer blob {} is missing", r.key, r.blob.str())));
      KILN_TRY(st.PutLayer(store::LayerRecord{r.blob, r.diff_id, r.media_type, r.blob_size}));
      auto snap = images.EnsureSnapshot(r.blob, r.diff_id, r.chain_id, r.parent);
      if (!snap) return Fail(std::move(snap).error().Wrap("importing cache record {}", r.key));
      refs.push_back({store::RefKind::kBlob, r.blob});
      refs.push_back({store::RefKind::kSnapshot, r.chain_id});
    }
    KILN_TRY(st.PutCacheEntry(r.key, ResultJson(r), refs));
    ++report.imported;
  }
  return report;
}

Result<CacheImportReport> ImportCacheFromDir(ImageStore& images, const std::string& dir) {
  auto run = [&]() -> Result<CacheImportReport> {
    std::string index_path = JoinPath(dir, "index.json");
    KILN_TRY_ASSIGN(std::string index_json, ReadFile(index_path));
    auto index = image::DecodeIndex(index_json);
    if (!index) return Fail(std::move(index).error().Wrap("reading {}", index_path));
    store::Store& st = images.store();
    for (const auto& d : index->manifests) {
      if (!image::IsManifestMediaType(d.media_type)) continue;
      KILN_TRY(CopyBlobFromDir(st, dir, d));
      KILN_TRY_ASSIGN(std::string manifest_json, st.blobs().Read(d.digest));
      KILN_TRY_ASSIGN(image::Manifest m, image::DecodeManifest(manifest_json));
      if (m.config.media_type != kCacheConfigMediaType &&
          !m.annotations.count(std::string(kInlineCacheAnnotation)))
        continue;
      KILN_TRY(CopyBlobFromDir(st, dir, m.config));
      for (const auto& l : m.layers) KILN_TRY(CopyBlobFromDir(st, dir, l));
      KILN_TRY_ASSIGN(std::vector<CacheRecord> records, RecordsOfManifest(images, m, dir));
      return ImportCacheRecords(images, records);
    }
    return Fail(Error::NotFound(fmt::format("{}: no kiln build cache in index.json", dir)));
  };
  auto r = run();
  if (!r) return Fail(std::move(r).error().Wrap("importing cache from {}", dir));
  return r;
}

Result<CacheImportReport> ImportCacheFromRegistry(ImageStore& images, registry::Client& client,
                                                  const image::Reference& ref) {
  auto run = [&]() -> Result<CacheImportReport> {
    auto target = images.NewBlobTarget();
    KILN_TRY_ASSIGN(registry::PullResult pulled, client.Pull(ref, registry::HostPlatform(), *target));
    KILN_TRY_ASSIGN(std::vector<CacheRecord> records, RecordsOfManifest(images, pulled.manifest, ref.String()));
    return ImportCacheRecords(images, records);
  };
  auto r = run();
  if (!r) return Fail(std::move(r).error().Wrap("importing cache from {}", ref.String()));
  return r;
}

Result<void> ImportCaches(ImageStore& images, registry::Client* client, const std::vector<std::string>& specs,
                          Diagnostics& diags) {
  std::vector<CacheSpec> parsed;
  for (const auto& text : specs) {
    KILN_TRY_ASSIGN(CacheSpec spec, ParseCacheSpec(text, CacheDirection::kImport));
    parsed.push_back(std::move(spec));
  }
  for (const auto& spec : parsed) {
    Result<CacheImportReport> r = [&]() -> Result<CacheImportReport> {
      if (spec.kind == CacheKind::kLocal) return ImportCacheFromDir(images, spec.dir);
      KILN_TRY_ASSIGN(image::Reference ref, image::Reference::Parse(spec.ref));
      if (!client) return Fail(Error::Unsupported(fmt::format("no registry client to import {}", spec.ref)));
      return ImportCacheFromRegistry(images, *client, ref);
    }();
    if (!r) {
      // Like BuildKit: a cache that cannot be read makes a slower build, not a
      // failed one. A corrupt cache (digest mismatch) is still an error.
      if (r.error().code() == ErrorCode::kDigestMismatch) return Fail(std::move(r).error());
      diags.Warn(Warning{"CacheImportFailed", r.error().Summary() + (r.error().context().empty()
                                                                         ? ""
                                                                         : " (" + Join(r.error().context(), "; ") + ")"),
                         {}});
    }
  }
  return Ok();
}

Result<StoredImage> ExportCaches(ImageStore& images, registry::Client* client, const std::vector<std::string>& specs,
                                 const StoredImage& image, const std::vector<std::string>& used_keys,
                                 const std::vector<std::string>& tags,
                                 const std::optional<std::vector<std::string>>& final_image_keys) {
  const BuildCacheKeys keys{used_keys, final_image_keys};
  std::vector<CacheSpec> parsed;
  for (const auto& text : specs) {
    KILN_TRY_ASSIGN(CacheSpec spec, ParseCacheSpec(text, CacheDirection::kExport));
    parsed.push_back(std::move(spec));
  }
  StoredImage out = image;
  for (size_t i = 0; i < parsed.size(); ++i) {
    const CacheSpec& spec = parsed[i];
    auto run = [&]() -> Result<void> {
      KILN_TRY_ASSIGN(std::vector<CacheRecord> records, CollectCacheRecords(images, keys, spec.mode, image));
      switch (spec.kind) {
        case CacheKind::kLocal:
          return ExportCacheToDir(images, records, spec.dir);
        case CacheKind::kRegistry: {
          KILN_TRY_ASSIGN(image::Reference ref, image::Reference::Parse(spec.ref));
          if (!client) return Fail(Error::Unsupported(fmt::format("no registry client to export {}", spec.ref)));
          KILN_TRY(ExportCacheToRegistry(images, *client, records, ref));
          return Ok();
        }
        case CacheKind::kInline: {
          KILN_TRY_ASSIGN(out, AddInlineCache(images, out, records, tags));
          return Ok();
        }
      }
      return Ok();
    };
    if (auto r = run(); !r) return Fail(std::move(r).error().Wrap("exporting cache to {}", Quote(specs[i])));
  }
  return out;
}

}  // namespace kiln::worker
