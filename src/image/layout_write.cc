// Writing OCI archives, docker archives and OCI layout directories.

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "image/codec.h"
#include "image/codec_internal.h"
#include "image/layout.h"
#include "image/layout_internal.h"

namespace kiln::image {
namespace {

using nlohmann::json;

constexpr std::string_view kOciLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

// Where the files of a layout go: a tar or a directory.
class LayoutSink {
 public:
  virtual ~LayoutSink() = default;
  virtual Result<void> WriteSmall(const std::string& path, std::string_view data) = 0;
  // Writes `size` bytes produced by `produce` (which calls the given sink).
  virtual Result<void> WriteStream(const std::string& path, int64_t size,
                                   const std::function<Result<void>(const BlobSink&)>& produce) = 0;
  // True if the file is already there (directories keep existing blobs).
  virtual bool Has(const std::string& path) = 0;
  virtual Result<void> Commit() = 0;
};

struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

// Writes a tar to "<path>.tmp-<random>", renamed over `path` on Commit and
// removed otherwise.
class TarSink : public LayoutSink {
 public:
  static Result<std::unique_ptr<TarSink>> Create(const std::string& path) {
    auto sink = std::unique_ptr<TarSink>(new TarSink(path));
    sink->a_.reset(archive_write_new());
    archive_write_set_format_pax_restricted(sink->a_.get());
    if (archive_write_open_filename(sink->a_.get(), sink->tmp_.c_str()) != ARCHIVE_OK) return Fail(sink->Err());
    sink->opened_ = true;
    return sink;
  }
  ~TarSink() override {
    if (opened_ && !committed_) {
      a_.reset();
      unlink(tmp_.c_str());
    }
  }

  bool Has(const std::string& path) override { return false; }

  Result<void> WriteSmall(const std::string& path, std::string_view data) override {
    return WriteStream(path, static_cast<int64_t>(data.size()), [&](const BlobSink& sink) { return sink(data); });
  }

  Result<void> WriteStream(const std::string& path, int64_t size,
                           const std::function<Result<void>(const BlobSink&)>& produce) override {
    KILN_TRY(EnsureDirs(path));
    KILN_TRY(Header(path, AE_IFREG, size));
    int64_t written = 0;
    KILN_TRY(produce([&](std::string_view chunk) -> Result<void> {
      if (written + static_cast<int64_t>(chunk.size()) > size)
        return Fail(Error(ErrorCode::kDigestMismatch, fmt::format("{}: more than the expected {} bytes", path, size)));
      if (!chunk.empty() && archive_write_data(a_.get(), chunk.data(), chunk.size()) < 0) return Fail(Err());
      written += static_cast<int64_t>(chunk.size());
      return Ok();
    }));
    if (written != size) {
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("{}: got {} bytes, expected {}", path, written, size)));
    }
    if (archive_write_finish_entry(a_.get()) != ARCHIVE_OK) return Fail(Err());
    return Ok();
  }

  Result<void> Commit() override {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Fail(Err());
    if (rename(tmp_.c_str(), path_.c_str()) != 0) return Fail(Error::Io(path_, errno, "rename"));
    committed_ = true;
    return Ok();
  }

 private:
  explicit TarSink(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp-" + RandomHex(8)) {}

  Error Err() {
    const char* msg = archive_error_string(a_.get());
    return Error(ErrorCode::kIo, fmt::format("{}: writing archive: {}", path_, msg ? msg : "unknown error"));
  }

  Result<void> Header(const std::string& path, unsigned type, int64_t size) {
    std::unique_ptr<struct archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), path.c_str());
    archive_entry_set_filetype(e.get(), type);
    archive_entry_set_perm(e.get(), type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_size(e.get(), type == AE_IFDIR ? 0 : size);
    archive_entry_set_mtime(e.get(), 0, 0);  // reproducible archives
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return Fail(Err());
    return Ok();
  }

  // Emits directory entries for the parents of `path` once, as docker save does.
  Result<void> EnsureDirs(const std::string& path) {
    size_t slash = 0;
    while ((slash = path.find('/', slash)) != std::string::npos) {
      std::string dir = path.substr(0, slash) + "/";
      if (dirs_.insert(dir).second) KILN_TRY(Header(dir, AE_IFDIR, 0));
      ++slash;
    }
    return Ok();
  }

  std::string path_, tmp_;
  std::unique_ptr<struct archive, WriteDeleter> a_;
  std::set<std::string> dirs_;
  bool opened_ = false, committed_ = false;
};

