#pragma once

// `docker image inspect` and `docker history` output for images, given what
// the store knows (names, config, layer sizes). Pure functions of their
// inputs: the current time is passed in, so output is testable exactly.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/digest.h"
#include "base/error.h"
#include "image/oci.h"
#include "image/reference.h"

namespace kiln::image {

// What `kiln image inspect` shows for one image.
struct InspectInput {
  Digest id;  // the config digest
  ImageConfig config{};
  std::vector<Reference> repo_tags{};     // shown familiar: "busybox:latest"
  std::vector<Reference> repo_digests{};  // name@digest: "busybox@sha256:..."
  int64_t size = 0;                       // sum of uncompressed layer sizes
  std::string last_tag_time = "0001-01-01T00:00:00Z";
};

// A JSON array with one object per image, shaped and ordered like docker's
// (Id, RepoTags, RepoDigests, Parent, Comment, Created, DockerVersion,
// Author, Config, Architecture, Variant, Os, OsVersion, Size, RootFS,
// Metadata), indented with 4 spaces, with a trailing newline. Config
// carries docker's full key set with null for empty lists and maps.
std::string RenderInspect(const std::vector<InspectInput>& images);

// Parses RFC 3339 ("2024-01-02T03:04:05.5+02:00") into Unix seconds.
// Returns kInvalid for anything else.
[[nodiscard]] Result<int64_t> ParseRfc3339(std::string_view text);

// docker's units.HumanDuration: "Less than a second", "About a minute",
// "3 hours", "2 weeks", "4 years".
std::string HumanDuration(int64_t seconds);
// docker's units.HumanSize (decimal, 3 significant digits): "0B", "999B",
// "1.23kB", "4.26MB".
std::string HumanSize(int64_t bytes);

enum class Truncate { kYes, kNo };
enum class Human { kYes, kNo };

struct HistoryOptions {
  Truncate truncate = Truncate::kYes;  // --no-trunc sets kNo
  Human human = Human::kYes;           // --human=false sets kNo
  int64_t now = 0;                     // Unix seconds, for "2 hours ago"
};

// One row of `docker history`, already formatted.
struct HistoryRow {
  std::string image;       // short ID on the newest row, else "<missing>"
  std::string created;     // "2 hours ago", RFC 3339, or "N/A"
  std::string created_by;  // tabs as spaces; cut to 45 columns with "…"
  std::string size;        // "1.23MB" / "0B", or bytes when not human
  std::string comment;
};

// The rows for an image, newest first. `layer_sizes[i]` is the size of the
// i-th layer (rootfs.diff_ids order); history entries that are not
// empty_layer consume layer sizes in order. Returns kInvalid if the
// history names more layers than `layer_sizes` has.
[[nodiscard]] Result<std::vector<HistoryRow>> HistoryRows(const Digest& id, const ImageConfig& config,
                                                          const std::vector<int64_t>& layer_sizes,
                                                          const HistoryOptions& options);

// The table docker prints: header IMAGE, CREATED, CREATED BY, SIZE, COMMENT;
// columns padded to the widest cell plus 3 (at least 10), as Go's
// tabwriter(minwidth 10, padding 3) does; each line ends in '\n'.
std::string RenderHistoryTable(const std::vector<HistoryRow>& rows);

}  // namespace kiln::image
