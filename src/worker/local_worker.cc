#include "worker/local_worker.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include <nlohmann/json.hpp>

#include "archive/compression.h"
#include "archive/layer.h"
#include "base/fs.h"
#include "base/strings.h"
#include "image/codec.h"
#include "sys/mounts.h"
#include "store/blob_sink.h"

namespace kiln::worker {

namespace {

// A writable root: lowerdirs (top first) + a fresh upper dir. The overlay is
// mounted only while kiln itself works in it (COPY, WORKDIR); RUN hands the
// same dirs to the executor, which mounts its own.
class LocalRootfs : public solver::Rootfs {
 public:
  LocalRootfs(std::vector<std::string> lowerdirs, std::string base)
      : lowerdirs_(std::move(lowerdirs)), base_(std::move(base)), upper_(base_ + "/upper"), work_(base_ + "/work"),
        merged_(base_ + "/merged") {}
  ~LocalRootfs() override {
    (void)Unmount();
    (void)RemoveAll(base_);
  }

  Result<void> Init() {
    KILN_TRY(MakeDirs(upper_));
    KILN_TRY(MakeDirs(work_));
    KILN_TRY(MakeDirs(merged_));
    return Ok();
  }

  int fd() const override {
    if (!fd_.valid()) {
      auto r = const_cast<LocalRootfs*>(this)->MountOverlay();
      if (!r) return -1;
    }
    return fd_.get();
  }
  const std::string& path() const override {
    (void)fd();
    return merged_;
  }

  Result<void> MountOverlay() {
    if (fd_.valid()) return Ok();
    // sys's overlay takes any number of layers (no page-sized option string).
    // Volatile: unmounting a synced overlay syncs the whole upper
    // filesystem, and the store syncs what it commits anyway.
    KILN_TRY(sys::MountOverlay(lowerdirs_, upper_, work_, merged_, sys::OverlaySync::kVolatile));
    KILN_TRY_ASSIGN(fd_, OpenFile(merged_, O_RDONLY | O_DIRECTORY));
    return Ok();
  }

  Result<void> Unmount() {
    if (!fd_.valid()) return Ok();
    fd_.Reset();
    // A child another thread is spawning holds a copy of fd_ until its
    // exec; sys waits for it, so the mount is really gone (the upper dir
    // settled) before a commit reads it.
    KILN_TRY(sys::Unmount(merged_, sys::UnmountMode::kRetryThenDetach));
    // The next mount of these dirs (RUN's, or this one's again) refuses a
    // work dir a volatile mount has marked.
    return sys::RemoveVolatileMarker(work_);
  }

  Result<std::string> UpperDir() override {
    KILN_TRY(Unmount());
    return upper_;
  }

  const std::vector<std::string>& lowerdirs() const { return lowerdirs_; }
  const std::string& upper() const { return upper_; }
  const std::string& work() const { return work_; }

 private:
  std::vector<std::string> lowerdirs_;
  std::string base_, upper_, work_, merged_;
  mutable Fd fd_;
};

class StoreKeyLock : public solver::Worker::KeyLock {
 public:
  explicit StoreKeyLock(store::FileLock lock) : lock_(std::move(lock)) {}

