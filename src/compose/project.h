#pragma once

// The Compose project model and its loader: `kiln compose config` prints it,
// `kiln compose build` builds its services. Loading follows docker compose v2
// (file discovery, .env, interpolation, merge of several files, extends,
// include, profiles); docs/formats/compose.md lists the rules and where kiln
// differs.

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/diagnostics.h"
#include "base/error.h"
#include "compose/env.h"
#include "compose/node.h"

namespace kiln::compose {

// Ordered KEY=VALUE pairs (build args, labels, environment).
using Pairs = std::vector<std::pair<std::string, std::string>>;

// One entry of `build.secrets` or a service's runtime `secrets`.
struct SecretRef {
  // The top-level secret this refers to.
  std::string source;
  // The id the build sees (`RUN --mount=type=secret,id=<target>`); equals
  // `source` unless the long syntax set `target`.
  std::string target;
  // Accepted but ignored for builds (BuildKit cannot apply them); a warning
  // is reported when set.
  std::optional<std::string> uid, gid;
  std::optional<int> mode;
  SourceLoc loc;
};

// A `service:NAME` value in build.additional_contexts: the build reads the
// image of service NAME, so that service is a dependency (enabled with this
// one and built before it).
struct ServiceContext {
  std::string context;  // the additional context's name
  std::string service;
  SourceLoc loc;        // where the value is written
};

struct Ulimit {
  std::string name;
  long long soft = 0, hard = 0;
  bool single = false;  // written as one number: soft == hard
};

// services.<name>.build, normalised.
struct BuildSpec {
  // Absolute path, or a URL (git/http) kept as written.
  std::string context;
  // Relative to `context` as written; "Dockerfile" when not given and no
  // `dockerfile_inline`.
  std::string dockerfile;
  std::string dockerfile_inline;
  // Keys without a value are resolved from the project environment or
  // dropped when unset.
  Pairs args;
  std::vector<std::string> ssh;  // "default" or "id=path"
  std::vector<SecretRef> secrets;
  std::vector<std::string> cache_from, cache_to;
  // name -> absolute path, URL or docker-image:// / service: reference.
  Pairs additional_contexts;
  // The `service:` entries of additional_contexts, in order. A loaded
  // project has no unknown service and no cycle among them and depends_on.
  std::vector<ServiceContext> service_contexts;
  std::vector<std::string> extra_hosts;  // "host=ip"
  Pairs labels;
  std::string network;
  bool no_cache = false;
  bool pull = false;
  std::string shm_size;
  std::vector<std::string> tags;
  std::string target;
  std::vector<Ulimit> ulimits;
  std::vector<std::string> platforms;
  // Always false/empty in a loaded project: kiln rejects both.
  bool privileged = false;
  std::vector<std::string> entitlements;
  SourceLoc loc;
};

struct Dependency {
  std::string service;
  std::string condition = "service_started";
  bool required = true;
  bool restart = false;
};

struct Service {
  std::string name;
  // `image:` as written, or empty.
  std::string image;
  // What `kiln compose build` tags the build result as: `image`, or
  // "<project>-<service>" like docker compose v2.
  std::string image_name;
  std::optional<BuildSpec> build;
  std::vector<std::string> profiles;
  std::vector<Dependency> depends_on;
  // Runtime secrets (mounted when the container runs, not at build time).
  std::vector<SecretRef> secrets;
  // A key without a value (`- FOO`) takes the project environment's value,
  // or stays nullopt when that is unset too.
  std::vector<std::pair<std::string, std::optional<std::string>>> environment;
  Pairs labels;
  // Every other key, validated by name only, merged and interpolated, kept
  // for `compose config` (ports, volumes, command, ...).
  std::vector<MapEntry> other;
  SourceLoc loc;
};

// A top-level `secrets:` entry.
struct SecretDef {
  std::string name;
  // Absolute path, when the secret comes from a file.
  std::string file;
  // Variable name, when the secret comes from the environment. Its value is
  // Project::environment[environment]: like docker compose v2.24+, variables
  // set only in `.env` count.
  std::string environment;
  bool external = false;
  // `name:` as written (meaningful for external secrets).
  std::string name_override;
  SourceLoc loc;
};

struct Project {
  // Normalised project name ([a-z0-9_-], starts with a letter or digit).
  std::string name;
  // Absolute project directory; relative paths resolve against it.
  std::string working_dir;
  // The compose files that were loaded, absolute, in order.
  std::vector<std::string> files;
  // Active services (after profiles and command-line selection), in the
  // order they were first defined.
  std::vector<Service> services;
  // Names of services left out by profiles or selection.
  std::vector<std::string> disabled_services;
  std::vector<SecretDef> secrets;
  // Top-level networks/volumes/configs as merged, for `compose config`.
  Node networks, volumes, configs;
  // The interpolation environment: .env and --env-file values overridden by
  // the process environment.
  Environment environment;
  // Active profiles.
  std::vector<std::string> profiles;

