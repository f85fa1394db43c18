#include "sys/mounts.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/process.h"

namespace kiln::sys {
namespace {

// Decodes mountinfo's octal escapes (\040 space, \011 tab, \012 newline,
// \134 backslash).
std::string Unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() &&
        s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
        s[i + 3] >= '0' && s[i + 3] <= '7') {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

Result<void> MountOverlayLegacy(const std::vector<std::string>& lowerdirs,
                                const std::string& upperdir, const std::string& workdir,
                                const std::string& target) {
  auto check = [](const std::string& p) -> Result<void> {
    if (p.find_first_of(",:") != std::string::npos)
      return Fail(Error::Invalid(fmt::format("overlay layer path {} contains ',' or ':'", Quote(p))));
    return Ok();
  };
  for (const auto& l : lowerdirs) KILN_TRY(check(l));
  KILN_TRY(check(upperdir));
  KILN_TRY(check(workdir));
  std::string data = "lowerdir=" + Join(lowerdirs, ":");
  if (!upperdir.empty()) data += ",upperdir=" + upperdir + ",workdir=" + workdir;
  if (data.size() >= 4096)
    return Fail(Error::Invalid(fmt::format("overlay options for {} are {} bytes, over the kernel's "
                                           "limit of 4095 (too many layers)",
                                           target, data.size())));
  return Mount("overlay", target, "overlay", 0, data);
}

}  // namespace

Result<void> Mount(const std::string& source, const std::string& target, const std::string& fstype,
                   unsigned long flags, const std::string& data) {
  if (mount(source.c_str(), target.c_str(), fstype.empty() ? nullptr : fstype.c_str(), flags,
            data.empty() ? nullptr : data.c_str()) < 0) {
    int err = errno;
    std::string what = fstype.empty() ? source : fstype;
    if (flags & MS_BIND) what = "bind " + source;
    return Fail(Error::Io(fmt::format("{} on {}", what, target), err, "mount"));
  }
  return Ok();
}

Result<void> Unmount(const std::string& target, UnmountMode mode) {
  // A child another thread is spawning may hold a copy of the last fd we
  // had open on this mount; its exec closes it.
  if (mode != UnmountMode::kDetach) WaitForSpawns();
  if (mode == UnmountMode::kRetryThenDetach) {
    for (int i = 0; i < 20; ++i) {
      if (umount2(target.c_str(), 0) == 0) return Ok();
      if (errno != EBUSY) return Fail(Error::Io(target, errno, "umount"));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    mode = UnmountMode::kDetach;
  }
  if (umount2(target.c_str(), mode == UnmountMode::kDetach ? MNT_DETACH : 0) < 0)
    return Fail(Error::Io(target, errno, "umount"));
  return Ok();
}

Result<void> MountTmpfs(const std::string& target, const std::string& options, TmpfsExec exec) {
  unsigned long flags = MS_NOSUID | MS_NODEV | (exec == TmpfsExec::kDeny ? MS_NOEXEC : 0);
  KILN_TRY(Mount("tmpfs", target, "tmpfs", flags, options));
  // A new mount inherits its parent's propagation; make it private at once.
  auto r = Mount("", target, "", MS_PRIVATE);
  if (!r) (void)umount2(target.c_str(), MNT_DETACH);
  return r;
}

Result<Fd> OpenOverlay(const std::vector<std::string>& lowerdirs, const std::string& upperdir,
                       const std::string& workdir, OverlaySync sync) {
  auto unsupported = [] {
    return Fail(Error::Unsupported("overlay with the new mount API needs Linux 6.8 (\"lowerdir+\")"));
  };
  if (lowerdirs.empty()) return Fail(Error::Invalid("an overlay needs at least one lower layer"));
  int fs = fsopen("overlay", FSOPEN_CLOEXEC);
  if (fs < 0) return unsupported();
  Fd fs_fd(fs);
  auto set = [&](const char* key, const std::string& value) {
    return fsconfig(fs_fd.get(), FSCONFIG_SET_STRING, key, value.c_str(), 0);
  };
  // Step 1: probe "lowerdir+" (Linux 6.8), which takes each path whole.
  if (set("lowerdir+", lowerdirs[0]) < 0) {
    if (errno == EINVAL) return unsupported();
    return Fail(Error::Io(lowerdirs[0], errno, "overlay lowerdir"));
  }
  // Step 2: the remaining layers, then the writable layer.
  for (size_t i = 1; i < lowerdirs.size(); ++i)
    if (set("lowerdir+", lowerdirs[i]) < 0) return Fail(Error::Io(lowerdirs[i], errno, "overlay lowerdir"));
  if (!upperdir.empty()) {
    if (set("upperdir", upperdir) < 0) return Fail(Error::Io(upperdir, errno, "overlay upperdir"));
    if (set("workdir", workdir) < 0) return Fail(Error::Io(workdir, errno, "overlay workdir"));
    // Best effort: kernels without "volatile" simply sync on unmount.
    if (sync == OverlaySync::kVolatile)
      (void)fsconfig(fs_fd.get(), FSCONFIG_SET_FLAG, "volatile", nullptr, 0);
  }
  // Step 3: create the superblock and a mount of it that is attached nowhere.
  if (fsconfig(fs_fd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return Fail(Error::Io(fmt::format("overlay of {}", lowerdirs[0]), errno, "create"));
  int mnt = fsmount(fs_fd.get(), FSMOUNT_CLOEXEC, 0);
  if (mnt < 0) return Fail(Error::Io(fmt::format("overlay of {}", lowerdirs[0]), errno, "fsmount"));
  return Fd(mnt);
}

Result<void> MountOverlay(const std::vector<std::string>& lowerdirs, const std::string& upperdir,
                          const std::string& workdir, const std::string& target, OverlaySync sync) {
  if (lowerdirs.empty())
    return Fail(Error::Invalid(fmt::format("overlay on {} needs at least one lower layer", target)));
  auto mnt = OpenOverlay(lowerdirs, upperdir, workdir, sync);
  if (!mnt && mnt.error().code() == ErrorCode::kUnsupported)
    return MountOverlayLegacy(lowerdirs, upperdir, workdir, target);
  if (!mnt) return Fail(std::move(mnt).error().Wrap("mounting overlay on {}", target));
  if (move_mount(mnt->get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
    return Fail(Error::Io(fmt::format("overlay on {}", target), errno, "mount"));
  return Ok();
}

Result<void> RemoveVolatileMarker(const std::string& workdir) {
  return RemoveAll(JoinPath(workdir, "work/incompat"));
}

Result<std::vector<MountInfo>> ParseMountInfo(std::string_view text) {
  std::vector<MountInfo> out;
  int lineno = 0;
  for (const auto& line : Split(text, '\n')) {
    ++lineno;
    if (TrimSpace(line).empty()) continue;
    std::vector<std::string> f = Split(line, ' ');
    auto bad = [&] {
      return Fail(Error(ErrorCode::kSyntax,
                        fmt::format("mountinfo:{}: malformed line {}", lineno, Quote(line))));
    };
    // id parent major:minor root mount-point options [optional...] - fstype source super-options
    auto sep = std::find(f.begin(), f.end(), "-");
    if (f.size() < 10 || sep == f.end() || sep - f.begin() < 6 || f.end() - sep < 3) return bad();
    MountInfo m;
    char* end = nullptr;
    m.id = static_cast<int>(strtol(f[0].c_str(), &end, 10));
    if (*end != '\0' || f[0].empty()) return bad();
    m.parent_id = static_cast<int>(strtol(f[1].c_str(), &end, 10));
    if (*end != '\0' || f[1].empty()) return bad();
    m.root = Unescape(f[3]);
    m.mount_point = Unescape(f[4]);
    m.fstype = Unescape(*(sep + 1));
    m.source = Unescape(*(sep + 2));
    m.options = f[5];
    m.propagation = Join(std::vector<std::string>(f.begin() + 6, sep), " ");
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<MountInfo>> ListMounts() {
  KILN_TRY_ASSIGN(std::string text, ReadFile("/proc/self/mountinfo"));
  return ParseMountInfo(text);
}

Result<std::vector<std::string>> MountsUnder(const std::string& dir) {
  KILN_TRY_ASSIGN(auto mounts, ListMounts());
  std::string clean = CleanPath(dir);
  std::vector<std::string> out;
  // mountinfo lists mounts in mount order; reverse gives children first.
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it)
    if (PathIsUnder(it->mount_point, clean)) out.push_back(it->mount_point);
  return out;
}

Result<void> UnmountAllUnder(const std::string& dir) {
  KILN_TRY_ASSIGN(auto points, MountsUnder(dir));
  Result<void> first = Ok();
  for (const auto& p : points) {
    auto r = Unmount(p, UnmountMode::kDetach);
    if (!r && first) first = std::move(r);
  }
  return first;
}

}  // namespace kiln::sys
