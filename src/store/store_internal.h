#pragma once

// Helpers shared by the store's .cc files. Private to src/store.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "store/store.h"

namespace kiln::store::internal {

// Current schema version (PRAGMA user_version); see docs/formats/store.md.
inline constexpr int kSchemaVersion = 3;

// Sum of st_size over regular files under `path` (not following symlinks).
int64_t TreeSize(const std::string& path);

std::string_view RefKindName(RefKind kind);
Result<RefKind> ParseRefKind(std::string_view name);

// Inserts `refs` for (owner_kind, owner) after deleting the old ones.
Result<void> ReplaceRefs(Db& db, std::string_view owner_kind, std::string_view owner,
                         const std::vector<Ref>& refs);
Result<void> DeleteRefs(Db& db, std::string_view owner_kind, std::string_view owner);

}  // namespace kiln::store::internal
