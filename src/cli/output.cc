#include "cli/output.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "archive/layer.h"
#include "archive/stream.h"
#include "base/fs.h"
#include "base/strings.h"
#include "image/codec.h"
#include "image/layout.h"
#include "worker/push_layers.h"

namespace kiln::cli {

namespace {

class BlobSource : public archive::ByteSource {
 public:
  explicit BlobSource(store::BlobReader r) : r_(std::move(r)) {}
  Result<size_t> Read(std::span<char> buf) override { return r_.Read(buf.data(), buf.size()); }

 private:
  store::BlobReader r_;
};

image::BlobSource StoreBlobs(Env& env) {
  return [&env](const Digest& digest, const image::BlobSink& sink) -> Result<void> {
    KILN_TRY_ASSIGN(store::BlobReader reader, env.store->OpenBlob(digest));
    std::string buf(1 << 20, '\0');
    for (;;) {
      KILN_TRY_ASSIGN(size_t n, reader.Read(buf.data(), buf.size()));
      if (n == 0) return Ok();
      KILN_TRY(sink(std::string_view(buf.data(), n)));
    }
  };
}

}  // namespace

Result<std::vector<OutputSpec>> ParseOutputs(const std::vector<std::string>& specs) {
  std::vector<OutputSpec> out;
  for (const auto& spec : specs) {
    OutputSpec o;
    if (spec == "-") {
      o.type = OutputSpec::Type::kTar;
      o.dest = "-";
      out.push_back(o);
      continue;
    }
    if (spec.find('=') == std::string::npos) {
      o.type = OutputSpec::Type::kLocal;
      o.dest = spec;
      out.push_back(o);
      continue;
    }
    std::string type;
    for (const auto& field : Split(spec, ',')) {
      auto kv = CutString(field, '=');
      std::string key = ToLower(TrimSpace(kv.first));
      std::string value(TrimSpace(kv.second));
      if (key == "type") type = value;
      else if (key == "dest") o.dest = value;
      else if (key == "push") o.push = value == "true" || value.empty();
      else if (key == "name" || key == "compression" || key == "oci-mediatypes" || key == "tar") {
        // Accepted for compatibility; kiln's defaults apply.
      } else {
        return Fail(Error::Usage(fmt::format("invalid output {}: unknown key {}", Quote(spec), Quote(key))));
      }
    }
    if (type == "image") o.type = OutputSpec::Type::kImage;
    else if (type == "registry") o.type = OutputSpec::Type::kRegistry, o.push = true;
    else if (type == "oci") o.type = OutputSpec::Type::kOci;
    else if (type == "docker") o.type = OutputSpec::Type::kDocker;
    else if (type == "tar") o.type = OutputSpec::Type::kTar;
    else if (type == "local") o.type = OutputSpec::Type::kLocal;
    else
      return Fail(Error::Usage(fmt::format("invalid output {}: unknown type {} (want image, registry, oci, docker, "
                                           "tar or local)", Quote(spec), Quote(type))));
    bool needs_dest = o.type == OutputSpec::Type::kOci || o.type == OutputSpec::Type::kDocker ||
                      o.type == OutputSpec::Type::kTar || o.type == OutputSpec::Type::kLocal;
    if (needs_dest && o.dest.empty())
      return Fail(Error::Usage(fmt::format("invalid output {}: dest= is required for type={}", Quote(spec), type)));
    out.push_back(o);
  }
  return out;
}

Result<void> SaveImages(Env& env, const std::vector<worker::StoredImage>& images,
                        const std::vector<std::vector<std::string>>& names, SaveFormat format, const std::string& path) {
  std::vector<image::ImageToSave> to_save;
  for (size_t i = 0; i < images.size(); ++i) {
    image::ImageToSave s;
    for (const auto& n : names[i]) {
      KILN_TRY_ASSIGN(image::Reference ref, image::Reference::Parse(n));
      s.names.push_back(ref);
    }
    s.manifest_json = images[i].manifest_json;
    s.config_json = images[i].config_json;
    to_save.push_back(std::move(s));
  }
  auto fmt_kind = format == SaveFormat::kOci ? image::ArchiveFormat::kOciArchive : image::ArchiveFormat::kDockerArchive;
  if (path == "-") {
    // Write to a temp file, then copy to stdout: the writer renames into place.
    KILN_TRY_ASSIGN(std::string dir, env.store->CreateWorkDir());
    std::string file = JoinPath(dir, "image.tar");
    KILN_TRY(image::WriteImageArchive(file, fmt_kind, to_save, StoreBlobs(env)));
    KILN_TRY_ASSIGN(Fd fd, OpenFile(file, O_RDONLY));
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n < 0) return Fail(Error::Io(file, errno, "read"));
      if (n == 0) break;
      KILN_TRY(WriteAll(1, std::string_view(buf, n), "stdout"));
    }
    return Ok();
  }
  return image::WriteImageArchive(path, fmt_kind, to_save, StoreBlobs(env));
}