class DirSink : public LayoutSink {
 public:
  explicit DirSink(std::string dir) : dir_(std::move(dir)) {}

  bool Has(const std::string& path) override { return PathExists(JoinPath(dir_, path)); }

  Result<void> WriteSmall(const std::string& path, std::string_view data) override {
    std::string full = JoinPath(dir_, path);
    KILN_TRY(MakeDirs(Dirname(full)));
    return WriteFileAtomic(full, data, Durability::kNone);
  }

  Result<void> WriteStream(const std::string& path, int64_t size,
                           const std::function<Result<void>(const BlobSink&)>& produce) override {
    std::string full = JoinPath(dir_, path);
    KILN_TRY(MakeDirs(Dirname(full)));
    std::string tmp = full + ".tmp-" + RandomHex(8);
    auto result = [&]() -> Result<void> {
      KILN_TRY_ASSIGN(Fd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
      int64_t written = 0;
      KILN_TRY(produce([&](std::string_view chunk) -> Result<void> {
        if (written + static_cast<int64_t>(chunk.size()) > size)
          return Fail(Error(ErrorCode::kDigestMismatch, fmt::format("{}: more than the expected {} bytes", path, size)));
        KILN_TRY(WriteAll(fd.get(), chunk, tmp));
        written += static_cast<int64_t>(chunk.size());
        return Ok();
      }));
      if (written != size)
        return Fail(Error(ErrorCode::kDigestMismatch, fmt::format("{}: got {} bytes, expected {}", path, written, size)));
      if (rename(tmp.c_str(), full.c_str()) != 0) return Fail(Error::Io(full, errno, "rename"));
      return Ok();
    }();
    if (!result) unlink(tmp.c_str());
    return result;
  }

  Result<void> Commit() override { return Ok(); }

 private:
  std::string dir_;
};

// One image, prepared for writing.
struct Prepared {
  std::vector<Reference> names;
  Manifest manifest;
  std::string manifest_json;
  Digest manifest_digest;
  const std::string* config_json = nullptr;
};

Result<std::vector<Prepared>> Prepare(const std::vector<ImageToSave>& images, ArchiveFormat format) {
  std::vector<Prepared> out;
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageToSave& in = images[i];
    auto manifest = DecodeManifest(in.manifest_json);
    if (!manifest) return Fail(std::move(manifest.error()).Wrap("saving image {}", i));
    Prepared p;
    p.names = in.names;
    p.config_json = &in.config_json;
    Digest config_digest = Digest::Of(in.config_json);
    if (config_digest != manifest->config.digest) {
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("saving image {}: config is {}, manifest says {}", i, config_digest.str(),
                                    manifest->config.digest.str())));
    }
    if (format == ArchiveFormat::kDockerArchive && manifest->media_type != kDockerManifest) {
      p.manifest = ConvertManifest(*manifest, MediaTypeFamily::kDocker);
      p.manifest_json = EncodeManifest(p.manifest);
    } else {
      p.manifest = std::move(*manifest);
      p.manifest_json = in.manifest_json;
    }
    if (p.manifest.media_type.empty()) p.manifest.media_type = std::string(kOciManifest);
    p.manifest_digest = Digest::Of(p.manifest_json);
    out.push_back(std::move(p));
  }
  return out;
}

// Streams `d` from `blobs` into the sink, verifying the digest on the way.
Result<void> CopyBlob(LayoutSink& sink, const Descriptor& d, const BlobSource& blobs) {
  std::string path = internal::BlobPath(d.digest);
  if (sink.Has(path)) return Ok();
  return sink.WriteStream(path, d.size, [&](const BlobSink& out) -> Result<void> {
    Sha256 hash;
    KILN_TRY(blobs(d.digest, [&](std::string_view chunk) -> Result<void> {
      hash.Update(chunk);
      return out(chunk);
    }));
    if (hash.bytes() != static_cast<uint64_t>(d.size)) {
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("blob {}: got {} bytes, expected {}", d.digest.str(), hash.bytes(), d.size)));
    }
    Digest got = hash.Finish();
    if (got != d.digest) {
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("blob {}: digest mismatch: content is {}", d.digest.str(), got.str())));
    }
    return Ok();
  });
}

