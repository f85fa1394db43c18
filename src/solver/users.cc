#include "solver/users.h"

#include "exec/user.h"

namespace kiln::solver {

Result<UserIds> ResolveUser(int root_fd, const std::string& spec) {
  KILN_TRY_ASSIGN(exec::ExecUser user, exec::ResolveUserInRoot(root_fd, spec, exec::UnknownUidGroup::kSameAsUid));
  return UserIds{user.uid, user.gid};
}

}  // namespace kiln::solver
