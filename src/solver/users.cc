#include "solver/users.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <optional>

#include "base/strings.h"
#include "solver/copy.h"

namespace kiln::solver {

namespace {

std::optional<uint32_t> ParseId(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string ReadInRoot(int root_fd, const std::string& path) {
  auto fd = OpenInRoot(root_fd, path, O_RDONLY);
  if (!fd) return "";
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
    if (out.size() > (16 << 20)) break;
  }
  return out;
}

// Finds the line whose first field is `name` (or whose third field is
// `id`), returning its fields.
std::optional<std::vector<std::string>> FindEntry(const std::string& text, std::string_view name,
                                                  std::optional<uint32_t> id) {
  for (const auto& line : Split(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto fields = Split(line, ':');
    if (fields.size() < 3) continue;
    if (!name.empty() && fields[0] == name) return fields;
    if (id && ParseId(fields[2]) == id) return fields;
  }
  return std::nullopt;
}

}  // namespace

Result<UserIds> ResolveUser(int root_fd, const std::string& spec) {
  auto cut = CutString(spec, ':');
  std::string user(cut.first), group(cut.second);
  UserIds ids;
  std::string passwd = ReadInRoot(root_fd, "/etc/passwd");
  std::optional<uint32_t> primary_gid;
  if (auto n = ParseId(user)) {
    ids.uid = *n;
    if (auto e = FindEntry(passwd, "", *n); e && e->size() >= 4) primary_gid = ParseId((*e)[3]);
  } else {
    auto e = FindEntry(passwd, user, std::nullopt);
    if (!e || e->size() < 4)
      return Fail(Error::NotFound(fmt::format("unable to find user {}: no matching entries in passwd file", user)));
    ids.uid = ParseId((*e)[2]).value_or(0);
    primary_gid = ParseId((*e)[3]);
  }
  if (!cut.found || group.empty()) {
    ids.gid = primary_gid.value_or(ids.uid);
    return ids;
  }
  if (auto n = ParseId(group)) {
    ids.gid = *n;
    return ids;
  }
  auto g = FindEntry(ReadInRoot(root_fd, "/etc/group"), group, std::nullopt);
  if (!g) return Fail(Error::NotFound(fmt::format("unable to find group {}: no matching entries in group file", group)));
  ids.gid = ParseId((*g)[2]).value_or(0);
  return ids;
}

}  // namespace kiln::solver
