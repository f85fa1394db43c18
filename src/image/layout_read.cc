// Reading docker-save archives, OCI archives and OCI layout directories.

#include <sys/stat.h>

#include <fmt/format.h>
#include <map>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "image/codec.h"
#include "image/codec_internal.h"
#include "image/layout.h"
#include "image/layout_internal.h"

namespace kiln::image {
namespace {

using internal::FileTree;
using nlohmann::json;

// Streams `path` from `tree` into `sink`, checking it hashes to `want`.
Result<void> StreamVerified(FileTree& tree, const std::string& label, const std::string& path, const Digest& want,
                            const BlobSink& sink) {
  if (want.algorithm() != "sha256")
    return Fail(Error::Unsupported(fmt::format("{}: {}: unsupported digest algorithm {}", label, path, Quote(want.algorithm()))));
  Sha256 hash;
  KILN_TRY(tree.Stream(path, [&](std::string_view chunk) -> Result<void> {
    hash.Update(chunk);
    return sink(chunk);
  }));
  Digest got = hash.Finish();
  if (got != want) {
    return Fail(Error(ErrorCode::kDigestMismatch,
                      fmt::format("{}: {}: digest mismatch: content is {}", label, path, got.str())));
  }
  return Ok();
}

// Reads a whole (small) blob and verifies its digest.
Result<std::string> ReadBlobSmall(FileTree& tree, const std::string& label, const Digest& d, size_t limit) {
  std::string path = internal::BlobPath(d);
  if (!tree.Exists(path))
    return Fail(Error::NotFound(fmt::format("{}: blob {} not found in the archive", label, d.str())));
  if (d.algorithm() != "sha256")
    return Fail(Error::Unsupported(fmt::format("{}: {}: unsupported digest algorithm {}", label, path, Quote(d.algorithm()))));
  KILN_TRY_ASSIGN(std::string data, tree.ReadSmall(path, limit));
  Digest got = Digest::Of(data);
  if (got != d) {
    return Fail(Error(ErrorCode::kDigestMismatch,
                      fmt::format("{}: {}: digest mismatch: content is {}", label, path, got.str())));
  }
  return data;
}

// Serves blobs by digest from a digest -> path table.
class TableBlobReader : public BlobReader {
 public:
  TableBlobReader(FileTree& tree, std::string label, std::map<Digest, std::string> paths)
      : tree_(tree), label_(std::move(label)), paths_(std::move(paths)) {}

  Result<void> ReadBlob(const Digest& digest, const BlobSink& sink) override {
    auto it = paths_.find(digest);
    std::string path = it != paths_.end() ? it->second : internal::BlobPath(digest);
    if (!tree_.Exists(path))
      return Fail(Error::NotFound(fmt::format("{}: blob {} not found in the archive", label_, digest.str())));
    return StreamVerified(tree_, label_, path, digest, sink);
  }

