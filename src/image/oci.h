#pragma once

// OCI image-spec and Docker schema2 data types, and their media types. Plain
// structs; image/codec.h encodes and decodes them as JSON. Field names in
// comments are the JSON keys. Empty strings, empty containers, zero
// durations and false booleans mean "absent" and are omitted when encoding
// (Go's omitempty), except where noted.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"

namespace kiln::image {

// OCI media types.
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";

// Docker schema2 media types.
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

// Annotation keys used by OCI layouts and archives.
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationContainerdImageName = "io.containerd.image.name";
inline constexpr std::string_view kAnnotationCreated = "org.opencontainers.image.created";

// Which family of media types to use when writing manifests.
enum class MediaTypeFamily { kOci, kDocker };

// The compression of a layer, derived from its media type.
enum class Compression { kNone, kGzip, kZstd };

bool IsManifestMediaType(std::string_view media_type);  // OCI or Docker manifest
bool IsIndexMediaType(std::string_view media_type);     // OCI index or Docker list
bool IsConfigMediaType(std::string_view media_type);
bool IsLayerMediaType(std::string_view media_type);
// kNone for unknown types as well as plain tar.
Compression LayerCompression(std::string_view media_type);

// Converts a media type to the equivalent in `family`; types with no
// equivalent (zstd layers have no Docker type, artifacts) are returned
// unchanged.
std::string ConvertMediaType(std::string_view media_type, MediaTypeFamily family);

// platform: {architecture, os, os.version, os.features, variant}.
struct Platform {
  std::string architecture{};
  std::string os{};
  std::string os_version{};                // "os.version"
  std::vector<std::string> os_features{};  // "os.features"
  std::string variant{};

  friend bool operator==(const Platform&, const Platform&) = default;
};

// A content descriptor: {mediaType, digest, size, urls, annotations,
// platform, artifactType}. mediaType, digest and size are always encoded.
struct Descriptor {
  std::string media_type{};
  Digest digest{};
  int64_t size = 0;
  std::vector<std::string> urls{};
  std::map<std::string, std::string> annotations{};
  std::optional<Platform> platform{};
  std::string artifact_type{};

  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

// An image manifest (OCI or Docker schema2): {schemaVersion, mediaType,
// artifactType, config, layers, subject, annotations}. schemaVersion, config
// and layers are always encoded (layers as [] when empty).
struct Manifest {
  int schema_version = 2;
  std::string media_type{};
  std::string artifact_type{};
  Descriptor config{};
  std::vector<Descriptor> layers{};
  std::optional<Descriptor> subject{};
  std::map<std::string, std::string> annotations{};

  friend bool operator==(const Manifest&, const Manifest&) = default;
};

// An OCI image index or Docker manifest list: {schemaVersion, mediaType,
// artifactType, manifests, subject, annotations}. manifests is always
// encoded.
struct Index {
  int schema_version = 2;
  std::string media_type{};
  std::string artifact_type{};
  std::vector<Descriptor> manifests{};
  std::optional<Descriptor> subject{};
  std::map<std::string, std::string> annotations{};

  friend bool operator==(const Index&, const Index&) = default;
};

// config.Healthcheck: {Test, Interval, Timeout, StartPeriod, StartInterval,
// Retries}. Durations are in nanoseconds, as Go's time.Duration.
struct Healthcheck {
  std::vector<std::string> test{};
  int64_t interval = 0;
  int64_t timeout = 0;
  int64_t start_period = 0;
  int64_t start_interval = 0;
  int retries = 0;

  friend bool operator==(const Healthcheck&, const Healthcheck&) = default;
};

// The runtime part of an image config ("config"): {User, ExposedPorts, Env,
// Entrypoint, Cmd, Volumes, WorkingDir, Labels, StopSignal, Healthcheck,
// Shell, OnBuild, ArgsEscaped}. ExposedPorts and Volumes are JSON objects
// whose values are {}; they are kept as sorted key sets.
struct ContainerConfig {
  std::string user{};
  std::vector<std::string> exposed_ports{};  // "80/tcp", sorted, unique
  std::vector<std::string> env{};          // "KEY=value", in order
  std::vector<std::string> entrypoint{};
  std::vector<std::string> cmd{};
  std::vector<std::string> volumes{};  // sorted, unique
  std::string working_dir{};
  std::map<std::string, std::string> labels{};
  std::string stop_signal{};
  std::optional<Healthcheck> healthcheck{};
  std::vector<std::string> shell{};
  std::vector<std::string> on_build{};
  bool args_escaped = false;

  friend bool operator==(const ContainerConfig&, const ContainerConfig&) = default;
};

// rootfs: {type, diff_ids}; always encoded (diff_ids as [] when empty).
struct RootFs {
  std::string type = "layers";
  std::vector<Digest> diff_ids{};

  friend bool operator==(const RootFs&, const RootFs&) = default;
};

// history[i]: {created, created_by, author, comment, empty_layer}.
struct History {
  std::string created{};  // RFC 3339, e.g. "2024-01-02T03:04:05Z"
  std::string created_by{};
  std::string author{};
  std::string comment{};
  bool empty_layer = false;

  friend bool operator==(const History&, const History&) = default;
};

// An image config (OCI config / Docker container.image.v1): {created,
// author, architecture, os, os.version, os.features, variant, config,
// rootfs, history}. architecture, os and rootfs are always encoded; config
// is encoded only when some field of it is set.
struct ImageConfig {
  std::string created{};  // RFC 3339
  std::string author{};
  std::string architecture{};
  std::string os{};
  std::string os_version{};
  std::vector<std::string> os_features{};
  std::string variant{};
  ContainerConfig config{};
  RootFs rootfs{};
  std::vector<History> history{};

  friend bool operator==(const ImageConfig&, const ImageConfig&) = default;
};

// A manifest for an image whose config blob is `config_json` and whose
// layers are `layers` (already-described blobs), with media types of
// `family` for the manifest and config; layer media types are converted
// too. What the solver writes after a build.
Manifest BuildManifest(std::string_view config_json, std::vector<Descriptor> layers,
                       MediaTypeFamily family = MediaTypeFamily::kOci);

// Returns `m` with its own media type and every descriptor's media type
// converted to `family` (ConvertMediaType). The result has a different
// digest; layer and config blobs are unchanged.
Manifest ConvertManifest(const Manifest& m, MediaTypeFamily family);
Index ConvertIndex(const Index& index, MediaTypeFamily family);

}  // namespace kiln::image
