#pragma once

// Resolves "user[:group]" against the image's /etc/passwd and /etc/group,
// read inside the image root (never through host paths). Used for COPY
// --chown and WORKDIR ownership.

#include <sys/types.h>

#include <string>

#include "base/error.h"

namespace kiln::solver {

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
};

// Numeric parts are taken as they are; names are looked up in the files.
// A numeric user without a group gets gid = the user's primary group if
// the uid is in passwd, else gid = uid (docker's --chown rule).
// kNotFound "unable to find user app: no matching entries in passwd file".
Result<UserIds> ResolveUser(int root_fd, const std::string& spec);

}  // namespace kiln::solver
