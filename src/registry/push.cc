// Client::Push: blobs (HEAD, mount, monolithic or chunked upload), then the
// manifest.

#include <algorithm>
#include <cstring>
#include <memory>
#include <span>

#include "base/strings.h"
#include "image/codec.h"
#include "registry/challenge.h"
#include "registry/client.h"
#include "registry/session_internal.h"

namespace kiln::registry {

namespace {

std::string WithQuery(const std::string& url, std::string_view query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + std::string(query);
}

// Serves a blob's bytes to streamed request bodies, in order, and checks
// that the source ends exactly at the descriptor's size before the last
// bytes leave (a store reader verifies the digest on that final read), so a
// registry never receives a wrong blob in full.
class BlobStream {
 public:
  BlobStream(BlobReader& reader, const Digest& digest, uint64_t size)
      : reader_(reader), digest_(digest), size_(size) {}

  // Copies up to `out.size()` next bytes into `out`.
  Result<size_t> Read(std::span<char> out) {
    if (pos_ == pending_.size()) {
      if (read_ == size_) return size_t{0};
      KILN_TRY_ASSIGN(pending_, reader_.Read(std::min<uint64_t>(size_ - read_, kReadSize)));
      pos_ = 0;
      if (pending_.empty())
        return Fail(Error::Invalid(fmt::format("blob {} ended after {} of {} bytes", digest_.str(), read_, size_)));
      read_ += pending_.size();
      if (read_ == size_) {
        KILN_TRY_ASSIGN(std::string more, reader_.Read(1));
        if (!more.empty())
          return Fail(Error::Invalid(fmt::format("blob {} is longer than {} bytes", digest_.str(), size_)));
      }
    }
    size_t n = std::min(out.size(), pending_.size() - pos_);
    std::memcpy(out.data(), pending_.data() + pos_, n);
    pos_ += n;
    return n;
  }

  // A body source for the next `n` bytes.
  std::function<Result<size_t>(std::span<char>)> Next(uint64_t n) {
    auto left = std::make_shared<uint64_t>(n);
    return [this, left](std::span<char> out) -> Result<size_t> {
      KILN_TRY_ASSIGN(size_t got, Read(out.first(std::min<uint64_t>(out.size(), *left))));
      *left -= got;
      return got;
    };
  }

