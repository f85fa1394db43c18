#pragma once

// The Worker is everything the solver does to the outside world: resolving
// base images, mounting writable root filesystems, running processes in
// them, committing their changes as layers, and the build cache. The solver
// (builder.h) owns the Dockerfile semantics and the cache keys; a Worker
// owns the bytes. cli/ wires the real LocalWorker (local_worker.h); tests
// can use a fake.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "base/fs.h"
#include "base/strings.h"
#include "image/oci.h"
#include "solver/progress.h"

namespace kiln::solver {

class FileDigestCache;  // solver/copy.h

// One layer of an image known to the store.
struct LayerRef {
  Digest diff_id;
  Digest chain_id;
  // The layer's blob as stored (compressed). Empty for layers whose blob has
  // not been written yet.
  Digest blob;
  std::string media_type;
  int64_t blob_size = 0;
  // The unpacked layer directory (an overlay lowerdir).
  std::string snapshot;
};

// An image while it is being built: its config and its layers, bottom first.
struct ImageState {
  image::ImageConfig config;
  std::vector<LayerRef> layers;
  // The manifest digest the base came from, for cache keys; empty for
  // scratch and for stage results.
  Digest source;
};

enum class PullPolicy { kIfMissing, kAlways };

// A writable root filesystem (an overlay of `layers` plus a fresh upper
// dir) mounted for one step. Destroying it unmounts and discards it.
class Rootfs {
 public:
  virtual ~Rootfs() = default;
  // A directory fd of the merged root, for in-root file operations.
  virtual int fd() const = 0;
  virtual const std::string& path() const = 0;
  // The directory that collects this step's changes (the overlay's upper
  // dir), with the merged view unmounted until fd() or path() is used again.
  // Only for writing paths that exist in no lower layer: overlayfs adds
  // nothing there but cost, and outside it files can be copied in the
  // kernel or hard-linked from an earlier snapshot. kUnsupported when the
  // rootfs has no such directory.
  virtual Result<std::string> UpperDir() {
    return Fail(Error::Unsupported("this rootfs has no separate upper dir"));
  }
};

struct BindMount {
  std::string source;  // host path
  std::string target;  // in the container
  bool readonly = true;
};

struct TmpfsMount {
  std::string target;
  int64_t size = 0;  // 0: default
};

struct RunRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::string user;
  enum class Network { kDefault, kNone, kHost } network = Network::kDefault;
  bool insecure = false;
  std::vector<std::string> extra_hosts;
  uint64_t shm_size = 0;
  std::vector<std::string> ulimits;
  std::vector<BindMount> binds;
  std::vector<TmpfsMount> tmpfs;
  // Live output chunks; already masked by the caller's wrapper.
  std::function<void(std::string_view chunk, int stream)> on_output;
};

// What a committed step produced: a layer, or nothing when the step changed
// no file.
struct Commit {
  std::optional<LayerRef> layer;
  int64_t size = 0;  // uncompressed bytes, for history
};

struct CommitOptions {
  // Called with the upper dir before the layer is written; returning an
  // error aborts the commit (the secret leak guard).
  std::function<Result<void>(const std::string& upper_dir)> inspect;
};

// A remote ADD source the worker fetched into a fresh directory, which is
// removed when this is destroyed.
struct FetchedSource {
  std::unique_ptr<TempDir> dir;
  // ADD <url>: the sha256 of the downloaded file's content.
  Digest digest;
  // ADD <git>: the full id of the commit checked out.
  std::string commit;
};

// `url` with the password of its user info replaced by "xxxxx", for
// messages ("https://u:xxxxx@host/x"), as BuildKit redacts remote sources.
inline std::string RedactUrl(std::string_view url) { return RedactUrlPasswords(url); }

// A git repository to check out for `ADD <git url>` (BuildKit's git source).
struct GitSource {
  std::string remote;  // the URL without its "#ref:subdir" fragment
  std::string ref;     // a branch, tag or commit; "" for the remote's HEAD
  bool keep_git_dir = false;
};

// Thread-safe: the solver calls it from one thread per stage.
class Worker {
 public:
  virtual ~Worker() = default;

  // Finds `ref` (a normalized reference) in the store, pulling it when
  // missing or when `policy` is kAlways. Snapshots of every layer exist
  // when this returns. kNotFound names the reference.
  virtual Result<ImageState> ResolveImage(const std::string& ref, PullPolicy policy, ProgressSink& progress,
                                          int step) = 0;

  // Mounts a writable root over `layers`.
  virtual Result<std::unique_ptr<Rootfs>> Mount(const std::vector<LayerRef>& layers) = 0;

  // Runs a process in `rootfs`. Returns its exit status (128+N for signal
  // N); kInterrupted when the build is interrupted.
  virtual Result<int> Run(Rootfs& rootfs, const RunRequest& request) = 0;

  // Turns the changes made in `rootfs` into a layer on top of `parent`
  // (the chain id of the layer below, empty for none) and unmounts it.
  virtual Result<Commit> CommitRootfs(std::unique_ptr<Rootfs> rootfs, const Digest& parent_chain,
                                      const CommitOptions& options) = 0;

  // The build cache: `key` (a hex digest) to a stored step result. Get
  // returns nullopt on a miss or when the result's snapshot is gone.
  virtual Result<std::optional<Commit>> CacheGet(const std::string& key) = 0;
  virtual Result<void> CachePut(const std::string& key, const Commit& commit) = 0;

  // A host directory that persists across builds for `RUN
  // --mount=type=cache,id=ID`.
  virtual Result<std::string> CacheMountDir(const std::string& id) = 0;

  // Serialises work on one cache key across threads and processes, so two
  // builds reaching the same step run it once. Released on destruction.
  class KeyLock {
   public:
    virtual ~KeyLock() = default;
  };
  virtual Result<std::unique_ptr<KeyLock>> LockKey(const std::string& key) = 0;

  // A scratch directory for the life of the build (secrets' tmpfs, bind
  // mount sources).
  virtual const std::string& scratch_dir() const = 0;

  // Content digests of context files remembered across builds (see
  // HashPath), or null to read every file.
  virtual FileDigestCache* digest_cache() { return nullptr; }

  // Downloads `url` (http or https) for `ADD <url>` into a fresh directory
  // as the file `filename`, mode 0600, its mtime from Last-Modified when the
  // server sends one. kNotFound for a 404 and kNetwork for other failures,
  // both naming the URL. The default is kUnsupported.
  virtual Result<FetchedSource> FetchUrl(const std::string& url, const std::string& filename) {
    return Fail(Error::Unsupported(fmt::format("this worker cannot download {}", RedactUrl(url))));
  }

  // The commit `source.ref` ("" for HEAD) names on the remote now (git
  // ls-remote), so the cache key is known without a clone; a full commit id
  // is returned as is. kNotFound when the remote has no such ref, kAuth when
  // it refuses the credentials, kNetwork when it cannot be read otherwise.
  // The default is kUnsupported.
  virtual Result<std::string> ResolveGit(const GitSource& source) {
    return Fail(Error::Unsupported(fmt::format("this worker cannot read {}", RedactUrl(source.remote))));
  }

  // Checks out `source` at `source.ref` (shallow) into a fresh directory,
  // without .git unless `keep_git_dir`. kNotFound when the ref does not
  // exist, kAuth when the remote refuses the credentials, kNetwork when it
  // cannot be read otherwise. The default is kUnsupported.
  virtual Result<FetchedSource> FetchGit(const GitSource& source) {
    return Fail(Error::Unsupported(fmt::format("this worker cannot clone {}", RedactUrl(source.remote))));
  }
};

}  // namespace kiln::solver