 private:
  store::FileLock lock_;
};

Result<bool> DirIsEmpty(const std::string& dir) {
  KILN_TRY_ASSIGN(Fd fd, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  KILN_TRY_ASSIGN(auto names, ListDirectory(fd.get(), dir));
  return names.empty();
}

// solver::FileDigestCache over the store's hash cache.
class StoreDigestCache : public solver::FileDigestCache {
 public:
  explicit StoreDigestCache(store::HashCache& cache) : cache_(cache) {}
  int64_t Now() override { return cache_.Now(); }
  std::optional<Digest> Find(const struct stat& tree, const struct stat& file) override {
    return cache_.Find(store::FileStamp::Of(tree), store::FileStamp::Of(file));
  }
  void Add(const struct stat& tree, const struct stat& file, const Digest& digest, int64_t stat_time_ns) override {
    cache_.Add(store::FileStamp::Of(tree), store::FileStamp::Of(file), digest, stat_time_ns);
  }

 private:
  store::HashCache& cache_;
};

std::string CacheMountId(const std::string& id) {
  bool plain = !id.empty() && id != "." && id != "..";
  for (char c : id) plain &= std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  return plain ? id : Digest::Of(id).hex();
}

}  // namespace

LocalWorker::LocalWorker(ImageStore& images, exec::Executor& executor, registry::Client* registry,
                         LocalWorkerOptions options)
    : images_(images), executor_(executor), registry_(registry), options_(std::move(options)),
      digest_cache_(std::make_unique<StoreDigestCache>(images.store().hash_cache())) {}

Result<std::unique_ptr<LocalWorker>> LocalWorker::Create(ImageStore& images, exec::Executor& executor,
                                                         registry::Client* registry, LocalWorkerOptions options) {
  std::unique_ptr<LocalWorker> w(new LocalWorker(images, executor, registry, std::move(options)));
  w->scratch_dir_ = JoinPath(w->options_.scratch_root, "build-" + RandomHex(8));
  KILN_TRY(MakeDirs(w->scratch_dir_, 0700));
  w->empty_dir_ = w->scratch_dir_ + "/empty";
  KILN_TRY(MakeDirs(w->empty_dir_, 0755));
  return w;
}

LocalWorker::~LocalWorker() {
  // What this build learnt is kept even if the store stays open.
  (void)images_.store().hash_cache().Flush();
  (void)RemoveAll(scratch_dir_);
}

Result<StoredImage> PullImage(ImageStore& images, registry::Client& client, const image::Reference& ref) {
  auto target = images.NewBlobTarget();
  KILN_TRY_ASSIGN(registry::PullResult pulled, client.Pull(ref, registry::HostPlatform(), *target));
  KILN_TRY_ASSIGN(std::string manifest_json, images.store().blobs().Read(pulled.manifest_digest));
  return images.Register(manifest_json, {ref.String()});
}

Result<solver::ImageState> LocalWorker::ResolveImage(const std::string& ref_text, solver::PullPolicy policy,
                                                     solver::ProgressSink& progress, int step) {
  KILN_TRY_ASSIGN(image::Reference ref, image::Reference::Parse(ref_text));
  if (policy == solver::PullPolicy::kIfMissing) {
    auto local = images_.Find(ref.String());
    if (local) return images_.Materialize(*local);
    if (local.error().code() != ErrorCode::kNotFound) return Fail(std::move(local).error());
  }
  if (!registry_)
    return Fail(Error::NotFound(fmt::format("image {} not found in the store", Quote(ref.String())))
                    .WithHint("load it with 'kiln load' or 'kiln pull' it first"));
  solver::ProgressEvent e;
  e.kind = solver::ProgressEvent::Kind::kLog;
  e.step = step;
  e.data = fmt::format("resolve {}", ref.String());
  progress.Event(e);
  auto pulled = PullImage(images_, *registry_, ref);
  if (!pulled) {
    // A pull that fails (offline, say) still succeeds when the store has
    // the image, as docker build does with --pull.
    if (policy == solver::PullPolicy::kAlways)
      if (auto local = images_.Find(ref.String())) return images_.Materialize(*local);
    return Fail(std::move(pulled).error());  // the client names the reference
  }
  return images_.Materialize(*pulled);
}

Result<std::unique_ptr<solver::Rootfs>> LocalWorker::Mount(const std::vector<solver::LayerRef>& layers) {
  std::vector<std::string> lower;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) lower.push_back(it->snapshot);
  if (lower.empty()) lower.push_back(empty_dir_);
  KILN_TRY_ASSIGN(std::string base, images_.store().CreateWorkDir());
  auto rootfs = std::make_unique<LocalRootfs>(std::move(lower), base);
  KILN_TRY(rootfs->Init());
  return std::unique_ptr<solver::Rootfs>(std::move(rootfs));
}

Result<int> LocalWorker::Run(solver::Rootfs& rootfs_in, const solver::RunRequest& req) {
  auto& rootfs = static_cast<LocalRootfs&>(rootfs_in);
  KILN_TRY(rootfs.Unmount());
  exec::RunSpec spec;
  spec.lowerdirs = rootfs.lowerdirs();
  spec.upperdir = rootfs.upper();
  spec.workdir = rootfs.work();
  spec.argv = req.argv;
  spec.env = req.env;
  spec.cwd = req.cwd;
  spec.user = req.user;
  spec.network = req.network == solver::RunRequest::Network::kNone   ? exec::Network::kNone
                 : req.network == solver::RunRequest::Network::kHost ? exec::Network::kHost
                                                                      : exec::Network::kDefault;
  spec.extra_hosts = req.extra_hosts;
  if (req.shm_size) spec.shm_size = req.shm_size;
  spec.ulimits = req.ulimits;
  for (const auto& b : req.binds) {
    exec::MountSpec m;
    m.kind = exec::MountSpec::Kind::kBind;
    m.source = b.source;
    m.target = b.target;
    m.readonly = b.readonly;
    spec.mounts.push_back(std::move(m));
  }
  for (const auto& t : req.tmpfs) {
    exec::MountSpec m;
    m.kind = exec::MountSpec::Kind::kTmpfs;
    m.target = t.target;
    m.readonly = false;
    if (t.size > 0) m.options.push_back(fmt::format("size={}", t.size));
    spec.mounts.push_back(std::move(m));
  }
  spec.on_output = req.on_output;
  auto result = executor_.Run(spec);
  WipeStrings(spec.env);  // may hold an env= secret
  if (!result) return Fail(std::move(result).error());
  return result->exit_code;
}

Result<solver::Commit> LocalWorker::CommitRootfs(std::unique_ptr<solver::Rootfs> rootfs_in, const Digest& parent_chain,
                                                 const solver::CommitOptions& options) {
  auto& rootfs = static_cast<LocalRootfs&>(*rootfs_in);
  KILN_TRY(rootfs.Unmount());
  KILN_TRY_ASSIGN(bool empty, DirIsEmpty(rootfs.upper()));
  if (empty) return solver::Commit{};
  if (options.inspect) KILN_TRY(options.inspect(rootfs.upper()));

  store::Store& st = images_.store();
  archive::LayerWriteOptions wopt;
  KILN_TRY_ASSIGN(wopt.compression.compression, archive::ParseCompression(options_.compression));
  bool plain = wopt.compression.compression == archive::Compression::kNone;
  auto write_blob = [&]() -> Result<archive::LayerInfo> {
    KILN_TRY_ASSIGN(store::BlobWriter writer, st.blobs().Create());
    store::BlobSink sink(writer);
    KILN_TRY_ASSIGN(archive::LayerInfo written, archive::WriteLayerFromUpperDir(rootfs.upper(), sink, wopt));
    KILN_TRY(writer.Commit(written.digest, written.size));
    return written;
  };
  // A plain layer's blob is its snapshot's tar (docs/formats/store.md,
  // "Layer blobs from snapshots"): this pass only hashes it, and the file
  // is written when the image first leaves the store (Store::OpenBlob).
  archive::LayerInfo info;
  if (plain) {
    // CommitSnapshot syncs the filesystem before it publishes the snapshot;
    // flushing now, on another thread, overlaps that disk work with this
    // walk, so the sync there finds little left to do.
    struct Flush {
      std::thread thread;
      ~Flush() { thread.join(); }
    } flush{std::thread([dir = rootfs.upper()] {
      int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (fd >= 0) {
        ::syncfs(fd);
        ::close(fd);
      }
    })};
    archive::NullSink hash_only;
    KILN_TRY_ASSIGN(info, archive::WriteLayerFromUpperDir(rootfs.upper(), hash_only, wopt));
  } else {
    KILN_TRY_ASSIGN(info, write_blob());
  }

  std::optional<Digest> parent;
  if (!parent_chain.empty()) parent = parent_chain;
  Digest chain = ChainId(parent, info.diff_id);
  solver::LayerRef layer;
  layer.diff_id = info.diff_id;
  layer.chain_id = chain;
  layer.blob = info.digest;
  layer.blob_size = info.size;
  layer.media_type = wopt.compression.compression == archive::Compression::kZstd ? std::string(image::kOciLayerZstd)
                     : plain ? std::string(image::kOciLayer)
                             : std::string(image::kOciLayerGzip);
  store::LayerRecord record{layer.blob, info.diff_id, layer.media_type, info.size};

  // The upper dir already has overlay's whiteout format: it becomes the
  // layer's snapshot as it is, by rename.
  KILN_TRY_ASSIGN(store::FileLock lock, st.LockKey("snapshot/" + chain.hex()));
  if (auto existing = st.GetSnapshot(chain)) {
    layer.snapshot = existing->path;
    // A snapshot another build (or a pulled layer) made: this upper dir is
    // known to give the blob, that directory is not, so a blob it cannot
    // produce yet is written from here.
    if (plain && !st.HasBlob(layer.blob)) KILN_TRY(write_blob());
  } else {
    KILN_TRY_ASSIGN(store::SnapshotStaging staging, st.PrepareSnapshot(chain, parent));
    if (::rmdir(staging.path.c_str()) != 0 || ::rename(rootfs.upper().c_str(), staging.path.c_str()) != 0) {
      int err = errno;
      (void)MakeDirs(staging.path);
      (void)st.AbortSnapshot(staging);
      return Fail(Error::Io(staging.path, err, "rename layer into"));
    }
    staging.size = info.file_bytes;  // the layer walk just summed them
    KILN_TRY_ASSIGN(store::SnapshotInfo snap, st.CommitSnapshot(staging));
    layer.snapshot = snap.path;
    // Only now: the record may name only a ready snapshot.
    if (plain) record.snapshot = chain;
  }
  KILN_TRY(st.PutLayer(record));
  return solver::Commit{layer, static_cast<int64_t>(info.uncompressed_size)};
}

Result<std::optional<solver::Commit>> LocalWorker::CacheGet(const std::string& key) {
  store::Store& st = images_.store();
  auto entry = st.GetCacheEntry(key);
  if (!entry) {
    if (entry.error().code() == ErrorCode::kNotFound) return std::optional<solver::Commit>();
    return Fail(std::move(entry).error());
  }
  nlohmann::json j = nlohmann::json::parse(entry->result, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::optional<solver::Commit>();
  solver::Commit commit;
  commit.size = j.value("size", int64_t{0});
  if (j.value("empty", false)) {
    RecordUsedKey(key);
    return std::optional<solver::Commit>(commit);
  }
  auto diff_id = Digest::Parse(j.value("diff_id", ""));
  auto chain = Digest::Parse(j.value("chain_id", ""));
  auto blob = Digest::Parse(j.value("blob", ""));
  if (!diff_id || !chain || !blob || !st.HasBlob(*blob)) return std::optional<solver::Commit>();
  auto snap = st.GetSnapshot(*chain);
  if (!snap) return std::optional<solver::Commit>();
  solver::LayerRef layer;
  layer.diff_id = *diff_id;
  layer.chain_id = *chain;
  layer.blob = *blob;
  layer.media_type = j.value("media_type", std::string(image::kOciLayerGzip));
  layer.blob_size = j.value("blob_size", int64_t{0});
  layer.snapshot = snap->path;
  commit.layer = layer;
  RecordUsedKey(key);
  return std::optional<solver::Commit>(commit);
}

Result<void> LocalWorker::CachePut(const std::string& key, const solver::Commit& commit) {
  nlohmann::json j;
  j["size"] = commit.size;
  std::vector<store::Ref> refs;
  if (!commit.layer) {
    j["empty"] = true;
  } else {
    const auto& l = *commit.layer;
    j["diff_id"] = l.diff_id.str();
    j["chain_id"] = l.chain_id.str();
    j["blob"] = l.blob.str();
    j["media_type"] = l.media_type;
    j["blob_size"] = l.blob_size;
    refs.push_back({store::RefKind::kBlob, l.blob});
    refs.push_back({store::RefKind::kSnapshot, l.chain_id});
  }
  KILN_TRY(images_.store().PutCacheEntry(key, j.dump(), refs));
  RecordUsedKey(key);
  return Ok();
}

void LocalWorker::RecordUsedKey(const std::string& key) {
  std::lock_guard<std::mutex> lock(keys_mu_);
  used_keys_.push_back(key);
}

std::vector<std::string> LocalWorker::used_cache_keys() const {
  std::lock_guard<std::mutex> lock(keys_mu_);
  return used_keys_;
}

Result<std::string> LocalWorker::CacheMountDir(const std::string& id) {
  return images_.store().CacheMountDir(CacheMountId(id));
}

Result<std::unique_ptr<solver::Worker::KeyLock>> LocalWorker::LockKey(const std::string& key) {
  KILN_TRY_ASSIGN(store::FileLock lock, images_.store().LockKey("cache/" + key));
  return std::unique_ptr<KeyLock>(std::make_unique<StoreKeyLock>(std::move(lock)));
}

}  // namespace kiln::worker
