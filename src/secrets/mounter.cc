#include "secrets/mounter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/mounts.h"

namespace kiln::secrets {

bool IsValidEnvName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

StepSecrets::StepSecrets(StepSecrets&& o) noexcept
    : dir_(std::move(o.dir_)),
      mounted_(o.mounted_),
      files_(std::move(o.files_)),
      mounts_(std::move(o.mounts_)),
      env_(std::move(o.env_)) {
  o.dir_.clear();
  o.mounted_ = false;
  o.files_.clear();
}

StepSecrets::~StepSecrets() { (void)Cleanup(); }

namespace {

// Overwrites a file's bytes with zeros in place so the pages that held the
// secret are cleared before tmpfs frees them.
Result<void> ZeroFile(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Fail(Error::Io(path, errno, "open"));
  Fd owned(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return Fail(Error::Io(path, errno, "stat"));
  std::string zeros(4096, '\0');
  off_t off = 0;
  while (off < st.st_size) {
    size_t n = std::min<off_t>(zeros.size(), st.st_size - off);
    ssize_t w = pwrite(fd, zeros.data(), n, off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(path, errno, "wipe"));
    }
    off += w;
  }
  return Ok();
}

}  // namespace

Result<void> StepSecrets::Cleanup() {
  env_.clear();  // SecretValue wipes itself
  mounts_.clear();
  std::optional<Error> first;
  auto note = [&](Result<void> r) {
    if (!r && !first) first = std::move(r).error();
  };
  for (const auto& f : files_) {
    note(ZeroFile(f));
    if (unlink(f.c_str()) != 0 && errno != ENOENT) note(Fail(Error::Io(f, errno, "unlink")));
  }
  files_.clear();
  if (mounted_) {
    // Something (a leaked bind mount) may still hold it: it is then
    // detached and goes away once released; the files are already zeroed.
    note(sys::Unmount(dir_, sys::UnmountMode::kRetryThenDetach));
    mounted_ = false;
  }
  if (!dir_.empty()) {
    if (rmdir(dir_.c_str()) != 0 && errno != ENOENT) note(Fail(Error::Io(dir_, errno, "rmdir")));
    dir_.clear();
  }
  if (first) return Fail(std::move(*first).Wrap("cleaning up step secrets"));
  return Ok();
}

Result<StepSecrets> SecretMounter::Prepare(const std::vector<SecretMountRequest>& requests,
                                           const SecretStore& store) const {
  struct Planned {
    const SecretValue* value;
    std::string id, target, env;
    int mode, uid, gid;
  };
  std::vector<Planned> plan;
  std::set<std::string> targets;
  size_t total = 0;
  // 1. Validate everything before touching the filesystem.
  for (const auto& r : requests) {
    Planned p{nullptr, r.id, r.target, r.env, r.mode, r.uid, r.gid};
    if (p.id.empty() && !p.target.empty()) p.id = Basename(p.target);
    if (p.id.empty()) return Fail(Error::Invalid("secret mount needs id= or target="));
    if (!p.env.empty() && !IsValidEnvName(p.env))
      return Fail(Error::Invalid(fmt::format("secret {}: invalid env name {}", Quote(p.id),
                                             Quote(p.env))));
    if (p.mode < 0 || p.mode > 07777)
      return Fail(Error::Invalid(fmt::format("secret {}: invalid mode {:o}", Quote(p.id), p.mode)));
    if (p.uid < 0 || p.gid < 0)
      return Fail(Error::Invalid(fmt::format("secret {}: invalid uid/gid {}:{}", Quote(p.id),
                                             p.uid, p.gid)));
    if (p.target.empty() && p.env.empty()) p.target = "/run/secrets/" + p.id;
    if (!p.target.empty()) {
      if (p.target[0] != '/') p.target = "/" + p.target;
      p.target = CleanPath(p.target);
      if (p.target == "/")
        return Fail(Error::Invalid(fmt::format("secret {}: target cannot be /", Quote(p.id))));
      if (!targets.insert(p.target).second)
        return Fail(Error::Invalid(fmt::format("secret {}: duplicate mount target {}",
                                               Quote(p.id), p.target)));
    }
    p.value = store.Find(p.id);
    if (!p.value) {
      if (r.required == Requirement::kRequired)
        return Fail(Error::NotFound(
                        fmt::format("secret {} is required but was not provided", Quote(p.id)))
                        .WithHint(fmt::format("pass --secret id={},src=PATH", p.id)));
      continue;
    }
    if (!p.target.empty()) total += p.value->size();
    plan.push_back(std::move(p));
  }

  StepSecrets out;
  for (const auto& p : plan)
    if (!p.env.empty()) out.env_.push_back({p.env, p.value->Clone()});
  bool need_files = false;
  for (const auto& p : plan) need_files |= !p.target.empty();
  if (!need_files) return out;

  // 2. A fresh mount point, then a private tmpfs on it.
  std::string dir = JoinPath(scratch_dir_, "secrets-" + RandomHex(8));
  if (mkdir(dir.c_str(), 0700) != 0) return Fail(Error::Io(dir, errno, "mkdir"));
  out.dir_ = dir;
  // Room for every file plus one page each; tmpfs rounds to pages.
  size_t size = total + 4096 * (plan.size() + 4);
  std::string opts = fmt::format("mode=0700,size={},nr_inodes={}", size, plan.size() + 16);
  // Private: not shared with the host's mount namespace peers.
  KILN_TRY(sys::MountTmpfs(dir, opts, sys::TmpfsExec::kDeny));
  out.mounted_ = true;

  // 3. Exactly one file per mount, named by position so ids never form paths.
  int n = 0;
  for (const auto& p : plan) {
    if (p.target.empty()) continue;
    std::string path = JoinPath(dir, fmt::format("secret-{}", n++));
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Fail(Error::Io(path, errno, "create"));
    Fd owned(fd);
    out.files_.push_back(path);
    KILN_TRY(WriteAll(fd, p.value->view(), path));
    if (fchown(fd, p.uid, p.gid) != 0) return Fail(Error::Io(path, errno, "chown"));
    // After chown: chown clears setuid/setgid bits.
    if (fchmod(fd, p.mode) != 0) return Fail(Error::Io(path, errno, "chmod"));
    out.mounts_.push_back({path, p.target});
  }
  return out;
}

}  // namespace kiln::secrets
