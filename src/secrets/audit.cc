#include "secrets/audit.h"

#include <algorithm>
#include <functional>
#include <set>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>

#include "base/strings.h"

namespace kiln::secrets {

bool LooksSecretName(std::string_view name) {
  static const std::set<std::string> kTokens = {"apikey",   "auth",  "credential", "credentials",
                                                "key",      "password", "pword",   "passwd",
                                                "secret",   "token"};
  bool secret = false;
  for (const auto& part : Split(name, '_')) {
    std::string t = ToLower(part);
    if (t == "public") return false;
    if (kTokens.count(t)) secret = true;
  }
  return secret;
}

std::vector<std::pair<std::string, std::string>> HistoryBuildArgs(std::string_view created_by) {
  std::vector<std::pair<std::string, std::string>> out;
  if (created_by.empty() || created_by[0] != '|') return out;
  size_t sp = created_by.find(' ');
  if (sp == std::string_view::npos || sp == 1) return out;
  size_t n = 0;
  for (size_t i = 1; i < sp; ++i) {
    if (created_by[i] < '0' || created_by[i] > '9') return out;
    n = n * 10 + (created_by[i] - '0');
    if (n > 10000) return out;
  }
  size_t pos = sp + 1;
  for (size_t k = 0; k < n; ++k) {
    size_t end = created_by.find(' ', pos);
    std::string_view tok = created_by.substr(pos, end == std::string_view::npos
                                                      ? std::string_view::npos
                                                      : end - pos);
    Cut kv = CutString(tok, '=');
    if (!kv.found || kv.first.empty()) return {};
    out.emplace_back(std::string(kv.first), std::string(kv.second));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return out;
}

std::string DescribeAuditFinding(const AuditFinding& f) {
  std::string where = f.layer.empty() ? f.location : fmt::format("layer {}", f.layer);
  switch (f.kind) {
    case AuditKind::kSecretValue: {
      LeakFinding lf{f.secret_id, f.location, f.encoding, f.found_in, ""};
      if (!f.layer.empty()) return fmt::format("{}: {}", where, DescribeFinding(lf));
      return fmt::format("{}: secret {} found ({})", where, Quote(f.secret_id),
                         EncodingName(f.encoding));
    }
    case AuditKind::kSecretNamedEnv:
      return fmt::format("{}: ENV {} looks like a secret and is stored in the image", where,
                         f.name);
    case AuditKind::kSecretNamedArg:
      return fmt::format("{}: build arg {} looks like a secret and is recorded in the image",
                         where, f.name);
  }
  return where;
}

namespace {

// "ENV A=b C=d", "ARG A", or the classic builder's "/bin/sh -c #(nop)  ENV A=b".
// Returns the instruction ("ENV"/"ARG") and the names it sets.
std::pair<std::string, std::vector<std::string>> HistoryInstruction(std::string_view created_by) {
  std::string_view s = TrimSpace(created_by);
  constexpr std::string_view kNop = "/bin/sh -c #(nop)";
  if (StartsWith(s, kNop)) s = TrimSpace(s.substr(kNop.size()));
  std::vector<std::string> names;
  std::string inst;
  if (StartsWith(s, "ENV ")) inst = "ENV";
  else if (StartsWith(s, "ARG ")) inst = "ARG";
  else return {"", {}};
  std::string_view rest = TrimSpace(s.substr(4));
  std::vector<std::string> words;
  for (const auto& w : Split(rest, ' '))
    if (!w.empty()) words.push_back(w);
  if (words.empty()) return {"", {}};
  if (inst == "ENV" && words[0].find('=') == std::string::npos) {
    names.push_back(words[0]);  // legacy "ENV NAME value"
  } else {
    for (const auto& w : words) {
      Cut kv = CutString(w, '=');
      if (!kv.first.empty()) names.emplace_back(kv.first);
    }
  }
  return {inst, names};
}

}  // namespace

Result<std::vector<AuditFinding>> AuditImage(const AuditInput& input, const LeakScanner& scanner) {
  std::vector<AuditFinding> out;
  std::set<std::pair<AuditKind, std::string>> named;
  auto add_named = [&](AuditKind kind, const std::string& name, std::string location) {
    if (!named.insert({kind, name}).second) return;
    AuditFinding f;
    f.kind = kind;
    f.name = name;
    f.location = std::move(location);
    out.push_back(std::move(f));
  };
  auto add_values = [&](std::string_view data, const std::string& location) {
    for (const auto& lf : scanner.ScanBytes(data, location, FoundIn::kContent)) {
      AuditFinding f;
      f.secret_id = lf.secret_id;
      f.location = location;
      f.encoding = lf.encoding;
      out.push_back(std::move(f));
    }
  };

  // 1. Config: secret values anywhere in it, then names.
  nlohmann::json config = nlohmann::json::parse(input.config_json, nullptr,
                                                /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object())
    return Fail(Error::Invalid("image config is not a JSON object"));
  // Each string (and key) by its JSON path, so a finding says where it is
  // ("config history[3].created_by"); then the raw text, for what only shows
  // up JSON-escaped.
  std::set<std::pair<std::string, Encoding>> located;
  std::function<void(const nlohmann::json&, const std::string&)> walk = [&](const nlohmann::json& j,
                                                                            const std::string& path) {
    if (j.is_string()) {
      for (const auto& lf : scanner.ScanBytes(j.get_ref<const std::string&>(), path, FoundIn::kContent)) {
        AuditFinding f;
        f.secret_id = lf.secret_id;
        f.location = "config " + path;
        f.encoding = lf.encoding;
        located.insert({lf.secret_id, lf.encoding});
        out.push_back(std::move(f));
      }
    } else if (j.is_object()) {
      for (const auto& [k, v] : j.items()) {
        std::string child = path.empty() ? k : path + "." + k;
        walk(nlohmann::json(k), child + " (key)");
        walk(v, child);
      }
    } else if (j.is_array()) {
      for (size_t i = 0; i < j.size(); ++i) walk(j[i], fmt::format("{}[{}]", path, i));
    }
  };
  walk(config, "");
  for (const auto& lf : scanner.ScanBytes(input.config_json, "config", FoundIn::kContent)) {
    if (located.count({lf.secret_id, lf.encoding})) continue;
    AuditFinding f;
    f.secret_id = lf.secret_id;
    f.location = "config";
    f.encoding = lf.encoding;
    out.push_back(std::move(f));
  }
  auto cfg = config.find("config");
  if (cfg != config.end() && cfg->is_object()) {
    auto env = cfg->find("Env");
    if (env != cfg->end() && env->is_array()) {
      for (const auto& e : *env) {
        if (!e.is_string()) continue;
        std::string name(CutString(e.get_ref<const std::string&>(), '=').first);
        if (LooksSecretName(name)) add_named(AuditKind::kSecretNamedEnv, name, "config Env");
      }
    }
  }
  auto history = config.find("history");
  if (history != config.end() && history->is_array()) {
    for (size_t i = 0; i < history->size(); ++i) {
      const auto& h = (*history)[i];
      if (!h.is_object()) continue;
      auto cb = h.find("created_by");
      if (cb == h.end() || !cb->is_string()) continue;
      const std::string& created_by = cb->get_ref<const std::string&>();
      std::string loc = fmt::format("history[{}]", i);
      for (const auto& [name, value] : HistoryBuildArgs(created_by))
        if (LooksSecretName(name)) add_named(AuditKind::kSecretNamedArg, name, loc);
      auto [inst, names] = HistoryInstruction(created_by);
      for (const auto& name : names) {
        if (!LooksSecretName(name)) continue;
        add_named(inst == "ENV" ? AuditKind::kSecretNamedEnv : AuditKind::kSecretNamedArg, name,
                  loc);
      }
    }
  }

  // 2. Annotations.
  for (const auto& [k, v] : input.annotations) {
    add_values(k, fmt::format("annotation {}", k));
    add_values(v, fmt::format("annotation {}", k));
  }

  // 3. Layers.
  for (const auto& layer : input.layers) {
    auto opened = layer.open();
    if (!opened) return Fail(std::move(opened).error().Wrap("auditing layer {}", layer.digest));
    auto found = scanner.ScanTar(*opened);
    if (!found) return Fail(std::move(found).error().Wrap("auditing layer {}", layer.digest));
    for (const auto& lf : *found) {
      AuditFinding f;
      f.secret_id = lf.secret_id;
      f.layer = layer.digest;
      f.location = lf.path;
      f.encoding = lf.encoding;
      f.found_in = lf.found_in;
      out.push_back(std::move(f));
    }
  }
  return out;
}

void CheckBuildArgs(const std::vector<std::pair<std::string, std::string>>& build_args,
                    const SecretStore& store, Diagnostics& diag) {
  for (const auto& [name, value] : build_args) {
    if (LooksSecretName(name))
      diag.Warn({"BuildArgLooksSecret",
                 fmt::format("--build-arg {} looks like a secret; build args are recorded in "
                             "the image history. Use --secret id={},env={} and RUN "
                             "--mount=type=secret,id={},env={} instead",
                             name, name, name, name, name),
                 {}});
    for (const auto& id : store.ids()) {
      std::string_view secret = store.Find(id)->view();
      if (secret.empty() || secret.size() != value.size()) continue;
      if (CRYPTO_memcmp(secret.data(), value.data(), secret.size()) == 0)
        diag.Warn({"BuildArgIsSecret",
                   fmt::format("--build-arg {} has the same value as secret {}; build args are "
                               "recorded in the image history",
                               name, Quote(id)),
                   {}});
    }
  }
}

}  // namespace kiln::secrets
