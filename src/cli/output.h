#pragma once

// Where a built image goes besides the store: -o/--output, --push, --load.

#include <string>
#include <vector>

#include "base/error.h"
#include "cli/env.h"
#include "cli/progress.h"
#include "worker/image_store.h"

namespace kiln::cli {

struct OutputSpec {
  enum class Type { kImage, kOci, kDocker, kTar, kLocal, kRegistry } type = Type::kImage;
  std::string dest;  // "-" is stdout (tar, oci, docker)
  bool push = false;
};

// Parses buildx's -o forms: "type=oci,dest=FILE", "type=local,dest=DIR",
// "DIR" (local), "-" (tar to stdout), "type=image[,push=true]",
// "type=registry". kUsage names the bad spec.
Result<std::vector<OutputSpec>> ParseOutputs(const std::vector<std::string>& specs);

// Writes `image` per `out`. For a push=true output, returns the digest of
// the manifest pushed (the registry's, which --metadata-file reports).
Result<std::optional<Digest>> WriteOutput(Env& env, const worker::StoredImage& image,
                                          const std::vector<std::string>& tags, const OutputSpec& out);

// Saves images as an archive (kiln save, -o type=oci|docker).
enum class SaveFormat { kOci, kDocker };
Result<void> SaveImages(Env& env, const std::vector<worker::StoredImage>& images,
                        const std::vector<std::vector<std::string>>& names, SaveFormat format, const std::string& path);

// What a push sent: the manifest's digest and size in bytes.
struct PushResult {
  Digest digest;
  size_t size = 0;
};

// Pushes `image` as `name` (a normalized reference), its uncompressed layers
// gzipped (worker::PushRequest), and unless `mode` is kQuiet prints
// "pushed NAME: digest: D size: N" to stderr. The manifest pushed differs
// from the stored one when a layer was compressed; its digest is recorded
// for NAME's repository (Store::SetRepoDigest, `kiln inspect`'s
// RepoDigests). Errors are wrapped "pushing NAME".
Result<PushResult> PushStored(Env& env, const worker::StoredImage& image, const std::string& name, ProgressMode mode);

// Loads `image` into a Docker engine through its API socket ($DOCKER_HOST
// unix:// or /var/run/docker.sock).
Result<void> LoadIntoDocker(Env& env, const worker::StoredImage& image, const std::vector<std::string>& tags);

// Unpacks a tar read from stdin into `dir` (a `-` build context).
Result<void> ExtractTarFromStdin(const std::string& dir);

// Flattens the image's layers into `dir` (which must exist).
Result<void> FlattenImage(Env& env, const worker::StoredImage& image, const std::string& dir);

}  // namespace kiln::cli