  const Service* FindService(std::string_view name) const;
  const SecretDef* FindSecret(std::string_view name) const;
};

struct LoadOptions {
  // `-f` files in order; empty means COMPOSE_FILE, then discovery of
  // compose.yaml / compose.yml / docker-compose.yaml / docker-compose.yml in
  // `working_dir` or its parents.
  std::vector<std::string> files;
  // `--project-directory`; default: the directory of the first file.
  std::string project_directory;
  // `-p`; default: COMPOSE_PROJECT_NAME, top-level `name:`, then the
  // project directory's basename.
  std::string project_name;
  // `--env-file`, repeatable; default: "<project_directory>/.env" if present.
  std::vector<std::string> env_files;
  // `--profile`; COMPOSE_PROFILES is read from `environment` as well.
  std::vector<std::string> profiles;
  // The process environment (wins over .env files).
  Environment environment;
  // Services named on the command line; empty means all (subject to
  // profiles). Named services and their dependencies are enabled whatever
  // their profiles.
  std::vector<std::string> services;
  // Where relative paths in `files` and discovery start; default: the
  // process's current directory.
  std::string working_dir;
};

// Loads, interpolates, merges and validates a project. Reads files only;
// uses no global state, so concurrent calls are safe. Warnings (obsolete
// `version`, unset variables, ignored secret uid/gid/mode, both compose.yaml
// and docker-compose.yaml present) go to `diag`.
// Errors: kNotFound (no compose file, missing -f/--env-file/extends/include
// file), kSyntax (YAML, .env, interpolation) and kInvalid (unknown keys,
// wrong types, undefined secrets/services, extends cycles, unsupported
// platforms, privileged builds), located at file:line:col where known and
// naming the key path.
Result<Project> LoadProject(const LoadOptions& options, Diagnostics& diag);

enum class WithDependencies { kNo, kYes };

// The services `kiln compose build [names...]` builds: `names` (every active
// service if empty) and, as docker compose does, the services their builds
// read through `service:` contexts, transitively; with kYes also what they
// depend_on, transitively. Only services with a build section, ordered so
// that every service comes after the services its `service:` contexts
// name (otherwise in definition order). Errors: kNotFound for a name that
// is not an active service, with the nearest name suggested.
Result<std::vector<const Service*>> BuildOrder(const Project& project, const std::vector<std::string>& names,
                                               WithDependencies deps);

// The normalised project as YAML, like `docker compose config`.
std::string RenderConfig(const Project& project);

// Active service names sorted, one per line (`compose config --services`).
std::string RenderServiceNames(const Project& project);

// For each secret id in `mounted_ids` (what the service's Dockerfile mounts
// with RUN --mount=type=secret) that the service lists only under its
// runtime `secrets:` and not under `build.secrets`, reports a warning
// (name "ComposeSecretNotInBuild") saying where to move it. Returns the
// number of warnings.
int CheckBuildSecrets(const Service& service, const std::set<std::string>& mounted_ids,
                      Diagnostics& diag);

// The value of an `environment:` secret: `project.environment` (process
// environment over .env/--env-file) at `secret.environment`. Errors:
// kInvalid if `secret` is not an environment secret, kNotFound (located at
// the secret's definition) if the variable is unset.
Result<std::string> EnvironmentSecretValue(const Project& project, const SecretDef& secret);

// Lowercases and drops characters outside [a-z0-9_-], then leading '_'/'-',
// as docker compose does for project names.
std::string NormalizeProjectName(std::string_view name);

}  // namespace kiln::compose
