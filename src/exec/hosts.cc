#include "exec/hosts.h"

#include <arpa/inet.h>

#include <cctype>

#include "base/strings.h"

namespace kiln::exec {
namespace {

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

// Letters, digits, '-', '_' and '.': anything else (spaces, newlines)
// could add lines to /etc/hosts.
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  return true;
}

}  // namespace

Result<std::string> HostsFile(std::string_view hostname, const std::vector<std::string>& extra_hosts) {
  if (!IsHostName(hostname)) return Fail(Error::Invalid(fmt::format("invalid hostname {}", Quote(hostname))));
  std::string out = fmt::format("127.0.0.1\tlocalhost {}\n::1\tlocalhost ip6-localhost ip6-loopback\n", hostname);
  for (const auto& h : extra_hosts) {
    // IPv6 addresses contain ':', so only the first one separates.
    Cut c = CutString(h, ':');
    std::string name(TrimSpace(c.first)), ip(TrimSpace(c.second));
    if (!c.found || name.empty() || ip.empty())
      return Fail(Error::Invalid(fmt::format("invalid --add-host {}: expected <name>:<ip>", Quote(h))));
    if (!IsHostName(name))
      return Fail(Error::Invalid(
          fmt::format("invalid --add-host {}: {} is not a valid host name", Quote(h), Quote(name))));
    if (StartsWith(ip, "[") && EndsWith(ip, "]")) ip = ip.substr(1, ip.size() - 2);
    if (!IsIp(ip))
      return Fail(Error::Invalid(
          fmt::format("invalid --add-host {}: {} is not an IP address", Quote(h), Quote(ip))));
    out += fmt::format("{}\t{}\n", ip, name);
  }
  return out;
}

std::string ResolvConf(std::string_view host_text, Network network) {
  if (network == Network::kNone) return "# network=none: no nameservers\n";
  for (const auto& line : Split(host_text, '\n'))
    if (StartsWith(TrimSpace(line), "nameserver")) {
      std::string out(host_text);
      if (!out.empty() && out.back() != '\n') out += '\n';
      return out;
    }
  return "nameserver 8.8.8.8\nnameserver 8.8.4.4\n";
}

}  // namespace kiln::exec
