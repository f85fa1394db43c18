// libFuzzer target: USER resolution, ulimit parsing and /etc/hosts
// generation over arbitrary
// passwd/group text. Input: "<user>\0<passwd>\0<group>".

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "exec/hosts.h"
#include "exec/runtime_spec.h"
#include "exec/user.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t a = in.find('\0');
  std::string_view user = in.substr(0, a);
  std::string_view rest = a == std::string_view::npos ? std::string_view() : in.substr(a + 1);
  size_t b = rest.find('\0');
  std::string_view passwd = rest.substr(0, b);
  std::string_view group = b == std::string_view::npos ? std::string_view() : rest.substr(b + 1);
  auto u = kiln::exec::ResolveUser(user, passwd, group);
  if (u) {
    // Supplementary groups are sorted, unique and exclude the primary gid.
    for (size_t i = 0; i < u->additional_gids.size(); ++i) {
      if (u->additional_gids[i] == u->gid) __builtin_trap();
      if (i > 0 && u->additional_gids[i - 1] >= u->additional_gids[i]) __builtin_trap();
    }
    if (u->home.empty()) __builtin_trap();
  }
  // Validated names can never add lines to /etc/hosts.
  auto hosts = kiln::exec::HostsFile(user, {std::string(passwd.substr(0, passwd.find('\n')))});
  if (hosts && std::count(hosts->begin(), hosts->end(), '\n') != 3) __builtin_trap();
  auto r = kiln::exec::ParseUlimit(user);
  if (r && r->soft > r->hard) __builtin_trap();
  return 0;
}