Result<void> FlattenImage(Env& env, const worker::StoredImage& image, const std::string& dir) {
  for (const auto& layer : image.manifest.layers) {
    KILN_TRY_ASSIGN(store::BlobReader reader, env.store->OpenBlob(layer.digest));
    BlobSource source(std::move(reader));
    archive::ApplyOptions opt;
    opt.whiteout_mode = archive::WhiteoutMode::kApply;
    opt.label = "layer " + layer.digest.str();
    KILN_TRY(archive::ApplyLayer(source, dir, opt));
  }
  return Ok();
}

Result<std::optional<Digest>> WriteOutput(Env& env, const worker::StoredImage& image,
                                          const std::vector<std::string>& tags, const OutputSpec& out) {
  std::optional<Digest> pushed;
  switch (out.type) {
    case OutputSpec::Type::kImage:
    case OutputSpec::Type::kRegistry:
      if (out.push) {
        if (tags.empty()) return Fail(Error::Usage("push=true needs a tag (-t NAME)"));
        for (const auto& t : tags) {
          KILN_TRY_ASSIGN(PushResult r, PushStored(env, image, t, ProgressMode::kPlain));
          pushed = r.digest;
        }
      }
      return pushed;
    case OutputSpec::Type::kOci:
    case OutputSpec::Type::kDocker:
      KILN_TRY(SaveImages(env, {image}, {tags},
                          out.type == OutputSpec::Type::kOci ? SaveFormat::kOci : SaveFormat::kDocker, out.dest));
      return pushed;
    case OutputSpec::Type::kLocal: {
      KILN_TRY(MakeDirs(out.dest));
      KILN_TRY(FlattenImage(env, image, out.dest));
      return pushed;
    }
    case OutputSpec::Type::kTar: {
      KILN_TRY_ASSIGN(std::string tmp, env.store->CreateWorkDir());
      KILN_TRY(FlattenImage(env, image, tmp));
      Fd file;
      int fd = 1;
      if (out.dest != "-") {
        KILN_TRY_ASSIGN(file, OpenFile(out.dest, O_WRONLY | O_CREAT | O_TRUNC, 0644));
        fd = file.get();
      }
      archive::FdSink sink(fd, out.dest == "-" ? "stdout" : out.dest);
      archive::LayerWriteOptions opt;
      opt.compression.compression = archive::Compression::kNone;
      KILN_TRY(archive::WriteLayerFromDir(tmp, sink, opt));
      return pushed;
    }
  }
  return pushed;
}

Result<PushResult> PushStored(Env& env, const worker::StoredImage& image, const std::string& name,
                              ProgressMode mode) {
  KILN_TRY_ASSIGN(image::Reference ref, image::Reference::Parse(name));
  auto push = worker::PushRequest(*env.images, image);
  if (!push) return Fail(std::move(push).error().Wrap("pushing {}", ref.String()));
  auto source = env.images->NewBlobSource();
  auto digest = env.registry->Push(ref, *push, *source);
  if (!digest) return Fail(std::move(digest).error().Wrap("pushing {}", ref.String()));
  KILN_TRY(env.store->SetRepoDigest(image.record.manifest, ref.Name(), *digest));
  if (mode != ProgressMode::kQuiet)
    std::fprintf(stderr, "pushed %s: digest: %s size: %zu\n", ref.String().c_str(), digest->str().c_str(),
                 push->manifest_bytes.size());
  return PushResult{*digest, push->manifest_bytes.size()};
}

