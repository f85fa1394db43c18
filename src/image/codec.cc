#include "image/codec.h"

#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "base/strings.h"
#include "image/codec_internal.h"

namespace kiln::image {

using nlohmann::json;

namespace internal {

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> ParseJson(std::string_view text, std::string_view what, size_t limit) {
  if (text.size() > limit) {
    return Fail(Error::Invalid(
        fmt::format("{}: document is {} bytes, larger than the limit of {} bytes", what, text.size(), limit)));
  }
  try {
    return json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    std::string msg = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    size_t close = msg.find("] ");
    if (msg.starts_with("[json.exception.") && close != std::string::npos) msg = msg.substr(close + 2);
    return Fail(Error::Invalid(fmt::format("{}: invalid JSON: {}", what, msg)));
  }
}

std::string TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "number";
    default: return "value";
  }
}

Error TypeError(const std::string& path, std::string_view want, const json& got) {
  return Error::Invalid(fmt::format("{}: expected {}, got {}", path, want, TypeName(got)));
}

const json* Field(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<void> ExpectObject(const json& j, const std::string& path) {
  if (!j.is_object()) return Fail(TypeError(path, "object", j));
  return Ok();
}

Result<void> ReadString(const json& obj, std::string_view key, const std::string& path, std::string& out) {
  const json* v = Field(obj, key);
  if (!v) return Ok();
  if (!v->is_string()) return Fail(TypeError(fmt::format("{}.{}", path, key), "string", *v));
  out = v->get<std::string>();
  return Ok();
}

Result<void> ReadBool(const json& obj, std::string_view key, const std::string& path, bool& out) {
  const json* v = Field(obj, key);
  if (!v) return Ok();
  if (!v->is_boolean()) return Fail(TypeError(fmt::format("{}.{}", path, key), "boolean", *v));
  out = v->get<bool>();
  return Ok();
}

Result<void> ReadInt64(const json& obj, std::string_view key, const std::string& path, int64_t& out) {
  const json* v = Field(obj, key);
  if (!v) return Ok();
  std::string p = fmt::format("{}.{}", path, key);
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return Fail(Error::Invalid(fmt::format("{}: {} is out of range", p, u)));
    out = static_cast<int64_t>(u);
    return Ok();
  }
  if (!v->is_number_integer()) return Fail(TypeError(p, "integer", *v));
  out = v->get<int64_t>();
  return Ok();
}

Result<void> ReadInt(const json& obj, std::string_view key, const std::string& path, int& out) {
  int64_t wide = out;
  KILN_TRY(ReadInt64(obj, key, path, wide));
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
    return Fail(Error::Invalid(fmt::format("{}.{}: {} is out of range", path, key, wide)));
  out = static_cast<int>(wide);
  return Ok();
}

Result<void> ReadStringList(const json& obj, std::string_view key, const std::string& path,
                            std::vector<std::string>& out) {
  const json* v = Field(obj, key);
  if (!v) return Ok();
  std::string p = fmt::format("{}.{}", path, key);
  if (!v->is_array()) return Fail(TypeError(p, "array", *v));
  out.clear();
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_string()) return Fail(TypeError(fmt::format("{}[{}]", p, i), "string", e));
    out.push_back(e.get<std::string>());
  }
  return Ok();
}

Result<void> ReadStringMap(const json& obj, std::string_view key, const std::string& path,
                           std::map<std::string, std::string>& out) {
  const json* v = Field(obj, key);
  if (!v) return Ok();
  std::string p = fmt::format("{}.{}", path, key);
  if (!v->is_object()) return Fail(TypeError(p, "object", *v));
  out.clear();
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string()) return Fail(TypeError(fmt::format("{}[{}]", p, Quote(it.key())), "string", *it));
    out[it.key()] = it->get<std::string>();
  }
  return Ok();
}

Result<void> ReadKeySet(const json& obj, std::string_view key, const std::string& path,
                        std::vector<std::string>& out) {
  const json* v = Field(obj, key);
  if (!v) return Ok();
  std::string p = fmt::format("{}.{}", path, key);
  if (!v->is_object()) return Fail(TypeError(p, "object", *v));
  out.clear();
  for (auto it = v->begin(); it != v->end(); ++it) out.push_back(it.key());  // already sorted
  return Ok();
}

