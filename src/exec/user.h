#pragma once

// USER resolution with Docker's semantics, from the image's own
// /etc/passwd and /etc/group (read inside the rootfs, never the host's).

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace kiln::exec {

struct ExecUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> additional_gids;  // supplementary groups, sorted, without `gid`
  std::string home = "/";
  bool operator==(const ExecUser&) const = default;
};

// The gid of a numeric user that has no passwd entry, when no group is
// given.
enum class UnknownUidGroup {
  kRoot,       // 0, as runc does for a RUN step's process
  kSameAsUid,  // the uid, docker's rule for COPY --chown and WORKDIR
};

// Resolves `user` ("", "name", "uid", "uid:gid", "name:group", "uid:group")
// against the given file contents (either may be empty for a missing file).
// The one user lookup in kiln: RUN steps and the solver's --chown/WORKDIR.
// - A name must exist in passwd; a numeric uid need not (home is then "/",
//   gid per `unknown_uid`).
// - Without a group (or with an empty one, "app:"), gid is the passwd
//   entry's and the supplementary groups are those listing the user's name
//   as a member.
// - With ":group", that group is the only one (no supplementary groups).
// passwd lines need name:x:uid:gid, group lines name:x:gid; others are
// skipped, as libc does.
// Errors (kNotFound, Docker's wording):
//   unable to find user app: no matching entries in passwd file
//   unable to find group staff: no matching entries in group file
// kInvalid for ids out of range.
[[nodiscard]] Result<ExecUser> ResolveUser(std::string_view user, std::string_view passwd,
                                           std::string_view group,
                                           UnknownUidGroup unknown_uid = UnknownUidGroup::kRoot);

// Reads /etc/passwd and /etc/group inside the root at `root_fd` (resolved
// there, never on the host; missing files are empty) and calls ResolveUser.
// Errors also kIo for unreadable files.
[[nodiscard]] Result<ExecUser> ResolveUserInRoot(int root_fd, std::string_view user,
                                                 UnknownUidGroup unknown_uid = UnknownUidGroup::kRoot);

}  // namespace kiln::exec
