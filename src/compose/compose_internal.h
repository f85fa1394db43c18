#pragma once

// Helpers shared by the files of src/compose/; never included from outside.

#include <string>
#include <string_view>
#include <vector>

#include "base/diagnostics.h"
#include "base/error.h"
#include "compose/env.h"
#include "compose/node.h"

namespace kiln::compose::internal {

// A dotted key path for messages: services.web.build.secrets[0].
std::string PathJoin(std::string_view parent, std::string_view key);
std::string PathIndex(std::string_view parent, size_t index);

// Builds a kInvalid error "<path>: <msg>" located at `loc`.
Error InvalidAt(const SourceLoc& loc, std::string_view path, std::string_view msg);

// Expands every scalar value (not keys) in `node` in place. Unset variables
// without defaults warn once per name through `diag`. `path` is the key path
// of `node`.
Result<void> InterpolateTree(Node& node, std::string_view path, const Lookup& lookup,
                             Diagnostics& diag);

// Rewrites one file's list forms into map forms (environment, labels,
// annotations, build.args, build.labels, build.additional_contexts,
// depends_on, sysctls), `build: dir` into `build: {context: dir}`, and
// resolves relative paths (build contexts, additional contexts, env_file,
// bind-mount sources, secret and config files) against `base_dir`. With
// `default_context` set, a build without a context gets `base_dir`.
// Errors: kInvalid for a malformed list entry or wrong shape.
Result<void> NormalizeFile(Node& root, const std::string& base_dir, bool default_context);

// services.*.ports in docker compose's long syntax: one mapping per
// container port (short forms with ranges expand), `mode` and `protocol`
// defaulted, `published` a string. `path` is the key path of `ports`.
// Errors: kInvalid at the entry for a malformed port or an unknown key.
Result<Node> LongSyntaxPorts(const Node& ports, const std::string& path);

// services.*.volumes in docker compose's long syntax: short forms become
// {type: bind|volume, source, target, read_only, bind: {create_host_path:
// true}, volume: {}}, `~` in bind sources expands to $HOME from `env`, keys
// in compose-go's order. Expects relative bind sources already resolved
// (NormalizeFile). Errors: kInvalid at the entry for a malformed volume, an
// unknown key or type.
Result<Node> LongSyntaxVolumes(const Node& volumes, const std::string& path, const Environment& env);

// Merges `over` onto `base` with compose's rules (maps merge, sequences
// append, command/entrypoint/healthcheck.test replaced, ports de-duplicated,
// volumes by target, secrets/configs by source, `!reset` drops, `!override`
// replaces). `path` is the key path with service names replaced by "*".
void MergeInto(Node& base, Node over, const std::string& path);

// " (did you mean \"x\"?)" for the candidate nearest to `word`, or "".
// Looser than kiln::Spellcheck for short words (two edits are allowed, so
// transpositions like "wbe" -> "web" match) and also suggests a candidate
// that `word` is a prefix of ("npm" -> "npm_token").
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// True if `s` looks like a remote build context (git or http URL).
bool IsRemoteContext(std::string_view s);

// Structural equality, ignoring locations.
bool NodeEquals(const Node& a, const Node& b);

}  // namespace kiln::compose::internal
