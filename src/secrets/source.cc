#include "secrets/source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "base/fs.h"
#include "base/strings.h"

namespace kiln::secrets {

Result<SecretSpec> ParseSecretFlag(std::string_view flag) {
  auto bad = [&](std::string msg) {
    return Fail(Error::Usage(fmt::format("--secret {}: {}", Quote(flag), msg)));
  };
  if (TrimSpace(flag).empty()) return bad("empty value");
  auto split = SplitCsv(flag);
  if (!split) return bad(split.error().message());
  const std::vector<std::string>& fields = *split;
  SecretSpec spec;
  std::string src;
  bool have_env = false;
  for (const auto& field : fields) {
    Cut kv = CutString(field, '=');
    if (!kv.found) return bad(fmt::format("field {} must be a key=value pair", Quote(field)));
    std::string key = ToLower(kv.first);
    std::string value(kv.second);
    if (key == "type") {
      if (value == "file") spec.type = SecretSourceType::kFile;
      else if (value == "env") spec.type = SecretSourceType::kEnv;
      else return bad(fmt::format("unsupported secret type {} (want file or env)", Quote(value)));
    } else if (key == "id") {
      spec.id = value;
    } else if (key == "src" || key == "source") {
      src = value;
    } else if (key == "env") {
      spec.env = value;
      have_env = true;
    } else {
      std::string suggestion = Spellcheck(key, {"id", "type", "src", "source", "env"});
      std::string msg = fmt::format("unexpected key {}", Quote(key));
      if (!suggestion.empty()) msg += fmt::format(" (did you mean {}?)", Quote(suggestion));
      return bad(msg);
    }
  }
  if (spec.type == SecretSourceType::kEnv && !have_env) {
    // buildx: `type=env,src=VAR` names the variable with src.
    spec.env = src;
    src.clear();
  }
  if (!src.empty()) spec.file = src;
  if (spec.type == SecretSourceType::kAuto) {
    if (!spec.file.empty() && spec.env.empty()) spec.type = SecretSourceType::kFile;
    else if (spec.file.empty() && have_env) spec.type = SecretSourceType::kEnv;
    else if (!spec.file.empty() && have_env) return bad("src and env are mutually exclusive");
  }
  if (spec.type == SecretSourceType::kFile && spec.file.empty()) {
    if (spec.id.empty()) return bad("type=file needs src=PATH or id=ID");
    spec.file = spec.id;
  }
  if (spec.type == SecretSourceType::kEnv && spec.env.empty()) {
    if (spec.id.empty()) return bad("type=env needs env=VAR or id=ID");
    spec.env = spec.id;
  }
  if (spec.id.empty() && !spec.file.empty()) spec.id = Basename(spec.file);
  if (spec.id.empty()) spec.id = spec.env;
  if (spec.id.empty()) return bad("missing id");
  return spec;
}

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

void SecretStore::Put(std::string id, SecretValue value) {
  values_.insert_or_assign(std::move(id), std::move(value));
}

const SecretValue* SecretStore::Find(std::string_view id) const {
  auto it = values_.find(id);
  return it == values_.end() ? nullptr : &it->second;
}

std::vector<std::string> SecretStore::ids() const {
  std::vector<std::string> out;
  for (const auto& [id, v] : values_) out.push_back(id);
  return out;
}

namespace {

Error TooBig(const std::string& id, std::string_view what, size_t size) {
  return Error::Invalid(fmt::format("secret {}: {} is {} bytes, over the 500 KiB limit", Quote(id),
                                    what, size));
}

// Reads straight into a locked buffer so the value never sits in an
// ordinary std::string.
Result<SecretValue> ReadSecretFile(const std::string& id, const std::string& path) {
  auto wrap = [&](Error e) {
    return Fail(Error(e.code(), fmt::format("secret {}: file {}", Quote(id), e.message()))
                    .WithErrno(e.sys_errno()));
  };
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return wrap(Error::Io(path, errno));
  Fd owned(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return wrap(Error::Io(path, errno));
  if (S_ISDIR(st.st_mode)) return wrap(Error::Io(path, EISDIR));
  if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) > kMaxSecretSize)
    return Fail(TooBig(id, fmt::format("file {}", path), st.st_size));
  // One byte more than expected, to notice growth (regular files) or an
  // oversize stream (pipes, devices).
  bool regular = S_ISREG(st.st_mode);
  size_t cap = regular ? static_cast<size_t>(st.st_size) + 1 : kMaxSecretSize + 1;
  SecretValue value = SecretValue::WithSize(cap);
  size_t got = 0;
  while (got < value.size()) {
    ssize_t n = read(fd, value.data() + got, value.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return wrap(Error::Io(path, errno));
    }
    if (n == 0) break;
    got += n;
  }
  if (got > kMaxSecretSize) return Fail(TooBig(id, fmt::format("file {}", path), got));
  if (regular && got == cap)
    return Fail(Error::Invalid(
        fmt::format("secret {}: file {} changed while it was being read", Quote(id), path)));
  value.Truncate(got);
  return value;
}

}  // namespace