 private:
  static constexpr uint64_t kReadSize = 1 << 20;
  BlobReader& reader_;
  Digest digest_;
  uint64_t size_;
  uint64_t read_ = 0;  // bytes taken from `reader_`
  std::string pending_;
  size_t pos_ = 0;  // bytes of `pending_` already served
};

}  // namespace

Result<void> Client::PushBlob(Session& s, const std::string& repo, const image::Descriptor& d,
                              const std::vector<std::string>& mount_from, BlobSource& source) {
  const Endpoint& ep = s.endpoint();
  std::string digest = d.digest.str();
  // 1. Does the registry already have it?
  KILN_TRY_ASSIGN(HttpResponse head, s.Do([&] {
    HttpRequest r;
    r.method = "HEAD";
    r.url = s.Url(fmt::format("/v2/{}/blobs/{}", repo, digest));
    return r;
  }));
  if (head.status == 200) return Ok();
  if (head.status != 404) return Fail(HttpStatusError(head.status, head.body, ep.name));

  // 2. Mount from a sibling repository, or start an upload. A mount that the
  // registry cannot do answers 202 with a fresh upload session.
  std::string location;
  for (const auto& from : mount_from) {
    if (from == repo) continue;
    KILN_TRY_ASSIGN(HttpResponse m, s.Do([&] {
      HttpRequest r;
      r.method = "POST";
      r.url = s.Url(fmt::format("/v2/{}/blobs/uploads/?{}", repo,
                                FormEncode({{"mount", digest}, {"from", from}})));
      return r;
    }));
    if (m.status == 201) return Ok();
    if (m.status == 202 && m.Header("location")) {
      location = s.ResolveLocation(*m.Header("location"));
      break;
    }
  }
  // 3. Upload. A streamed body cannot be resent, and bytes a failed request
  // left in an upload are unknown, so a failure the server or network may
  // not repeat restarts the blob in a new upload. So does one 401: a token
  // that expired during a long upload is renewed by the new upload's POST.
  bool renewed = false;
  for (int attempt = 1;; ++attempt) {
    auto r = UploadBlob(s, repo, d, source, location);
    if (r) return r;
    ErrorCode code = r.error().code();
    if (code == ErrorCode::kAuth && !renewed) {
      renewed = true;
      --attempt;
    } else if (code != ErrorCode::kNetwork || attempt >= options_.max_attempts) {
      return r;
    } else {
      options_.sleep(s.Backoff(attempt, nullptr));
    }
    location.clear();
  }
}

Result<void> Client::UploadBlob(Session& s, const std::string& repo, const image::Descriptor& d,
                                BlobSource& source, std::string location) {
  const Endpoint& ep = s.endpoint();
  if (location.empty()) {
    KILN_TRY_ASSIGN(HttpResponse start, s.Do([&] {
      HttpRequest r;
      r.method = "POST";
      r.url = s.Url(fmt::format("/v2/{}/blobs/uploads/", repo));
      return r;
    }));
    if (start.status != 202)
      return Fail(HttpStatusError(start.status, start.body, ep.name).Wrap("starting upload"));
    auto loc = start.Header("location");
    if (!loc) return Fail(Error::Invalid("upload response has no Location header"));
    location = s.ResolveLocation(*loc);
  }

  // Bytes stream from the source: one PUT for blobs up to chunk_size, PATCH
  // chunks of chunk_size then an empty PUT for larger ones.
  KILN_TRY_ASSIGN(auto reader, source.Open(d.digest));
  uint64_t size = static_cast<uint64_t>(d.size);
  if (reader->size() != size)
    return Fail(Error::Invalid(fmt::format("source blob is {} bytes, descriptor says {}",
                                           reader->size(), size)));
  BlobStream stream(*reader, d.digest, size);
  // A request carrying the next `n` bytes of the blob (none when 0).
  auto request = [&](std::string method, std::string url, uint64_t n) {
    HttpRequest r;
    r.method = std::move(method);
    r.url = std::move(url);
    if (n > 0) {
      r.body_source = stream.Next(n);
      r.body_size = n;
    }
    r.headers.emplace_back("Content-Type", "application/octet-stream");
    return r;
  };
  uint64_t offset = 0;
  while (size > options_.chunk_size && offset < size) {
    uint64_t n = std::min<uint64_t>(options_.chunk_size, size - offset);
    std::string range = fmt::format("{}-{}", offset, offset + n - 1);
    auto patch = [&] {
      HttpRequest r = request("PATCH", location, n);
      r.headers.emplace_back("Content-Range", range);
      return r;
    };
    KILN_TRY_ASSIGN(HttpResponse p, s.Do(patch, nullptr, Session::Retry::kNo));
    if (p.status != 202)
      return Fail(HttpStatusError(p.status, p.body, ep.name).Wrap("uploading bytes {}", range));
    if (auto loc = p.Header("location")) location = s.ResolveLocation(*loc);
    offset += n;
  }
  uint64_t rest = size - offset;
  auto put = [&] { return request("PUT", WithQuery(location, FormEncode({{"digest", d.digest.str()}})), rest); };
  KILN_TRY_ASSIGN(HttpResponse done, s.Do(put, nullptr, rest > 0 ? Session::Retry::kNo : Session::Retry::kYes));
  if (done.status != 201)
    return Fail(HttpStatusError(done.status, done.body, ep.name).Wrap("committing upload"));
  return Ok();
}

Result<Digest> Client::Push(const image::Reference& ref, const PushImage& img, BlobSource& source) {
  auto run = [&]() -> Result<Digest> {
    KILN_TRY(ResolveEndpoint(ref.domain(), options_.endpoints));
    std::vector<std::string> scopes = {fmt::format("repository:{}:pull,push", ref.path())};
    for (const auto& from : img.mount_from)
      if (from != ref.path()) scopes.push_back(fmt::format("repository:{}:pull", from));
    auto session = SessionFor(ref.domain(), scopes);
    if (!image::IsManifestMediaType(img.media_type))
      return Fail(Error::Unsupported(fmt::format("cannot push media type {}", Quote(img.media_type))));
    KILN_TRY_ASSIGN(image::Manifest m, image::DecodeManifest(img.manifest_bytes));
    std::vector<image::Descriptor> blobs;
    blobs.push_back(m.config);
    for (const auto& l : m.layers) blobs.push_back(l);
    KILN_TRY(ParallelFor(blobs.size(), options_.parallel_blobs, [&](size_t i) -> Result<void> {
      auto r = PushBlob(*session, ref.path(), blobs[i], img.mount_from, source);
      if (!r) return Fail(std::move(r).error().Wrap("pushing blob {}", blobs[i].digest.str()));
      return Ok();
    }));
    Digest digest = Digest::Of(img.manifest_bytes);
    if (ref.digest() && *ref.digest() != digest)
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("manifest has digest {}, reference names {}", digest.str(),
                                    ref.digest()->str())));
    std::string target = ref.tag().empty() ? digest.str() : ref.tag();
    KILN_TRY_ASSIGN(HttpResponse put, session->Do([&] {
      HttpRequest r;
      r.method = "PUT";
      r.url = session->Url(fmt::format("/v2/{}/manifests/{}", ref.path(), target));
      r.body = img.manifest_bytes;
      r.headers.emplace_back("Content-Type", img.media_type);
      return r;
    }));
    if (put.status != 201)
      return Fail(HttpStatusError(put.status, put.body, session->endpoint().name)
                      .Wrap("putting manifest {}", target));
    if (auto dcd = put.Header("docker-content-digest"); dcd && *dcd != digest.str())
      return Fail(Error(ErrorCode::kDigestMismatch,
                        fmt::format("registry stored manifest as {}, expected {}", *dcd, digest.str())));
    return digest;
  };
  auto r = run();
  if (!r) return Fail(std::move(r).error().Wrap("pushing {}", ref.String()));
  return r;
}

}  // namespace kiln::registry
