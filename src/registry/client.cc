#include "registry/client.h"

#include <sys/utsname.h>

#include <atomic>
#include <thread>

#include "base/strings.h"
#include "image/codec.h"
#include "registry/challenge.h"
#include "registry/session_internal.h"

namespace kiln::registry {

namespace {

// Bytes of a pulled blob gathered before each BlobWriter::Write.
constexpr size_t kBlobWriteBuffer = 1 << 20;

std::string ManifestAccept() {
  return Join({std::string(image::kOciIndex), std::string(image::kOciManifest),
               std::string(image::kDockerManifestList), std::string(image::kDockerManifest)},
              ", ");
}

Error StatusError(const HttpResponse& r, const Endpoint& ep, std::string_view what) {
  return HttpStatusError(r.status, r.body, ep.name).Wrap("{}", what);
}

bool PlatformMatches(const image::Platform& want, const std::optional<image::Platform>& have) {
  if (!have) return false;
  if (have->os != want.os || have->architecture != want.architecture) return false;
  if (want.variant.empty() || have->variant.empty()) return true;
  return want.variant == have->variant;
}

}  // namespace

image::Platform HostPlatform() {
  image::Platform p;
  p.os = "linux";
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
  p.variant = "v8";
#elif defined(__arm__)
  p.architecture = "arm";
  p.variant = "v7";
#elif defined(__i386__)
  p.architecture = "386";
#elif defined(__s390x__)
  p.architecture = "s390x";
#elif defined(__powerpc64__)
  p.architecture = "ppc64le";
#elif defined(__riscv)
  p.architecture = "riscv64";
#else
  p.architecture = "unknown";
#endif
  return p;
}

std::string PlatformString(const image::Platform& p) {
  std::string s = p.os + "/" + p.architecture;
  if (!p.variant.empty()) s += "/" + p.variant;
  return s;
}

Client::Client(HttpClient& http, const CredentialSource& creds, ClientOptions options)
    : http_(http), creds_(creds), options_(std::move(options)) {
  if (!options_.sleep)
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  if (options_.parallel_blobs < 1) options_.parallel_blobs = 1;
  if (options_.chunk_size < 1) options_.chunk_size = 1;
}

Client::~Client() = default;

std::shared_ptr<Session> Client::SessionFor(const std::string& registry,
                                            std::vector<std::string> scopes) {
  std::string key = registry + " " + Join(scopes, " ");
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(key);
  if (it != sessions_.end()) return it->second;
  auto ep = ResolveEndpoint(registry, options_.endpoints);
  if (!ep) return nullptr;
  auto s = std::make_shared<Session>(http_, creds_, options_, std::move(*ep), std::move(scopes));
  sessions_[key] = s;
  return s;
}

Result<ResolveResult> Client::Resolve(const image::Reference& ref) {
  KILN_TRY(ResolveEndpoint(ref.domain(), options_.endpoints));
  auto session = SessionFor(ref.domain(), {fmt::format("repository:{}:pull", ref.path())});
  std::string target = ref.digest() ? ref.digest()->str() : ref.tag();
  std::string url = session->Url(fmt::format("/v2/{}/manifests/{}", ref.path(), target));
  auto head = session->Do([&] {
    HttpRequest r;
    r.method = "HEAD";
    r.url = url;
    r.headers.emplace_back("Accept", ManifestAccept());
    return r;
  });
  if (!head) return Fail(std::move(head).error().Wrap("resolving {}", ref.String()));
  if (head->status == 200) {
    auto dcd = head->Header("docker-content-digest");
    auto ct = head->Header("content-type");
    auto len = head->Header("content-length");
    if (dcd && ct) {
      KILN_TRY_ASSIGN(Digest d, Digest::Parse(*dcd).map_error([&](Error e) {
        return std::move(e).Wrap("resolving {}", ref.String());
      }));
      return ResolveResult{d, *ct, len ? std::atoll(len->c_str()) : 0};
    }
  } else if (head->status != 405) {
    // HEAD responses have no body; the status says enough.
    return Fail(StatusError(*head, session->endpoint(), fmt::format("resolving {}", ref.String())));
  }
  auto get = session->Do([&] {
    HttpRequest r;
    r.url = url;
    r.headers.emplace_back("Accept", ManifestAccept());
    return r;
  });
  if (!get) return Fail(std::move(get).error().Wrap("resolving {}", ref.String()));
  if (get->status != 200)
    return Fail(StatusError(*get, session->endpoint(), fmt::format("resolving {}", ref.String())));
  ResolveResult rr;
  rr.digest = Digest::Of(get->body);
  rr.size = static_cast<int64_t>(get->body.size());
  auto ct = get->Header("content-type");
  if (ct && *ct != "application/json") {
    rr.media_type = *ct;
  } else {
    KILN_TRY_ASSIGN(rr.media_type, image::DetectManifestMediaType(get->body));
  }
  return rr;
}

namespace {

// GETs a manifest or index by tag or digest and verifies its digest.
struct FetchedManifest {
  std::string bytes;
  std::string media_type;
  Digest digest;
};

Result<FetchedManifest> FetchManifest(Session& s, const std::string& repo, const std::string& target,
                                      const std::optional<Digest>& expected) {
  std::string url = s.Url(fmt::format("/v2/{}/manifests/{}", repo, target));
  auto sent = s.Do([&] {
    HttpRequest req;
    req.url = url;
    req.headers.emplace_back("Accept", ManifestAccept());
    return req;
  });
  if (!sent) return Fail(std::move(sent).error().Wrap("fetching manifest {}", target));
  HttpResponse r = std::move(*sent);
  if (r.status != 200)
    return Fail(HttpStatusError(r.status, r.body, s.endpoint().name).Wrap("fetching manifest {}", target));
  FetchedManifest m;
  m.digest = Digest::Of(r.body);
  if (expected && *expected != m.digest)
    return Fail(Error(ErrorCode::kDigestMismatch,
                      fmt::format("manifest digest mismatch: expected {}, got {}", expected->str(),
                                  m.digest.str())));
  if (auto dcd = r.Header("docker-content-digest"); dcd && !expected && *dcd != m.digest.str())
    return Fail(Error(ErrorCode::kDigestMismatch,
                      fmt::format("manifest digest mismatch: registry says {}, content is {}", *dcd,
                                  m.digest.str())));
  auto ct = r.Header("content-type");
  if (ct && (image::IsManifestMediaType(*ct) || image::IsIndexMediaType(*ct))) {
    m.media_type = *ct;
  } else {
    KILN_TRY_ASSIGN(m.media_type, image::DetectManifestMediaType(r.body));
  }
  m.bytes = std::move(r.body);
  return m;
}

Result<void> StoreBytes(BlobTarget& target, const Digest& d, const std::string& bytes) {
  if (target.Has(d)) return Ok();
  KILN_TRY_ASSIGN(auto w, target.Begin(d, bytes.size()));
  KILN_TRY(w->Write(bytes));
  return w->Commit(d, bytes.size());
}

}  // namespace

Result<void> ParallelFor(size_t n, int threads, const std::function<Result<void>(size_t)>& fn) {
  std::vector<std::optional<Error>> errors(n);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&] {
    for (size_t i; (i = next.fetch_add(1)) < n;) {
      if (failed) break;
      auto r = fn(i);
      if (!r) {
        errors[i] = std::move(r).error();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  size_t count = std::min<size_t>(n, static_cast<size_t>(threads));
  for (size_t t = 1; t < count; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) return Fail(std::move(*e));
  return Ok();
}

Result<void> Client::FetchBlob(Session& s, const std::string& repo, const image::Descriptor& d,
                               BlobTarget& target, std::string* keep) {
  if (!keep && target.Has(d.digest)) return Ok();
  if (d.size < 0) return Fail(Error::Invalid(fmt::format("blob {} has negative size", d.digest.str())));
  uint64_t size = static_cast<uint64_t>(d.size);
  KILN_TRY_ASSIGN(auto writer, target.Begin(d.digest, size));
  // The writer verifies digest and size at Commit (BlobWriter's contract),
  // so the bytes are hashed once, there. libcurl hands over at most 16 KiB
  // per callback; gathering them into large writes saves most write calls.
  std::string pending;
  pending.reserve(kBlobWriteBuffer);
  uint64_t have = 0;         // bytes received so far, across attempts
  uint64_t skip = 0;         // bytes of this response to drop (server ignored Range)
  bool first_chunk = true;   // of the current attempt
  std::string url = s.Url(fmt::format("/v2/{}/blobs/{}", repo, d.digest.str()));
  BodySink sink = [&](const HttpResponse& head, std::string_view chunk) -> Result<void> {
    if (first_chunk) {
      first_chunk = false;
      skip = 0;
      if (have > 0) {
        if (head.status == 206) {
          auto cr = head.Header("content-range");
          std::string want = fmt::format("bytes {}-", have);
          if (!cr || !StartsWith(*cr, want))
            return Fail(Error(ErrorCode::kNetwork,
                              fmt::format("resumed download of {} got Content-Range {}",
                                          d.digest.str(), cr ? Quote(*cr) : "(none)")));
        } else {
          skip = have;
        }
      }
    }
    if (skip > 0) {
      size_t n = std::min<uint64_t>(skip, chunk.size());
      skip -= n;
      chunk.remove_prefix(n);
    }
    if (chunk.empty()) return Ok();
    if (have + chunk.size() > size)
      return Fail(Error::Invalid(fmt::format("blob {} is larger than its descriptor size {}",
                                             d.digest.str(), size)));
    have += chunk.size();
    if (keep) keep->append(chunk);
    pending.append(chunk);
    if (pending.size() < kBlobWriteBuffer) return Ok();
    KILN_TRY(writer->Write(pending));
    pending.clear();
    return Ok();
  };
  // A transfer that ends early (connection reset) returns OK from libcurl
  // only when the server closed cleanly; loop to resume with Range.
  for (int attempt = 1;; ++attempt) {
    auto r = s.Do(
        [&] {
          first_chunk = true;
          HttpRequest req;
          req.url = url;
          if (have > 0) req.headers.emplace_back("Range", fmt::format("bytes={}-", have));
          return req;
        },
        &sink);
    if (!r) return Fail(std::move(r).error().Wrap("fetching blob {}", d.digest.str()));
    if (r->status != 200 && r->status != 206)
      return Fail(HttpStatusError(r->status, r->body, s.endpoint().name)
                      .Wrap("fetching blob {}", d.digest.str()));
    if (have == size) break;
    if (attempt >= options_.max_attempts)
      return Fail(Error(ErrorCode::kNetwork,
                        fmt::format("blob {} truncated: got {} of {} bytes", d.digest.str(), have,
                                    size)));
  }
  if (!pending.empty()) KILN_TRY(writer->Write(pending));
  return writer->Commit(d.digest, size);
}

Result<PullResult> Client::Pull(const image::Reference& ref, const image::Platform& platform,
                                BlobTarget& target) {
  auto run = [&]() -> Result<PullResult> {
    KILN_TRY(ResolveEndpoint(ref.domain(), options_.endpoints));
    auto session = SessionFor(ref.domain(), {fmt::format("repository:{}:pull", ref.path())});
    std::string tag_or_digest = ref.digest() ? ref.digest()->str() : ref.tag();
    KILN_TRY_ASSIGN(FetchedManifest top, FetchManifest(*session, ref.path(), tag_or_digest, ref.digest()));
    PullResult result;
    result.reference_digest = top.digest;
    FetchedManifest chosen = top;
    if (image::IsIndexMediaType(top.media_type)) {
      KILN_TRY_ASSIGN(image::Index index, image::DecodeIndex(top.bytes));
      const image::Descriptor* pick = nullptr;
      std::vector<std::string> available;
      for (const auto& m : index.manifests) {
        if (m.platform) {
          std::string p = PlatformString(*m.platform);
          if (m.platform->os != "unknown" &&
              std::find(available.begin(), available.end(), p) == available.end())
            available.push_back(p);
        }
        if (!pick && PlatformMatches(platform, m.platform) && image::IsManifestMediaType(m.media_type))
          pick = &m;
      }
      if (!pick)
        return Fail(Error::NotFound(fmt::format(
            "no matching manifest for {} in the manifest list entries (available: {})",
            PlatformString(platform), available.empty() ? "none" : Join(available, ", "))));
      KILN_TRY_ASSIGN(chosen, FetchManifest(*session, ref.path(), pick->digest.str(), pick->digest));
    } else if (!image::IsManifestMediaType(top.media_type)) {
      return Fail(Error::Unsupported(fmt::format("unsupported manifest media type {}",
                                                 Quote(top.media_type))));
    }
    KILN_TRY_ASSIGN(result.manifest, image::DecodeManifest(chosen.bytes));
    result.manifest_digest = chosen.digest;

    // Config first (small, and needed decoded) then layers, all in parallel.
    std::vector<image::Descriptor> blobs;
    blobs.push_back(result.manifest.config);
    for (const auto& l : result.manifest.layers) blobs.push_back(l);
    if (result.manifest.config.size > static_cast<int64_t>(image::kMaxConfigBytes))
      return Fail(Error::Invalid(fmt::format("image config is {} bytes (limit {})",
                                             result.manifest.config.size, image::kMaxConfigBytes)));
    std::string config_bytes;
    KILN_TRY(ParallelFor(blobs.size(), options_.parallel_blobs, [&](size_t i) {
      return FetchBlob(*session, ref.path(), blobs[i], target, i == 0 ? &config_bytes : nullptr);
    }));
    KILN_TRY_ASSIGN(result.config, image::DecodeImageConfig(config_bytes));
    // Manifests go last, so a target that has one has everything under it.
    KILN_TRY(StoreBytes(target, chosen.digest, chosen.bytes));
    if (top.digest != chosen.digest) KILN_TRY(StoreBytes(target, top.digest, top.bytes));
    return result;
  };
  auto r = run();
  if (!r) return Fail(std::move(r).error().Wrap("pulling {}", ref.String()));
  return r;
}

Result<void> Client::CheckLogin(std::string_view registry, const Credentials& creds) {
  KILN_TRY_ASSIGN(Endpoint ep, ResolveEndpoint(registry, options_.endpoints));
  StaticCredentials static_creds(creds);
  Session session(http_, static_creds, options_, ep, {});
  auto r = session.Do([&] {
    HttpRequest req;
    req.url = session.Url("/v2/");
    return req;
  });
  if (!r) return Fail(std::move(r).error().Wrap("logging in to {}", registry));
  if (r->status != 200) {
    Error e = HttpStatusError(r->status, r->body, ep.name);
    if (r->status == 401)
      e = Error(ErrorCode::kAuth, "incorrect username or password (401)");
    return Fail(std::move(e).Wrap("logging in to {}", registry));
  }
  return Ok();
}

Result<void> Login(Client& client, CredentialStore& store, std::string_view registry,
                   const Credentials& creds) {
  KILN_TRY(client.CheckLogin(registry, creds));
  return store.Store(registry, creds);
}

}  // namespace kiln::registry
