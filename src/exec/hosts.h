#pragma once

// The /etc/hosts, /etc/resolv.conf and /etc/hostname contents kiln gives a
// step. Pure functions.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "exec/executor.h"

namespace kiln::exec {

// localhost entries, the hostname on 127.0.0.1, then `extra_hosts`
// ("name:ip", docker's --add-host) as "ip<TAB>name" lines. Errors (kInvalid):
//   invalid --add-host "x": expected <name>:<ip>
//   invalid --add-host "db:nope": "nope" is not an IP address
//   invalid --add-host "a b:1.2.3.4": "a b" is not a valid host name
//   invalid hostname "a\nb" (for a hostname with a newline)
[[nodiscard]] Result<std::string> HostsFile(std::string_view hostname,
                                            const std::vector<std::string>& extra_hosts);

// For kNone: no nameserver (there is no network). Otherwise the host's
// file (`host_text`), or Google's public resolvers when it has no
// nameserver line, as Docker does.
std::string ResolvConf(std::string_view host_text, Network network);

}  // namespace kiln::exec