Result<void> WriteLayout(LayoutSink& sink, const std::vector<Prepared>& images, ArchiveFormat format,
                         const BlobSource& blobs, const std::string& existing_index) {
  KILN_TRY(sink.WriteSmall("oci-layout", kOciLayoutFile));
  std::set<Digest> written;
  for (const Prepared& p : images) {
    for (const Descriptor& layer : p.manifest.layers) {
      // Foreign/nondistributable layers with URLs are fetched from there, not shipped.
      bool foreign = layer.media_type.find("nondistributable") != std::string::npos ||
                     layer.media_type.find("foreign") != std::string::npos;
      if (foreign && !layer.urls.empty()) continue;
      if (!written.insert(layer.digest).second) continue;
      KILN_TRY(CopyBlob(sink, layer, blobs));
    }
    if (written.insert(p.manifest.config.digest).second && !sink.Has(internal::BlobPath(p.manifest.config.digest)))
      KILN_TRY(sink.WriteSmall(internal::BlobPath(p.manifest.config.digest), *p.config_json));
    if (written.insert(p.manifest_digest).second && !sink.Has(internal::BlobPath(p.manifest_digest)))
      KILN_TRY(sink.WriteSmall(internal::BlobPath(p.manifest_digest), p.manifest_json));
  }

  Index index;
  index.media_type = std::string(kOciIndex);
  if (!existing_index.empty()) {
    auto old = DecodeIndex(existing_index);
    if (!old) return Fail(std::move(old.error()).Wrap("reading the existing index.json"));
    index.manifests = std::move(old->manifests);
  }
  for (const Prepared& p : images) {
    Descriptor d{.media_type = p.manifest.media_type,
                 .digest = p.manifest_digest,
                 .size = static_cast<int64_t>(p.manifest_json.size())};
    if (p.names.empty()) {
      index.manifests.push_back(d);
      continue;
    }
    for (const Reference& name : p.names) {
      Descriptor named = d;
      named.annotations[std::string(kAnnotationContainerdImageName)] = name.String();
      if (!name.tag().empty()) named.annotations[std::string(kAnnotationRefName)] = name.tag();
      // A name moves to the image saved last, as `docker save`/containerd do.
      std::erase_if(index.manifests, [&](const Descriptor& e) {
        auto it = e.annotations.find(std::string(kAnnotationContainerdImageName));
        return it != e.annotations.end() && it->second == name.String();
      });
      index.manifests.push_back(std::move(named));
    }
  }
  KILN_TRY(sink.WriteSmall("index.json", EncodeIndex(index)));

  if (format == ArchiveFormat::kDockerArchive) {
    json manifest = json::array();
    json repositories = json::object();
    for (const Prepared& p : images) {
      json entry = json::object();
      entry["Config"] = internal::BlobPath(p.manifest.config.digest);
      json tags = json::array();
      for (const Reference& name : p.names) {
        if (name.tag().empty()) continue;
        tags.push_back(name.FamiliarString());
        if (!p.manifest.layers.empty())
          repositories[name.FamiliarName()][name.tag()] = p.manifest.layers.back().digest.hex();
      }
      entry["RepoTags"] = std::move(tags);
      json layers = json::array();
      for (const Descriptor& layer : p.manifest.layers) layers.push_back(internal::BlobPath(layer.digest));
      entry["Layers"] = std::move(layers);
      manifest.push_back(std::move(entry));
    }
    KILN_TRY(sink.WriteSmall("manifest.json", internal::Dump(manifest)));
    if (!repositories.empty()) KILN_TRY(sink.WriteSmall("repositories", internal::Dump(repositories)));
  }
  return sink.Commit();
}

}  // namespace

Result<void> WriteImageArchive(const std::string& path, ArchiveFormat format, const std::vector<ImageToSave>& images,
                               const BlobSource& blobs) {
  KILN_TRY_ASSIGN(std::vector<Prepared> prepared, Prepare(images, format));
  if (format == ArchiveFormat::kOciDirectory) {
    KILN_TRY(MakeDirs(path));
    std::string existing;
    std::string index_path = JoinPath(path, "index.json");
    if (PathExists(index_path)) {
      KILN_TRY_ASSIGN(existing, ReadFile(index_path));
    }
    DirSink sink(path);
    auto r = WriteLayout(sink, prepared, format, blobs, existing);
    if (!r) return Fail(std::move(r.error()).Wrap("writing OCI layout {}", path));
    return Ok();
  }
  KILN_TRY_ASSIGN(auto sink, TarSink::Create(path));
  auto r = WriteLayout(*sink, prepared, format, blobs, "");
  if (!r) return Fail(std::move(r.error()).Wrap("writing {}", path));
  return Ok();
}

}  // namespace kiln::image
