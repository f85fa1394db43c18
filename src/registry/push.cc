// Client::Push: blobs (HEAD, mount, monolithic or chunked upload), then the
// manifest.

#include <algorithm>

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

Result<std::string> ReadUpTo(BlobReader& reader, uint64_t n) {
  std::string out;
  while (out.size() < n) {
    KILN_TRY_ASSIGN(std::string part, reader.Read(std::min<uint64_t>(n - out.size(), 4 << 20)));
    if (part.empty()) break;
    out += part;
  }
  return out;
}

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

  // 3. Send the bytes: one PUT for small blobs, PATCH chunks for large ones.
  KILN_TRY_ASSIGN(auto reader, source.Open(d.digest));
  uint64_t size = static_cast<uint64_t>(d.size);
  if (reader->size() != size)
    return Fail(Error::Invalid(fmt::format("source blob is {} bytes, descriptor says {}",
                                           reader->size(), size)));
  std::string final_body;
  if (size <= options_.chunk_size) {
    KILN_TRY_ASSIGN(final_body, ReadUpTo(*reader, size));
  } else {
    for (uint64_t offset = 0; offset < size;) {
      KILN_TRY_ASSIGN(std::string chunk, ReadUpTo(*reader, options_.chunk_size));
      if (chunk.empty()) return Fail(Error::Invalid("source blob ended early"));
      std::string range = fmt::format("{}-{}", offset, offset + chunk.size() - 1);
      KILN_TRY_ASSIGN(HttpResponse p, s.Do([&] {
        HttpRequest r;
        r.method = "PATCH";
        r.url = location;
        r.body = chunk;
        r.headers.emplace_back("Content-Type", "application/octet-stream");
        r.headers.emplace_back("Content-Range", range);
        return r;
      }));
      if (p.status != 202)
        return Fail(HttpStatusError(p.status, p.body, ep.name).Wrap("uploading bytes {}", range));
      if (auto loc = p.Header("location")) location = s.ResolveLocation(*loc);
      offset += chunk.size();
    }
  }
  KILN_TRY_ASSIGN(HttpResponse put, s.Do([&] {
    HttpRequest r;
    r.method = "PUT";
    r.url = WithQuery(location, FormEncode({{"digest", digest}}));
    r.body = final_body;
    r.headers.emplace_back("Content-Type", "application/octet-stream");
    return r;
  }));
  if (put.status != 201)
    return Fail(HttpStatusError(put.status, put.body, ep.name).Wrap("committing upload"));
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
