#pragma once

// The ids COPY --chown and WORKDIR give what they create, resolved by
// exec::ResolveUserInRoot (the one user lookup in kiln) against the image's
// own /etc/passwd and /etc/group.

#include <sys/types.h>

#include <string>

#include "base/error.h"

namespace kiln::solver {

struct UserIds {
  uid_t uid = 0;
  gid_t gid = 0;
};

// "user[:group]" with docker's --chown rules: numeric parts are taken as
// they are, names are looked up inside the root at `root_fd`; a numeric
// user without a group gets its passwd entry's group, else gid = uid.
// Errors: kNotFound "unable to find user app: no matching entries in passwd
// file" (or group), kInvalid, kIo as exec::ResolveUserInRoot.
Result<UserIds> ResolveUser(int root_fd, const std::string& spec);

}  // namespace kiln::solver
