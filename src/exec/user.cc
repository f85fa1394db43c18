#include "exec/user.h"

#include <fcntl.h>

#include <algorithm>
#include <charconv>
#include <optional>

#include "base/strings.h"
#include "sys/in_root.h"

namespace kiln::exec {
namespace {

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
  std::string home;
};
struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::optional<uint32_t> ParseId(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Malformed lines are skipped, as libc and runc do.
std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (const auto& line : Split(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto f = Split(line, ':');
    if (f.size() < 4) continue;
    auto uid = ParseId(f[2]), gid = ParseId(f[3]);
    if (!uid || !gid) continue;
    out.push_back({f[0], *uid, *gid, f.size() > 5 ? f[5] : ""});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  for (const auto& line : Split(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto f = Split(line, ':');
    if (f.size() < 3) continue;
    auto gid = ParseId(f[2]);
    if (!gid) continue;
    std::vector<std::string> members;
    for (auto& m : Split(f.size() > 3 ? f[3] : "", ','))
      if (!TrimSpace(m).empty()) members.emplace_back(TrimSpace(m));
    out.push_back({f[0], *gid, std::move(members)});
  }
  return out;
}

}  // namespace

Result<ExecUser> ResolveUser(std::string_view user, std::string_view passwd, std::string_view group,
                             UnknownUidGroup unknown_uid) {
  Cut cut = CutString(user, ':');
  std::string_view user_part = cut.first, group_part = cut.second;
  if (user_part.empty()) user_part = "0";
  auto users = ParsePasswd(passwd);
  auto groups = ParseGroup(group);

  ExecUser out;
  const PasswdEntry* entry = nullptr;
  if (AllDigits(user_part)) {
    auto uid = ParseId(user_part);
    if (!uid) return Fail(Error::Invalid(fmt::format("invalid user id {}", user_part)));
    out.uid = *uid;
    for (const auto& u : users)
      if (u.uid == *uid) { entry = &u; break; }
    if (!entry && unknown_uid == UnknownUidGroup::kSameAsUid) out.gid = *uid;
  } else {
    for (const auto& u : users)
      if (u.name == user_part) { entry = &u; break; }
    if (!entry)
      return Fail(Error::NotFound(
          fmt::format("unable to find user {}: no matching entries in passwd file", user_part)));
    out.uid = entry->uid;
  }
  if (entry) {
    out.gid = entry->gid;
    if (!entry->home.empty()) out.home = entry->home;
  }

  if (!group_part.empty()) {
    if (AllDigits(group_part)) {
      auto gid = ParseId(group_part);
      if (!gid) return Fail(Error::Invalid(fmt::format("invalid group id {}", group_part)));
      out.gid = *gid;
    } else {
      auto it = std::find_if(groups.begin(), groups.end(),
                             [&](const GroupEntry& g) { return g.name == group_part; });
      if (it == groups.end())
        return Fail(Error::NotFound(
            fmt::format("unable to find group {}: no matching entries in group file", group_part)));
      out.gid = it->gid;
    }
    return out;
  }
  if (entry) {
    for (const auto& g : groups) {
      if (g.gid == out.gid) continue;
      if (std::find(g.members.begin(), g.members.end(), entry->name) != g.members.end())
        out.additional_gids.push_back(g.gid);
    }
    std::sort(out.additional_gids.begin(), out.additional_gids.end());
    out.additional_gids.erase(std::unique(out.additional_gids.begin(), out.additional_gids.end()),
                              out.additional_gids.end());
  }
  return out;
}

Result<ExecUser> ResolveUserInRoot(int root_fd, std::string_view user, UnknownUidGroup unknown_uid) {
  auto read = [&](std::string_view path) -> Result<std::string> {
    auto text = sys::ReadFileInRoot(root_fd, path);
    if (!text && text.error().code() == ErrorCode::kNotFound) return std::string();
    return text;
  };
  KILN_TRY_ASSIGN(std::string passwd, read("/etc/passwd"));
  KILN_TRY_ASSIGN(std::string group, read("/etc/group"));
  return ResolveUser(user, passwd, group, unknown_uid);
}

}  // namespace kiln::exec