Result<SecretValue> LoadSecret(const SecretSpec& spec, const EnvLookup& env) {
  switch (spec.type) {
    case SecretSourceType::kFile:
      return ReadSecretFile(spec.id, spec.file);
    case SecretSourceType::kEnv: {
      std::optional<std::string> v = env(spec.env);
      if (!v)
        return Fail(Error::NotFound(
            fmt::format("secret {}: env var {} is not set", Quote(spec.id), spec.env)));
      if (v->size() > kMaxSecretSize) {
        size_t size = v->size();
        SecureZero(v->data(), v->size());
        return Fail(TooBig(spec.id, fmt::format("env var {}", spec.env), size));
      }
      SecretValue value(*v);
      SecureZero(v->data(), v->size());
      return value;
    }
    case SecretSourceType::kAuto: {
      std::string name = spec.env.empty() ? spec.id : spec.env;
      if (env(name)) {
        SecretSpec as_env = spec;
        as_env.type = SecretSourceType::kEnv;
        as_env.env = name;
        return LoadSecret(as_env, env);
      }
      std::string file = spec.file.empty() ? spec.id : spec.file;
      struct stat st;
      if (stat(file.c_str(), &st) != 0 && errno == ENOENT)
        return Fail(Error::NotFound(fmt::format("secret {}: neither env var {} nor file {} exists",
                                                Quote(spec.id), name, file)));
      return ReadSecretFile(spec.id, file);
    }
  }
  return Fail(Error::Invalid("unreachable secret source type"));
}

Result<SecretStore> LoadSecrets(const std::vector<SecretSpec>& specs, const EnvLookup& env) {
  SecretStore store;
  for (const auto& spec : specs) {
    KILN_TRY_ASSIGN(auto value, LoadSecret(spec, env));
    store.Put(spec.id, std::move(value));
  }
  return store;
}

Result<SshSpec> ParseSshFlag(std::string_view flag) {
  auto bad = [&](std::string msg) {
    return Fail(Error::Usage(fmt::format("--ssh {}: {}", Quote(flag), msg)));
  };
  if (TrimSpace(flag).empty()) return bad("empty value");
  auto split = SplitCsv(flag);
  if (!split) return bad(split.error().message());
  const std::vector<std::string>& fields = *split;
  SshSpec spec;
  Cut kv = CutString(fields[0], '=');
  spec.id = std::string(kv.first);
  if (spec.id.empty()) return bad("missing id before \"=\"");
  if (kv.found) {
    for (const auto& p : Split(kv.second, ',')) spec.paths.push_back(p);
  } else if (fields.size() > 1) {
    return bad("paths need the form ID=PATH[,PATH]");
  }
  for (size_t i = 1; i < fields.size(); ++i) spec.paths.push_back(fields[i]);
  for (const auto& p : spec.paths)
    if (p.empty()) return bad("empty path");
  return spec;
}

}  // namespace kiln::secrets