Result<Digest> ParseDigestAt(const json& v, const std::string& path) {
  if (!v.is_string()) return Fail(TypeError(path, "string", v));
  auto d = Digest::Parse(v.get<std::string>());
  if (!d) return Fail(Error::Invalid(fmt::format("{}: {}", path, d.error().message())));
  return *d;
}

}  // namespace internal

namespace {

using namespace internal;

// ---- Encoding ----

void PutString(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
void PutList(json& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}
void PutMap(json& j, const char* key, const std::map<std::string, std::string>& v) {
  if (!v.empty()) j[key] = v;
}
void PutKeySet(json& j, const char* key, const std::vector<std::string>& v) {
  if (v.empty()) return;
  json set = json::object();
  for (const std::string& k : v) set[k] = json::object();
  j[key] = std::move(set);
}

json PlatformJson(const Platform& p) {
  json j = json::object();
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  PutString(j, "os.version", p.os_version);
  PutList(j, "os.features", p.os_features);
  PutString(j, "variant", p.variant);
  return j;
}

json DescriptorJson(const Descriptor& d) {
  json j = json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  PutList(j, "urls", d.urls);
  PutMap(j, "annotations", d.annotations);
  if (d.platform) j["platform"] = PlatformJson(*d.platform);
  PutString(j, "artifactType", d.artifact_type);
  return j;
}

json DescriptorList(const std::vector<Descriptor>& list) {
  json a = json::array();
  for (const Descriptor& d : list) a.push_back(DescriptorJson(d));
  return a;
}

json HealthcheckJson(const Healthcheck& h) {
  json j = json::object();
  PutList(j, "Test", h.test);
  if (h.interval) j["Interval"] = h.interval;
  if (h.timeout) j["Timeout"] = h.timeout;
  if (h.start_period) j["StartPeriod"] = h.start_period;
  if (h.start_interval) j["StartInterval"] = h.start_interval;
  if (h.retries) j["Retries"] = h.retries;
  return j;
}

json ContainerConfigJson(const ContainerConfig& c) {
  json j = json::object();
  PutString(j, "User", c.user);
  PutKeySet(j, "ExposedPorts", c.exposed_ports);
  PutList(j, "Env", c.env);
  PutList(j, "Entrypoint", c.entrypoint);
  PutList(j, "Cmd", c.cmd);
  PutKeySet(j, "Volumes", c.volumes);
  PutString(j, "WorkingDir", c.working_dir);
  PutMap(j, "Labels", c.labels);
  PutString(j, "StopSignal", c.stop_signal);
  if (c.healthcheck) j["Healthcheck"] = HealthcheckJson(*c.healthcheck);
  PutList(j, "Shell", c.shell);
  PutList(j, "OnBuild", c.on_build);
  if (c.args_escaped) j["ArgsEscaped"] = true;
  return j;
}

// ---- Decoding ----

Result<Platform> PlatformFrom(const json& j, const std::string& path) {
  KILN_TRY(ExpectObject(j, path));
  Platform p;
  KILN_TRY(ReadString(j, "architecture", path, p.architecture));
  KILN_TRY(ReadString(j, "os", path, p.os));
  KILN_TRY(ReadString(j, "os.version", path, p.os_version));
  KILN_TRY(ReadStringList(j, "os.features", path, p.os_features));
  KILN_TRY(ReadString(j, "variant", path, p.variant));
  return p;
}

Result<Descriptor> DescriptorFrom(const json& j, const std::string& path) {
  KILN_TRY(ExpectObject(j, path));
  Descriptor d;
  KILN_TRY(ReadString(j, "mediaType", path, d.media_type));
  const json* digest = Field(j, "digest");
  if (!digest) return Fail(Error::Invalid(fmt::format("{}.digest: missing", path)));
  KILN_TRY_ASSIGN(d.digest, ParseDigestAt(*digest, path + ".digest"));
  KILN_TRY(ReadInt64(j, "size", path, d.size));
  if (d.size < 0) return Fail(Error::Invalid(fmt::format("{}.size: negative size {}", path, d.size)));
  KILN_TRY(ReadStringList(j, "urls", path, d.urls));
  KILN_TRY(ReadStringMap(j, "annotations", path, d.annotations));
  if (const json* p = Field(j, "platform")) {
    KILN_TRY_ASSIGN(d.platform, PlatformFrom(*p, path + ".platform"));
  }
  KILN_TRY(ReadString(j, "artifactType", path, d.artifact_type));
  return d;
}

Result<std::vector<Descriptor>> DescriptorsFrom(const json& obj, std::string_view key, const std::string& path) {
  std::vector<Descriptor> out;
  const json* v = Field(obj, key);
  if (!v) return out;
  std::string p = fmt::format("{}.{}", path, key);
  if (!v->is_array()) return Fail(TypeError(p, "array", *v));
  for (size_t i = 0; i < v->size(); ++i) {
    KILN_TRY_ASSIGN(auto d, DescriptorFrom((*v)[i], fmt::format("{}[{}]", p, i)));
    out.push_back(std::move(d));
  }
  return out;
}

Result<void> CheckSchemaVersion(const json& j, const std::string& path, int& out) {
  out = 0;
  KILN_TRY(ReadInt(j, "schemaVersion", path, out));
  if (out != 2) {
    return Fail(Error::Invalid(fmt::format("{}.schemaVersion: unsupported schema version {} (want 2)", path,
                                           Field(j, "schemaVersion") ? Dump(j["schemaVersion"]) : "missing")));
  }
  return Ok();
}

Result<Healthcheck> HealthcheckFrom(const json& j, const std::string& path) {
  KILN_TRY(ExpectObject(j, path));
  Healthcheck h;
  KILN_TRY(ReadStringList(j, "Test", path, h.test));
  KILN_TRY(ReadInt64(j, "Interval", path, h.interval));
  KILN_TRY(ReadInt64(j, "Timeout", path, h.timeout));
  KILN_TRY(ReadInt64(j, "StartPeriod", path, h.start_period));
  KILN_TRY(ReadInt64(j, "StartInterval", path, h.start_interval));
  KILN_TRY(ReadInt(j, "Retries", path, h.retries));
  return h;
}

Result<ContainerConfig> ContainerConfigFrom(const json& j, const std::string& path) {
  KILN_TRY(ExpectObject(j, path));
  ContainerConfig c;
  KILN_TRY(ReadString(j, "User", path, c.user));
  KILN_TRY(ReadKeySet(j, "ExposedPorts", path, c.exposed_ports));
  KILN_TRY(ReadStringList(j, "Env", path, c.env));
  KILN_TRY(ReadStringList(j, "Entrypoint", path, c.entrypoint));
  KILN_TRY(ReadStringList(j, "Cmd", path, c.cmd));
  KILN_TRY(ReadKeySet(j, "Volumes", path, c.volumes));
  KILN_TRY(ReadString(j, "WorkingDir", path, c.working_dir));
  KILN_TRY(ReadStringMap(j, "Labels", path, c.labels));
  KILN_TRY(ReadString(j, "StopSignal", path, c.stop_signal));
  if (const json* h = Field(j, "Healthcheck")) {
    KILN_TRY_ASSIGN(c.healthcheck, HealthcheckFrom(*h, path + ".Healthcheck"));
  }
  KILN_TRY(ReadStringList(j, "Shell", path, c.shell));
  KILN_TRY(ReadStringList(j, "OnBuild", path, c.on_build));
  KILN_TRY(ReadBool(j, "ArgsEscaped", path, c.args_escaped));
  return c;
}

Result<History> HistoryFrom(const json& j, const std::string& path) {
  KILN_TRY(ExpectObject(j, path));
  History h;
  KILN_TRY(ReadString(j, "created", path, h.created));
  KILN_TRY(ReadString(j, "created_by", path, h.created_by));
  KILN_TRY(ReadString(j, "author", path, h.author));
  KILN_TRY(ReadString(j, "comment", path, h.comment));
  KILN_TRY(ReadBool(j, "empty_layer", path, h.empty_layer));
  return h;
}

}  // namespace

namespace internal {

json ImageConfigJson(const ImageConfig& c) {
  json j = json::object();
  PutString(j, "created", c.created);
  PutString(j, "author", c.author);
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  PutString(j, "os.version", c.os_version);
  PutList(j, "os.features", c.os_features);
  PutString(j, "variant", c.variant);
  json config = ContainerConfigJson(c.config);
  if (!config.empty()) j["config"] = std::move(config);
  json rootfs = json::object();
  rootfs["type"] = c.rootfs.type;
  rootfs["diff_ids"] = json::array();
  for (const Digest& d : c.rootfs.diff_ids) rootfs["diff_ids"].push_back(d.str());
  j["rootfs"] = std::move(rootfs);
  if (!c.history.empty()) {
    json history = json::array();
    for (const History& h : c.history) {
      json e = json::object();
      PutString(e, "created", h.created);
      PutString(e, "created_by", h.created_by);
      PutString(e, "author", h.author);
      PutString(e, "comment", h.comment);
      if (h.empty_layer) e["empty_layer"] = true;
      history.push_back(std::move(e));
    }
    j["history"] = std::move(history);
  }
  return j;
}

json ContainerConfigToJson(const ContainerConfig& c) { return ContainerConfigJson(c); }

}  // namespace internal

std::string EncodePlatform(const Platform& p) { return Dump(PlatformJson(p)); }
std::string EncodeDescriptor(const Descriptor& d) { return Dump(DescriptorJson(d)); }

std::string EncodeManifest(const Manifest& m) {
  json j = json::object();
  j["schemaVersion"] = m.schema_version;
  PutString(j, "mediaType", m.media_type);
  PutString(j, "artifactType", m.artifact_type);
  j["config"] = DescriptorJson(m.config);
  j["layers"] = DescriptorList(m.layers);
  if (m.subject) j["subject"] = DescriptorJson(*m.subject);
  PutMap(j, "annotations", m.annotations);
  return Dump(j);
}

std::string EncodeIndex(const Index& index) {
  json j = json::object();
  j["schemaVersion"] = index.schema_version;
  PutString(j, "mediaType", index.media_type);
  PutString(j, "artifactType", index.artifact_type);
  j["manifests"] = DescriptorList(index.manifests);
  if (index.subject) j["subject"] = DescriptorJson(*index.subject);
  PutMap(j, "annotations", index.annotations);
  return Dump(j);
}

std::string EncodeImageConfig(const ImageConfig& config) { return Dump(ImageConfigJson(config)); }

Result<Platform> DecodePlatform(std::string_view text) {
  KILN_TRY_ASSIGN(json j, ParseJson(text, "platform", kMaxManifestBytes));
  return PlatformFrom(j, "platform");
}

Result<Descriptor> DecodeDescriptor(std::string_view text) {
  KILN_TRY_ASSIGN(json j, ParseJson(text, "descriptor", kMaxManifestBytes));
  return DescriptorFrom(j, "descriptor");
}

Result<Manifest> DecodeManifest(std::string_view text) {
  KILN_TRY_ASSIGN(json j, ParseJson(text, "manifest", kMaxManifestBytes));
  const std::string path = "manifest";
  KILN_TRY(ExpectObject(j, path));
  Manifest m;
  KILN_TRY(CheckSchemaVersion(j, path, m.schema_version));
  KILN_TRY(ReadString(j, "mediaType", path, m.media_type));
  if (!m.media_type.empty() && !IsManifestMediaType(m.media_type))
    return Fail(Error::Invalid(fmt::format("manifest.mediaType: {} is not an image manifest", Quote(m.media_type))));
  KILN_TRY(ReadString(j, "artifactType", path, m.artifact_type));
  const json* config = Field(j, "config");
  if (!config) return Fail(Error::Invalid("manifest.config: missing"));
  KILN_TRY_ASSIGN(m.config, DescriptorFrom(*config, "manifest.config"));
  KILN_TRY_ASSIGN(m.layers, DescriptorsFrom(j, "layers", path));
  if (const json* s = Field(j, "subject")) {
    KILN_TRY_ASSIGN(m.subject, DescriptorFrom(*s, "manifest.subject"));
  }
  KILN_TRY(ReadStringMap(j, "annotations", path, m.annotations));
  return m;
}

Result<Index> DecodeIndex(std::string_view text) {
  KILN_TRY_ASSIGN(json j, ParseJson(text, "index", kMaxManifestBytes));
  const std::string path = "index";
  KILN_TRY(ExpectObject(j, path));
  Index index;
  KILN_TRY(CheckSchemaVersion(j, path, index.schema_version));
  KILN_TRY(ReadString(j, "mediaType", path, index.media_type));
  if (!index.media_type.empty() && !IsIndexMediaType(index.media_type))
    return Fail(Error::Invalid(fmt::format("index.mediaType: {} is not an image index", Quote(index.media_type))));
  KILN_TRY(ReadString(j, "artifactType", path, index.artifact_type));
  KILN_TRY_ASSIGN(index.manifests, DescriptorsFrom(j, "manifests", path));
  if (const json* s = Field(j, "subject")) {
    KILN_TRY_ASSIGN(index.subject, DescriptorFrom(*s, "index.subject"));
  }
  KILN_TRY(ReadStringMap(j, "annotations", path, index.annotations));
  return index;
}

Result<ImageConfig> DecodeImageConfig(std::string_view text) {
  KILN_TRY_ASSIGN(json j, ParseJson(text, "config", kMaxConfigBytes));
  const std::string path = "config";
  KILN_TRY(ExpectObject(j, path));
  ImageConfig c;
  KILN_TRY(ReadString(j, "created", path, c.created));
  KILN_TRY(ReadString(j, "author", path, c.author));
  KILN_TRY(ReadString(j, "architecture", path, c.architecture));
  KILN_TRY(ReadString(j, "os", path, c.os));
  KILN_TRY(ReadString(j, "os.version", path, c.os_version));
  KILN_TRY(ReadStringList(j, "os.features", path, c.os_features));
  KILN_TRY(ReadString(j, "variant", path, c.variant));
  if (const json* cc = Field(j, "config")) {
    KILN_TRY_ASSIGN(c.config, ContainerConfigFrom(*cc, "config.config"));
  }
  if (const json* rootfs = Field(j, "rootfs")) {
    KILN_TRY(ExpectObject(*rootfs, "config.rootfs"));
    KILN_TRY(ReadString(*rootfs, "type", "config.rootfs", c.rootfs.type));
    if (const json* ids = Field(*rootfs, "diff_ids")) {
      if (!ids->is_array()) return Fail(TypeError("config.rootfs.diff_ids", "array", *ids));
      for (size_t i = 0; i < ids->size(); ++i) {
        KILN_TRY_ASSIGN(Digest d, ParseDigestAt((*ids)[i], fmt::format("config.rootfs.diff_ids[{}]", i)));
        c.rootfs.diff_ids.push_back(std::move(d));
      }
    }
  }
  if (const json* history = Field(j, "history")) {
    if (!history->is_array()) return Fail(TypeError("config.history", "array", *history));
    for (size_t i = 0; i < history->size(); ++i) {
      KILN_TRY_ASSIGN(History h, HistoryFrom((*history)[i], fmt::format("config.history[{}]", i)));
      c.history.push_back(std::move(h));
    }
  }
  return c;
}

Result<std::string> DetectManifestMediaType(std::string_view text) {
  KILN_TRY_ASSIGN(json j, ParseJson(text, "manifest", kMaxManifestBytes));
  KILN_TRY(ExpectObject(j, "manifest"));
  std::string media_type;
  KILN_TRY(ReadString(j, "mediaType", "manifest", media_type));
  if (!media_type.empty()) return media_type;
  if (Field(j, "manifests")) return std::string(kOciIndex);
  if (Field(j, "layers") || Field(j, "config")) return std::string(kOciManifest);
  return Fail(Error::Invalid("manifest: neither an image manifest nor an index (no mediaType, manifests or layers)"));
}

}  // namespace kiln::image
