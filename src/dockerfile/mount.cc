// RUN --mount parsing (BuildKit's instructions/commands_runmount.go) and
// Go-style durations for HEALTHCHECK.

#include <cctype>
#include <cmath>
#include <limits>

#include "base/fs.h"
#include "base/strings.h"
#include "dockerfile/parser.h"
#include "dockerfile/parser_internal.h"

namespace kiln::dockerfile {

std::string_view MountTypeName(MountType t) {
  switch (t) {
    case MountType::kBind: return "bind";
    case MountType::kCache: return "cache";
    case MountType::kTmpfs: return "tmpfs";
    case MountType::kSecret: return "secret";
    case MountType::kSsh: return "ssh";
  }
  return "?";
}

std::string_view SharingName(Sharing s) {
  switch (s) {
    case Sharing::kShared: return "shared";
    case Sharing::kPrivate: return "private";
    case Sharing::kLocked: return "locked";
  }
  return "?";
}

namespace {

// Go's strconv.ParseBool.
std::optional<bool> ParseBool(std::string_view v) {
  if (v == "1" || v == "t" || v == "T" || v == "TRUE" || v == "true" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "FALSE" || v == "false" || v == "False") return false;
  return std::nullopt;
}

std::optional<uint32_t> ParseUint(std::string_view v, int base) {
  if (v.empty()) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    int d = c >= '0' && c <= '9' ? c - '0' : 99;
    if (d >= base) return std::nullopt;
    n = n * base + d;
    if (n > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  }
  return static_cast<uint32_t>(n);
}

// docker/go-units RAMInBytes: "64m", "1.5g", "512", "2GiB" (binary units).
std::optional<int64_t> RamInBytes(std::string_view v) {
  size_t i = 0;
  while (i < v.size() && (std::isdigit(static_cast<unsigned char>(v[i])) || v[i] == '.')) ++i;
  std::string num(v.substr(0, i));
  if (num.empty() || num.front() == '.' || num.back() == '.') return std::nullopt;
  std::string_view unit = v.substr(i);
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  std::string u = ToLower(unit);
  if (!u.empty() && u.back() == 'b') u.pop_back();
  if (!u.empty() && u.back() == 'i') u.pop_back();
  double mult = 1;
  if (u.empty()) mult = 1;
  else if (u == "k") mult = 1024.0;
  else if (u == "m") mult = 1024.0 * 1024;
  else if (u == "g") mult = 1024.0 * 1024 * 1024;
  else if (u == "t") mult = 1024.0 * 1024 * 1024 * 1024;
  else if (u == "p") mult = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else return std::nullopt;
  double d = std::strtod(num.c_str(), nullptr) * mult;
  if (!(d < 9.2e18)) return std::nullopt;
  return static_cast<int64_t>(d);
}

}  // namespace

Result<Mount> ParseMount(std::string_view spec, const SourceLoc& loc) {
  return internal::ParseMountWith(spec, loc, nullptr);
}

Result<Mount> internal::ParseMountWith(std::string_view spec, const SourceLoc& loc,
                                       const WordExpander* expand) {
  auto err = [&](std::string msg) { return Fail(Error::Syntax(loc, std::move(msg))); };
  Mount m;
  m.spec = std::string(spec);
  m.loc = loc;
  auto fields = SplitCsv(spec);
  if (!fields) return err(fmt::format("invalid mount {}: {}", Quote(spec), fields.error().message()));
  bool ro_auto = true;
  bool sharing_set = false;
  bool type_ok_for_required = false;
  for (const std::string& field : *fields) {
    Cut kv = CutString(field, '=');
    std::string key = ToLower(kv.first);
    std::string value(kv.second);
    if (expand && kv.found) {
      auto v = (*expand)(value);
      if (!v) return Fail(std::move(v).error());
      value = std::move(*v);
    }
    type_ok_for_required = m.type == MountType::kSecret || m.type == MountType::kSsh;
    auto unexpected = [&] {
      return err(fmt::format("unexpected key '{}' for mount type '{}'", key, MountTypeName(m.type)));
    };
    if (!kv.found) {
      if (key == "readonly" || key == "ro") {
        m.readonly = true;
        ro_auto = false;
        continue;
      }
      if (key == "readwrite" || key == "rw") {
        m.readonly = false;
        ro_auto = false;
        continue;
      }
      if (key == "required") {
        if (!type_ok_for_required) return unexpected();
        m.required = true;
        continue;
      }
      return err(fmt::format("invalid field '{}' must be a key=value pair", field));
    }
    if (key == "type") {
      std::string t = ToLower(value);
      if (t == "bind") m.type = MountType::kBind;
      else if (t == "cache") m.type = MountType::kCache;
      else if (t == "tmpfs") m.type = MountType::kTmpfs;
      else if (t == "secret") m.type = MountType::kSecret;
      else if (t == "ssh") m.type = MountType::kSsh;
      else {
        std::string msg = fmt::format("unsupported mount type {}", Quote(value));
        std::string sugg = Spellcheck(value, {"bind", "cache", "tmpfs", "secret", "ssh"});
        if (!sugg.empty()) msg += fmt::format(" (did you mean {}?)", Quote(sugg));
        return err(msg);
      }
    } else if (key == "from") {
      m.from = value;
    } else if (key == "source" || key == "src") {
      m.source = value;
    } else if (key == "target" || key == "dst" || key == "destination") {
      m.target = value;
    } else if (key == "readonly" || key == "ro" || key == "readwrite" || key == "rw") {
      auto b = ParseBool(value);
      if (!b) return err(fmt::format("invalid value for {}: {}", key, value));
      m.readonly = (key == "readonly" || key == "ro") ? *b : !*b;
      ro_auto = false;
    } else if (key == "required") {
      if (!type_ok_for_required) return unexpected();
      auto b = ParseBool(value);
      if (!b) return err(fmt::format("invalid value for {}: {}", key, value));
      m.required = *b;
    } else if (key == "size") {
      if (m.type != MountType::kTmpfs) return unexpected();
      auto n = RamInBytes(value);
      if (!n) return err(fmt::format("invalid value for {}: {}", key, value));
      m.size = *n;
    } else if (key == "id") {
      m.id = value;
    } else if (key == "sharing") {
      if (m.type != MountType::kCache) {
        return err(fmt::format("invalid cache sharing set for {} mount", MountTypeName(m.type)));
      }
      std::string s = ToLower(value);
      if (s == "shared") m.sharing = Sharing::kShared;
      else if (s == "private") m.sharing = Sharing::kPrivate;
      else if (s == "locked") m.sharing = Sharing::kLocked;
      else return err(fmt::format("unsupported sharing value {}", Quote(value)));
      sharing_set = true;
    } else if (key == "mode") {
      auto n = ParseUint(value, 8);
      if (!n) return err(fmt::format("invalid value {} for mode", value));
      m.mode = n;
    } else if (key == "uid") {
      auto n = ParseUint(value, 10);
      if (!n) return err(fmt::format("invalid value {} for uid", value));
      m.uid = n;
    } else if (key == "gid") {
      auto n = ParseUint(value, 10);
      if (!n) return err(fmt::format("invalid value {} for gid", value));
      m.gid = n;
    } else if (key == "env") {
      m.env = value;
    } else {
      std::string msg = fmt::format("unexpected key '{}' in '{}'", key, field);
      std::string sugg = Spellcheck(key, {"type", "from", "source", "target", "readonly", "id", "sharing",
                                          "required", "size", "mode", "uid", "gid", "src", "dst",
                                          "destination", "ro", "rw", "readwrite", "env"});
      if (!sugg.empty()) msg += fmt::format(" (did you mean {}?)", Quote(sugg));
      return err(msg);
    }
  }
  if (ro_auto) m.readonly = !(m.type == MountType::kCache || m.type == MountType::kTmpfs);
  if (sharing_set && m.type != MountType::kCache) {
    return err(fmt::format("invalid cache sharing set for {} mount", MountTypeName(m.type)));
  }
  switch (m.type) {
    case MountType::kSecret:
      if (!m.from.empty()) return err("secret mount should not have a from");
      if (m.source.empty() && m.target.empty() && m.id.empty() && m.env.empty()) {
        return err("invalid secret mount. one of source, target required");
      }
      if (!m.source.empty() && !m.id.empty()) return err("both source and id can't be set");
      if (!m.source.empty()) m.id = m.source;
      if (m.id.empty() && !m.target.empty()) m.id = Basename(m.target);
      if (m.target.empty() && m.env.empty()) m.target = "/run/secrets/" + Basename(m.id);
      break;
    case MountType::kSsh:
      if (!m.from.empty()) return err("ssh mount should not have a from");
      if (m.id.empty()) m.id = "default";
      break;
    case MountType::kBind:
    case MountType::kCache:
    case MountType::kTmpfs:
      if (m.target.empty()) {
        return err(fmt::format("mount type {} requires a target", MountTypeName(m.type)));
      }
      if (m.type == MountType::kCache && m.id.empty()) m.id = m.target;
      if ((m.type == MountType::kBind || m.type == MountType::kTmpfs) &&
          (m.mode || m.uid || m.gid)) {
        return err(fmt::format("mode, uid and gid are not supported for {} mounts", MountTypeName(m.type)));
      }
      if (m.type == MountType::kTmpfs && !m.from.empty()) return err("tmpfs mount should not have a from");
      break;
  }
  return m;
}

Result<int64_t> ParseDuration(std::string_view text) {
  auto bad = [&] { return Fail(Error::Invalid(fmt::format("time: invalid duration {}", Quote(text)))); };
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return bad();
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double v = 0;
    bool digits = false;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      v = v * 10 + (s[i++] - '0');
      digits = true;
    }
    if (i < s.size() && s[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
        v += (s[i++] - '0') * scale;
        scale /= 10;
        digits = true;
      }
    }
    if (!digits) return bad();
    size_t u = i;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') ++u;
    std::string_view unit = s.substr(i, u - i);
    long double mult;
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1e3L;
    else if (unit == "ms") mult = 1e6L;
    else if (unit == "s") mult = 1e9L;
    else if (unit == "m") mult = 60e9L;
    else if (unit == "h") mult = 3600e9L;
    else if (unit.empty()) return Fail(Error::Invalid(fmt::format("time: missing unit in duration {}", Quote(text))));
    else return Fail(Error::Invalid(fmt::format("time: unknown unit {} in duration {}", Quote(unit), Quote(text))));
    total += v * mult;
    if (total > 9.2e18L) return bad();
    s.remove_prefix(u);
  }
  int64_t ns = static_cast<int64_t>(total);
  return neg ? -ns : ns;
}

}  // namespace kiln::dockerfile
