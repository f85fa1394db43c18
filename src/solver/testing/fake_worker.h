#pragma once

// A Worker for solver tests, in the spirit of ninja's FakeCommandRunner:
// snapshots are real directories under a temp dir (so the solver's real
// openat2-based COPY/WORKDIR code runs against them), Run() records every
// request in commands_ran() and applies a scripted effect instead of
// starting a container, and the build cache is an in-memory map.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/fs.h"
#include "solver/worker.h"

namespace kiln::solver::testing {

// One file of a registered image. `content` is the data of a regular file,
// or the link target when `symlink`.
struct FakeFile {
  std::string content;
  mode_t mode = 0644;
  uid_t uid = 0;
  gid_t gid = 0;
  bool symlink = false;
};

// Thread-safe: every public method may be called from several threads.
// Effects run without the worker's lock held, so an effect may block.
class FakeWorker : public Worker {
 public:
  // What a scripted RUN does: gets the request and the host path of the
  // mounted root (write files there, call request.on_output), returns the
  // exit status.
  using Effect = std::function<Result<int>(const RunRequest& request, const std::string& root)>;

  // Creates the worker's temp dir. Aborts the test binary if it cannot.
  FakeWorker();
  ~FakeWorker() override;

  // Registers `ref` (normalized the way the solver normalizes it, so
  // "busybox" serves "docker.io/library/busybox:latest") as a one-layer
  // image with `files` (paths relative to /, parent dirs created 0755).
  // Returns false if the files could not be written.
  bool AddImage(const std::string& ref, const image::ImageConfig& config,
                const std::map<std::string, FakeFile>& files);

  // The first effect whose `argv_substring` occurs in the RUN's argv joined
  // with spaces applies; a RUN with no matching effect exits 0 and changes
  // nothing.
  void OnRun(std::string argv_substring, Effect effect);

  // Serves `url` to FetchUrl: `content`, with `mtime` (seconds) as its
  // Last-Modified when set. Other URLs fail as an HTTP 404 would.
  void AddUrl(std::string url, std::string content, std::optional<int64_t> mtime = std::nullopt);
  // Serves `remote` at `ref` ("" for its HEAD) to ResolveGit as commit
  // `commit`, which FetchGit checks out (by ref or by commit) holding
  // `files`; with keep_git_dir the checkout also has .git/HEAD containing
  // the commit. Other refs fail with kNotFound.
  void AddGitRef(std::string remote, std::string ref, std::string commit,
                 std::map<std::string, FakeFile> files);
  // "url URL", "ls-remote REMOTE#REF" or "git REMOTE#REF" per fetch so
  // far, in call order.
  std::vector<std::string> fetches() const;

  // Every Run() request so far, in call order, without on_output.
  std::vector<RunRequest> commands_ran() const;
  // Joined argv of every Run() (easier to compare exactly).
  std::vector<std::string> argvs_ran() const;
  void ClearCommands();
  int cache_hits() const;
  int mounts() const;

  // Reads the file `path` of the filesystem `layers` give. kNotFound when
  // missing.
  Result<std::string> ReadFileIn(const std::vector<LayerRef>& layers, const std::string& path);
  // "mode uid:gid" of `path` (lstat), e.g. "100644 0:0"; "" when missing.
  std::string StatIn(const std::vector<LayerRef>& layers, const std::string& path);
  // The sorted "path: change" lines a layer was made of, as hashed into its
  // diff_id; empty for unknown layers.
  std::vector<std::string> LayerListing(const LayerRef& layer) const;

  // Worker.
  Result<ImageState> ResolveImage(const std::string& ref, PullPolicy policy, ProgressSink& progress,
                                  int step) override;
  Result<std::unique_ptr<Rootfs>> Mount(const std::vector<LayerRef>& layers) override;
  Result<int> Run(Rootfs& rootfs, const RunRequest& request) override;
  Result<Commit> CommitRootfs(std::unique_ptr<Rootfs> rootfs, const Digest& parent_chain,
                              const CommitOptions& options) override;
  Result<std::optional<Commit>> CacheGet(const std::string& key) override;
  Result<void> CachePut(const std::string& key, const Commit& commit) override;
  Result<std::string> CacheMountDir(const std::string& id) override;
  Result<std::unique_ptr<KeyLock>> LockKey(const std::string& key) override;
  const std::string& scratch_dir() const override { return scratch_; }
  Result<FetchedSource> FetchUrl(const std::string& url, const std::string& filename) override;
  Result<std::string> ResolveGit(const GitSource& source) override;
  Result<FetchedSource> FetchGit(const GitSource& source) override;

 private:
  std::string NewDir(const std::string& kind);

  std::unique_ptr<TempDir> root_;
  std::string scratch_;
  mutable std::mutex mu_;
  int next_dir_ = 0;                                        // GUARDED_BY(mu_)
  std::map<std::string, ImageState> images_;                // GUARDED_BY(mu_)
  std::vector<std::pair<std::string, Effect>> effects_;     // GUARDED_BY(mu_)
  std::vector<RunRequest> commands_ran_;                    // GUARDED_BY(mu_)
  std::map<std::string, Commit> cache_;                     // GUARDED_BY(mu_)
  int cache_hits_ = 0;                                      // GUARDED_BY(mu_)
  int mounts_ = 0;                                          // GUARDED_BY(mu_)
  // snapshot dir -> paths the layer deletes.
  std::map<std::string, std::vector<std::string>> deletions_;  // GUARDED_BY(mu_)
  std::map<std::string, std::vector<std::string>> listings_;   // GUARDED_BY(mu_), by snapshot
  std::map<std::string, std::unique_ptr<std::mutex>> key_locks_;  // GUARDED_BY(mu_)
  struct FakeUrl {
    std::string content;
    std::optional<int64_t> mtime;
  };
  std::map<std::string, FakeUrl> urls_;  // GUARDED_BY(mu_)
  struct FakeGitRef {
    std::string commit;
    std::map<std::string, FakeFile> files;
  };
  std::map<std::string, FakeGitRef> git_refs_;  // GUARDED_BY(mu_), by "remote#ref"
  std::vector<std::string> fetches_;            // GUARDED_BY(mu_)
};

}  // namespace kiln::solver::testing
