#pragma once

// Delivers secrets to one RUN step: a private tmpfs holding one file per
// `--mount=type=secret`, bind-mounted read-only into the container by the
// executor, plus env entries for `env=NAME` mounts. Everything is wiped and
// unmounted when the step ends. See docs/secrets.md.

#include <string>
#include <vector>

#include "base/error.h"
#include "secrets/secret_value.h"
#include "secrets/source.h"

namespace kiln::secrets {

enum class Requirement { kOptional, kRequired };

// What one `RUN --mount=type=secret,...` asks for, as parsed by the
// dockerfile library.
struct SecretMountRequest {
  std::string id = {};      // defaults to basename(target) when empty
  // "" -> /run/secrets/<id> unless `env` is set. A relative target is taken
  // relative to "/": BuildKit resolves it against the step's WORKDIR, so the
  // caller joins WORKDIR first.
  std::string target = {};
  std::string env = {};     // "" -> no env var
  Requirement required = Requirement::kOptional;
  int mode = 0400;
  int uid = 0;
  int gid = 0;
};

// A host file to bind-mount read-only at `target` inside the container.
struct SecretBindMount {
  std::string source;  // on the step's private tmpfs
  std::string target;
};

// An env var for this step only. The value is a copy that is wiped with it.
struct SecretEnv {
  std::string name;
  SecretValue value;
};

// The live tmpfs of one step. Move-only; Cleanup() (or the destructor, on
// error paths) overwrites every file with zeros, unmounts the tmpfs and
// removes its directory. Not thread-safe.
class StepSecrets {
 public:
  StepSecrets() = default;
  StepSecrets(StepSecrets&& o) noexcept;
  StepSecrets& operator=(StepSecrets&&) = delete;
  StepSecrets(const StepSecrets&) = delete;
  ~StepSecrets();

  const std::vector<SecretBindMount>& mounts() const { return mounts_; }
  const std::vector<SecretEnv>& env() const { return env_; }
  // The tmpfs mount point, "" when no file mount was needed.
  const std::string& dir() const { return dir_; }

  // Wipes, unmounts and removes. Idempotent. kIo names what failed; the
  // remaining steps are still attempted.
  Result<void> Cleanup();

 private:
  friend class SecretMounter;
  std::string dir_;
  bool mounted_ = false;
  std::vector<std::string> files_;
  std::vector<SecretBindMount> mounts_;
  std::vector<SecretEnv> env_;
};

// Builds StepSecrets from a step's requests. Needs CAP_SYS_ADMIN (mount).
class SecretMounter {
 public:
  // `scratch_dir` must exist; each step gets a fresh subdirectory in it.
  explicit SecretMounter(std::string scratch_dir) : scratch_dir_(std::move(scratch_dir)) {}

  // Validates every request first (kInvalid for a bad env name, mode, or a
  // duplicate target; kNotFound `secret "npm" is required but was not
  // provided` when a required id is missing from `store`), then mounts.
  // Optional secrets missing from `store` are skipped.
  Result<StepSecrets> Prepare(const std::vector<SecretMountRequest>& requests,
                              const SecretStore& store) const;

 private:
  std::string scratch_dir_;
};

// True for `^[A-Za-z_][A-Za-z0-9_]*$`.
bool IsValidEnvName(std::string_view name);

}  // namespace kiln::secrets