namespace {

size_t ReadFromFd(char* buf, size_t size, size_t n, void* user) {
  int fd = *static_cast<int*>(user);
  ssize_t r = ::read(fd, buf, size * n);
  return r < 0 ? CURL_READFUNC_ABORT : static_cast<size_t>(r);
}

size_t AppendBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

// The engine's message in a JSON error body ({"message": ...}) or in a
// progress stream line ({"errorDetail": {"message": ...}, "error": ...}), or
// "" if `body` has none.
std::string DockerErrorMessage(std::string_view body) {
  for (const auto& line : Split(body, '\n')) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    if (auto d = j.find("errorDetail"); d != j.end() && d->is_object()) {
      if (auto m = d->find("message"); m != d->end() && m->is_string()) return m->get<std::string>();
    }
    for (const char* key : {"error", "message"})
      if (auto m = j.find(key); m != j.end() && m->is_string()) return m->get<std::string>();
  }
  return {};
}

}  // namespace

Result<void> LoadIntoDocker(Env& env, const worker::StoredImage& image, const std::vector<std::string>& tags) {
  std::string socket = "/var/run/docker.sock";
  if (const char* host = std::getenv("DOCKER_HOST"); host && *host) {
    std::string h = host;
    if (!h.starts_with("unix://"))
      return Fail(Error::Unsupported(fmt::format("--load supports unix:// DOCKER_HOST only, got {}", Quote(h))));
    socket = h.substr(7);
  }
  // The engine takes a `docker save` archive (POST /images/load); kiln
  // writes it to its scratch area first so the upload has a known length.
  KILN_TRY_ASSIGN(std::string dir, env.store->CreateWorkDir());
  std::string file = JoinPath(dir, "image.tar");
  KILN_TRY(SaveImages(env, {image}, {tags}, SaveFormat::kDocker, file));
  auto loaded = [&]() -> Result<void> {
    KILN_TRY_ASSIGN(Fd fd, OpenFile(file, O_RDONLY));
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return Fail(Error::Io(file, errno, "stat"));
    int raw = fd.get();
    CURL* curl = curl_easy_init();
    if (!curl) return Fail(Error::Io("curl", ENOMEM, "init"));
    std::string body;
    struct curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/x-tar");
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, socket.c_str());
    curl_easy_setopt(curl, CURLOPT_URL, "http://localhost/images/load?quiet=1");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(st.st_size));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadFromFd);
    curl_easy_setopt(curl, CURLOPT_READDATA, &raw);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (rc != CURLE_OK)
      return Fail(Error(ErrorCode::kNetwork, fmt::format("cannot reach the Docker engine at {}: {}", socket,
                                                         curl_easy_strerror(rc)))
                      .WithHint("is the Docker engine running? set DOCKER_HOST=unix:///path/to/docker.sock"));
    // Errors come either as an HTTP status with {"message": ...} or, once
    // the engine has started reading the archive, as a 200 whose progress
    // stream carries an errorDetail.
    std::string message = DockerErrorMessage(body);
    if (status != 200)
      return Fail(Error(ErrorCode::kNetwork, fmt::format("the Docker engine at {} answered HTTP {}: {}", socket,
                                                         status, message.empty() ? TrimSpace(body) : message)));
    if (!message.empty())
      return Fail(Error(ErrorCode::kInvalid, fmt::format("the Docker engine at {} refused the image: {}", socket,
                                                         message)));
    return Ok();
  }();
  ::unlink(file.c_str());
  if (!loaded) return Fail(std::move(loaded).error().Wrap("loading {} into Docker", tags.empty()
                                                                                     ? image.record.config.str()
                                                                                     : Join(tags, ", ")));
  return Ok();
}

Result<void> ExtractTarFromStdin(const std::string& dir) {
  archive::FdSource source(0, "stdin");
  archive::ApplyOptions opt;
  opt.whiteout_mode = archive::WhiteoutMode::kApply;
  opt.label = "build context from stdin";
  KILN_TRY(archive::ApplyLayer(source, dir, opt));
  return Ok();
}

}  // namespace kiln::cli