 private:
  FileTree& tree_;
  std::string label_;
  std::map<Digest, std::string> paths_;
};

// The names an index.json entry carries: io.containerd.image.name, else
// org.opencontainers.image.ref.name when it looks like a full reference
// (a bare tag such as "latest" names no repository and is ignored).
Result<std::optional<Reference>> NameOf(const Descriptor& d, const std::string& label) {
  auto full = d.annotations.find(std::string(kAnnotationContainerdImageName));
  if (full != d.annotations.end()) {
    auto ref = Reference::Parse(full->second);
    if (!ref) return Fail(std::move(ref.error()).Wrap("{}: index.json: annotation {}", label, kAnnotationContainerdImageName));
    return std::optional<Reference>(*ref);
  }
  auto name = d.annotations.find(std::string(kAnnotationRefName));
  if (name != d.annotations.end() && name->second.find_first_of(":/") != std::string::npos) {
    auto ref = Reference::Parse(name->second);
    if (ref) return std::optional<Reference>(*ref);
  }
  return std::optional<Reference>();
}

Result<void> ReadOciLayout(FileTree& tree, const std::string& label, const ImageVisitor& visit,
                           const ReadOptions& options) {
  KILN_TRY_ASSIGN(std::string layout_text, tree.ReadSmall("oci-layout", 4096));
  KILN_TRY_ASSIGN(json layout, internal::ParseJson(layout_text, label + ": oci-layout", 4096));
  std::string version;
  if (layout.is_object()) KILN_TRY(internal::ReadString(layout, "imageLayoutVersion", "oci-layout", version));
  if (version != "1.0.0") {
    return Fail(Error::Unsupported(
        fmt::format("{}: oci-layout: unsupported imageLayoutVersion {} (want \"1.0.0\")", label, Quote(version))));
  }
  KILN_TRY_ASSIGN(std::string index_text, tree.ReadSmall("index.json", kMaxManifestBytes));
  auto index = DecodeIndex(index_text);
  if (!index) return Fail(Error::Invalid(fmt::format("{}: index.json: {}", label, index.error().message())));

  // One image per distinct manifest digest, with all its names, in order.
  std::vector<std::pair<Descriptor, std::vector<Reference>>> images;
  for (const Descriptor& d : index->manifests) {
    KILN_TRY_ASSIGN(std::optional<Reference> name, NameOf(d, label));
    auto same = std::find_if(images.begin(), images.end(), [&](const auto& e) { return e.first.digest == d.digest; });
    if (same == images.end()) {
      images.push_back({d, {}});
      same = images.end() - 1;
    }
    if (name && std::find(same->second.begin(), same->second.end(), *name) == same->second.end())
      same->second.push_back(*name);
  }

  for (auto& [desc, names] : images) {
    LoadedImage image;
    image.names = names;
    KILN_TRY_ASSIGN(std::string text, ReadBlobSmall(tree, label, desc.digest, kMaxManifestBytes));
    Digest digest = desc.digest;
    std::string media_type = desc.media_type;
    if (media_type.empty()) {
      KILN_TRY_ASSIGN(media_type, DetectManifestMediaType(text));
    }
    if (IsIndexMediaType(media_type)) {
      auto nested = DecodeIndex(text);
      if (!nested) return Fail(Error::Invalid(fmt::format("{}: {}: {}", label, internal::BlobPath(digest), nested.error().message())));
      auto chosen = SelectManifest(*nested, options.platform);
      if (!chosen) return Fail(std::move(chosen.error()).Wrap("{}: reading index {}", label, digest.str()));
      digest = chosen->digest;
      KILN_TRY_ASSIGN(text, ReadBlobSmall(tree, label, digest, kMaxManifestBytes));
    } else if (!IsManifestMediaType(media_type)) {
      return Fail(Error::Unsupported(
          fmt::format("{}: index.json: {} has unsupported media type {}", label, digest.str(), Quote(media_type))));
    }
    auto manifest = DecodeManifest(text);
    if (!manifest) return Fail(Error::Invalid(fmt::format("{}: {}: {}", label, internal::BlobPath(digest), manifest.error().message())));
    image.manifest = std::move(*manifest);
    image.manifest_json = std::move(text);
    image.manifest_digest = digest;
    KILN_TRY_ASSIGN(image.config_json, ReadBlobSmall(tree, label, image.manifest.config.digest, kMaxConfigBytes));
    for (const Descriptor& layer : image.manifest.layers) {
      if (!layer.urls.empty()) continue;  // foreign layers may be absent
      if (!tree.Exists(internal::BlobPath(layer.digest)))
        return Fail(Error::NotFound(fmt::format("{}: blob {} not found in the archive", label, layer.digest.str())));
    }
    TableBlobReader blobs(tree, label, {});
    KILN_TRY(visit(image, blobs));
  }
  return Ok();
}

Result<std::vector<std::string>> StringList(const json& obj, std::string_view key, const std::string& path) {
  std::vector<std::string> out;
  KILN_TRY(internal::ReadStringList(obj, key, path, out));
  return out;
}

Result<void> ReadDockerSave(FileTree& tree, const std::string& label, const ImageVisitor& visit) {
  KILN_TRY_ASSIGN(std::string text, tree.ReadSmall("manifest.json", kMaxManifestBytes));
  auto parsed = internal::ParseJson(text, "manifest.json", kMaxManifestBytes);
  if (!parsed) return Fail(Error::Invalid(fmt::format("{}: {}", label, parsed.error().message())));
  const json& entries = *parsed;
  if (!entries.is_array())
    return Fail(Error::Invalid(fmt::format("{}: {}", label, internal::TypeError("manifest.json", "array", entries).message())));
  for (size_t i = 0; i < entries.size(); ++i) {
    const std::string where = fmt::format("manifest.json[{}]", i);
    auto fail = [&](const Error& e) { return Fail(Error(e.code(), fmt::format("{}: {}", label, e.message()))); };
    const json& entry = entries[i];
    if (auto r = internal::ExpectObject(entry, where); !r) return fail(r.error());
    std::string config_name;
    if (auto r = internal::ReadString(entry, "Config", where, config_name); !r) return fail(r.error());
    auto tags = StringList(entry, "RepoTags", where);
    if (!tags) return fail(tags.error());
    auto layer_names = StringList(entry, "Layers", where);
    if (!layer_names) return fail(layer_names.error());

    auto config_path = internal::ArchivePath(config_name);
    if (!config_path) return Fail(Error::Invalid(fmt::format("{}: {}.Config: {}", label, where, config_path.error().message())));
    if (!tree.Exists(*config_path))
      return Fail(Error::NotFound(fmt::format("{}: {}.Config: {} not found in the archive", label, where, Quote(*config_path))));
    LoadedImage image;
    KILN_TRY_ASSIGN(image.config_json, tree.ReadSmall(*config_path, kMaxConfigBytes));
    auto config = DecodeImageConfig(image.config_json);
    if (!config) return Fail(Error::Invalid(fmt::format("{}: {}: {}", label, *config_path, config.error().message())));
    if (config->rootfs.diff_ids.size() != layer_names->size()) {
      return Fail(Error::Invalid(fmt::format("{}: {}: {} layers but the config lists {} diff_ids", label, where,
                                             layer_names->size(), config->rootfs.diff_ids.size())));
    }
    for (const std::string& tag : *tags) {
      auto ref = Reference::Parse(tag);
      if (!ref) return Fail(std::move(ref.error()).Wrap("{}: {}.RepoTags", label, where));
      image.names.push_back(*ref);
    }

    std::map<Digest, std::string> paths;
    Digest config_digest = Digest::Of(image.config_json);
    paths[config_digest] = *config_path;
    image.manifest.media_type = std::string(kOciManifest);
    image.manifest.config = {.media_type = std::string(kOciConfig),
                             .digest = config_digest,
                             .size = static_cast<int64_t>(image.config_json.size())};
    for (size_t l = 0; l < layer_names->size(); ++l) {
      const std::string& name = (*layer_names)[l];
      auto path = internal::ArchivePath(name);
      if (!path) return Fail(Error::Invalid(fmt::format("{}: {}.Layers[{}]: {}", label, where, l, path.error().message())));
      if (!tree.Exists(*path)) {
        return Fail(Error::NotFound(
            fmt::format("{}: {}.Layers[{}]: {} not found in the archive", label, where, l, Quote(*path))));
      }
      KILN_TRY_ASSIGN(internal::FileInfo info, tree.Info(*path));
      std::string_view media_type = internal::SniffLayerMediaType(info.head);
      if (media_type == kOciLayer && info.digest != config->rootfs.diff_ids[l]) {
        return Fail(Error(ErrorCode::kDigestMismatch,
                          fmt::format("{}: {}: digest mismatch: content is {}, rootfs.diff_ids[{}] is {}", label,
                                      *path, info.digest.str(), l, config->rootfs.diff_ids[l].str())));
      }
      paths[info.digest] = *path;
      image.manifest.layers.push_back(
          {.media_type = std::string(media_type), .digest = info.digest, .size = info.size});
    }
    image.manifest_json = EncodeManifest(image.manifest);
    image.manifest_digest = Digest::Of(image.manifest_json);
    TableBlobReader blobs(tree, label, std::move(paths));
    KILN_TRY(visit(image, blobs));
  }
  return Ok();
}

}  // namespace

Result<void> ReadImageArchive(const std::string& path, const ImageVisitor& visit, const ReadOptions& options) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return Fail(Error::Io(path, errno, "stat"));
  std::unique_ptr<FileTree> tree;
  if (S_ISDIR(st.st_mode)) {
    KILN_TRY_ASSIGN(tree, internal::OpenDirTree(path));
    if (!tree->Exists("oci-layout"))
      return Fail(Error::Invalid(fmt::format("{}: not an OCI layout directory: no oci-layout file", path)));
  } else {
    KILN_TRY_ASSIGN(tree, internal::OpenTarTree(path));
  }
  if (tree->Exists("oci-layout") && tree->Exists("index.json")) return ReadOciLayout(*tree, path, visit, options);
  if (tree->Exists("manifest.json")) return ReadDockerSave(*tree, path, visit);
  return Fail(Error::Invalid(fmt::format("{}: not an image archive: no manifest.json or index.json", path)));
}

}  // namespace kiln::image
