#pragma once

// The distribution client: resolve, pull and push images, and check
// credentials for `kiln login`. Blobs go to a BlobTarget and come from a
// BlobSource (registry/blob.h); nothing is stored unless its digest and size
// were verified.
//
// Errors name what failed, e.g.
//   manifest unknown (404)
//   while pulling docker.io/library/busybox:latest
// 401/403 are kAuth with a `kiln login` hint, 404 kNotFound, wrong content
// kDigestMismatch, oversize or malformed documents kInvalid, connection
// failures and timeouts kNetwork.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "image/oci.h"
#include "image/reference.h"
#include "registry/blob.h"
#include "registry/credentials.h"
#include "registry/endpoint.h"
#include "registry/http.h"

namespace kiln::registry {

class Session;

struct ClientOptions {
  EndpointOptions endpoints;
  // Attempts per request for kNetwork failures, 408, 429 and 5xx; never for
  // 401/403/404.
  int max_attempts = 4;
  // Backoff doubles from `initial_backoff` up to `max_backoff`; Retry-After
  // (seconds) overrides it, capped at `max_backoff`.
  std::chrono::milliseconds initial_backoff{250};
  std::chrono::milliseconds max_backoff{10000};
  // How to wait between attempts (tests record instead of sleeping).
  std::function<void(std::chrono::milliseconds)> sleep;
  // Blobs transferred at once.
  int parallel_blobs = 4;
  // Push: blobs up to this size go in one PUT; larger ones in PATCH chunks
  // of this size. Bodies stream from the BlobSource either way; a failed
  // upload restarts the blob (up to `max_attempts`).
  uint64_t chunk_size = 1ull << 30;
  std::string user_agent = "kiln/0.1";
};

// The host's platform (linux and the architecture kiln was built for,
// "amd64", "arm64", with variant "v8"/"v7" where docker uses one).
image::Platform HostPlatform();
// "linux/amd64", "linux/arm/v7".
std::string PlatformString(const image::Platform& p);

struct ResolveResult {
  Digest digest;
  std::string media_type;
  int64_t size = 0;
};

struct PullResult {
  // The digest of the pulled reference's manifest (the index's when the
  // reference names an index) and of the selected image manifest.
  Digest reference_digest;
  Digest manifest_digest;
  image::Manifest manifest;
  image::ImageConfig config;
};

// What to push: a manifest whose config and layers are in a BlobSource.
struct PushImage {
  // The exact manifest bytes (pushed as is, so the digest is stable) and its
  // media type (image::kOciManifest or image::kDockerManifest).
  std::string manifest_bytes;
  std::string media_type;
  // Repositories on the same registry known to hold some of the blobs; each
  // missing blob is first tried as a cross-repository mount from these.
  std::vector<std::string> mount_from;
};

// Thread-safe: Pull and Push may run concurrently. `http` and `creds` must
// outlive the client. Bearer tokens are cached per registry and scope.
class Client {
 public:
  Client(HttpClient& http, const CredentialSource& creds, ClientOptions options = {});
  ~Client();

  // The digest, media type and size of the manifest `ref` names (HEAD, then
  // GET when the registry gives no Docker-Content-Digest).
  Result<ResolveResult> Resolve(const image::Reference& ref);

  // Pulls `ref` for `platform`: the manifest (selecting from an index or
  // manifest list; kNotFound lists the available platforms), then config and
  // layers in parallel, skipping blobs `target` has. Manifests, config and
  // layers all land in `target`. A pull by digest verifies the manifest
  // digest.
  Result<PullResult> Pull(const image::Reference& ref, const image::Platform& platform,
                          BlobTarget& target);

  // Pushes the blobs `image` references (HEAD first, then mount or upload)
  // and then the manifest under `ref`'s tag (or digest). Returns the
  // manifest digest.
  Result<Digest> Push(const image::Reference& ref, const PushImage& image, BlobSource& source);

  // Checks `creds` against `registry`'s /v2/ (for `kiln login`): kAuth when
  // rejected.
  Result<void> CheckLogin(std::string_view registry, const Credentials& creds);

 private:
  std::shared_ptr<Session> SessionFor(const std::string& registry,
                                      std::vector<std::string> scopes);
  Result<void> FetchBlob(Session& s, const std::string& repo, const image::Descriptor& d,
                         BlobTarget& target, std::string* keep);
  Result<void> PushBlob(Session& s, const std::string& repo, const image::Descriptor& d,
                        const std::vector<std::string>& mount_from, BlobSource& source);
  // One upload of `d` into `location` (a new upload when empty).
  Result<void> UploadBlob(Session& s, const std::string& repo, const image::Descriptor& d,
                          BlobSource& source, std::string location);

  HttpClient& http_;
  const CredentialSource& creds_;
  ClientOptions options_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Session>> sessions_;  // GUARDED_BY(mu_)
};

// `kiln login`: checks `creds` against `registry` and stores them in
// `store`. `kiln logout` is CredentialStore::Erase.
Result<void> Login(Client& client, CredentialStore& store, std::string_view registry,
                   const Credentials& creds);

}  // namespace kiln::registry
