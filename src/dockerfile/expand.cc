// Word expansion and ARG/ENV scoping; see docs/formats/dockerfile-expansion.md.

#include "dockerfile/expand.h"

#include <algorithm>
#include <map>

#include "base/strings.h"
#include "dockerfile/parser_internal.h"
#include "dockerfile/shell_internal.h"

namespace kiln::dockerfile {

std::string Platform::ToString() const {
  std::string s = os + "/" + arch;
  if (!variant.empty()) s += "/" + variant;
  return s;
}

const std::vector<std::string>& ProxyArgNames() {
  static const std::vector<std::string> names = {
      "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
      "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
  return names;
}

std::vector<KeyValue> PlatformArgs(const EvalOptions& opts) {
  const Platform& t = opts.target_platform;
  const Platform& b = opts.build_platform;
  return {
      {"BUILDPLATFORM", b.ToString()}, {"BUILDOS", b.os},         {"BUILDARCH", b.arch},
      {"BUILDVARIANT", b.variant},     {"TARGETPLATFORM", t.ToString()}, {"TARGETOS", t.os},
      {"TARGETARCH", t.arch},          {"TARGETVARIANT", t.variant},
  };
}

namespace {

const KeyValue* FindKey(const std::vector<KeyValue>& kvs, std::string_view key) {
  for (const auto& kv : kvs)
    if (kv.key == key) return &kv;
  return nullptr;
}

void Upsert(std::vector<KeyValue>* kvs, std::string key, std::string value) {
  for (auto& kv : *kvs) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kvs->push_back({std::move(key), std::move(value)});
}

}  // namespace

std::optional<std::string> Scope::Lookup(std::string_view name) const {
  if (const KeyValue* kv = FindKey(vars, name)) return kv->value;
  return std::nullopt;
}

void Scope::SetEnv(std::string key, std::string value) {
  Upsert(&vars, key, value);
  Upsert(&env, std::move(key), std::move(value));
}

void Scope::SetArg(std::string key, std::optional<std::string> value) {
  if (std::find(declared.begin(), declared.end(), key) == declared.end()) declared.push_back(key);
  declarations.push_back(key);
  if (!value) return;
  Upsert(&vars, key, *value);
  Upsert(&args, std::move(key), std::move(*value));
}

Result<std::string> ExpandWord(std::string_view word, const Lookup& lookup, const ExpandOptions& opts) {
  internal::LexOptions lo;
  lo.escape = opts.escape;
  lo.lookup = &lookup;
  lo.unset_names = opts.unset_names;
  KILN_TRY_ASSIGN(auto r, internal::Lex(word, lo));
  return std::move(r.word);
}

Result<std::vector<std::string>> ExpandWords(std::string_view word, const Lookup& lookup,
                                             const ExpandOptions& opts) {
  internal::LexOptions lo;
  lo.escape = opts.escape;
  lo.lookup = &lookup;
  lo.unset_names = opts.unset_names;
  KILN_TRY_ASSIGN(auto r, internal::Lex(word, lo));
  return std::move(r.words);
}

namespace {

class Expander {
 public:
  Expander(const Instruction& in, const Scope& scope, std::vector<std::string>* unset)
      : in_(in), lookup_([&scope](std::string_view n) { return scope.Lookup(n); }) {
    opts_.escape = in.escape;
    opts_.unset_names = unset;
  }

  Result<std::string> Word(const std::string& w) const {
    auto r = ExpandWord(w, lookup_, opts_);
    if (!r) return Fail(Error::Syntax(in_.loc, r.error().message()));
    return r;
  }
  Result<void> InPlace(std::string* w) const {
    KILN_TRY_ASSIGN(*w, Word(*w));
    return Ok();
  }
  Result<std::vector<std::string>> Words(const std::string& w) const {
    auto r = ExpandWords(w, lookup_, opts_);
    if (!r) return Fail(Error::Syntax(in_.loc, r.error().message()));
    return r;
  }
  // Heredoc bodies (BuildKit's ExpandRaw): quotes are plain text, so
  // variables expand even inside '...'; backslash escapes apply whatever
  // the escape directive says (`\$x` gives `$x`, `\n` gives `n`).
  Result<std::string> Body(const std::string& w) const {
    internal::LexOptions lo;
    lo.escape = '\\';
    lo.skip_quotes = true;
    lo.lookup = &lookup_;
    lo.unset_names = opts_.unset_names;
    auto r = internal::Lex(w, lo);
    if (!r) return Fail(Error::Syntax(in_.loc, r.error().message()));
    return std::move(r->word);
  }

 private:
  const Instruction& in_;
  Lookup lookup_;
  ExpandOptions opts_;
};

// BuildKit's dispatchArg (and buildMetaArgs for the global ARGs): the names
// of one ARG line in turn, each taking its --build-arg (from `opts`; its
// default is then never expanded), else its default expanded against
// `scope` as it stands (so `ARG A=1 B=$A` gives B=1), else the value of the
// global ARG of that name (`global`, when in a stage). Declares each in
// `scope`; `arg` keeps the defaults, expanded where they were used, for
// history. `used` collects the --build-arg names consumed.
Result<void> DeclareArgs(Instruction* arg, Scope* scope, const EvalOptions* opts, const Scope* global,
                         std::vector<std::string>* used, std::vector<std::string>* unset_names) {
  Expander ex(*arg, *scope, unset_names);
  for (ArgDecl& d : arg->As<ArgArgs>().args) {
    std::optional<std::string> value;
    const std::string* given = nullptr;
    if (opts) {
      auto it = opts->build_args.find(d.name);
      if (it != opts->build_args.end()) given = &it->second;
    }
    if (given) {
      value = *given;
      if (used && std::find(used->begin(), used->end(), d.name) == used->end()) used->push_back(d.name);
    } else if (d.value) {
      KILN_TRY(ex.InPlace(&*d.value));
      value = d.value;
    } else if (global) {
      if (const KeyValue* g = FindKey(global->args, d.name)) value = g->value;
    }
    scope->SetArg(d.name, std::move(value));
  }
  return Ok();
}

}  // namespace

Result<Instruction> Expand(const Instruction& in, const Scope& scope, std::vector<std::string>* unset_names) {
  Instruction out = in;
  Expander ex(in, scope, unset_names);
  switch (in.kind) {
    case Kind::kFrom: {
      auto& a = out.As<FromArgs>();
      KILN_TRY(ex.InPlace(&a.image));
      KILN_TRY(ex.InPlace(&a.platform));
      break;
    }
    case Kind::kEnv:
    case Kind::kLabel:
      for (auto& kv : out.As<KeyValueArgs>().pairs) {
        KILN_TRY(ex.InPlace(&kv.key));
        KILN_TRY(ex.InPlace(&kv.value));
      }
      break;
    case Kind::kArg: {
      Scope running = scope;
      KILN_TRY(DeclareArgs(&out, &running, nullptr, nullptr, nullptr, unset_names));
      break;
    }
    case Kind::kAdd:
    case Kind::kCopy: {
      auto& a = out.As<CopyArgs>();
      for (auto& s : a.sources) KILN_TRY(ex.InPlace(&s));
      KILN_TRY(ex.InPlace(&a.dest));
      KILN_TRY(ex.InPlace(&a.chown));
      KILN_TRY(ex.InPlace(&a.chmod));
      KILN_TRY(ex.InPlace(&a.checksum));
      for (auto& e : a.excludes) KILN_TRY(ex.InPlace(&e));
      for (auto& h : a.heredocs) {
        if (h.expand) { KILN_TRY_ASSIGN(h.content, ex.Body(h.content)); }
      }
      break;
    }
    case Kind::kExpose: {
      std::vector<std::string> ports;
      for (const auto& p : in.As<ExposeArgs>().ports) {
        KILN_TRY_ASSIGN(auto words, ex.Words(p));
        for (auto& w : words) ports.push_back(std::move(w));
      }
      out.As<ExposeArgs>().ports = std::move(ports);
      break;
    }
    case Kind::kVolume:
      for (auto& p : out.As<VolumeArgs>().paths) KILN_TRY(ex.InPlace(&p));
      break;
    case Kind::kUser: KILN_TRY(ex.InPlace(&out.As<UserArgs>().user)); break;
    case Kind::kWorkdir: KILN_TRY(ex.InPlace(&out.As<WorkdirArgs>().path)); break;
    case Kind::kStopsignal: KILN_TRY(ex.InPlace(&out.As<StopsignalArgs>().signal)); break;
    case Kind::kRun: {
      auto& a = out.As<RunArgs>();
      internal::WordExpander fn = [&ex](const std::string& w) { return ex.Word(w); };
      for (auto& m : a.mounts) {
        KILN_TRY_ASSIGN(m, internal::ParseMountWith(m.spec, m.loc, &fn));
      }
      break;
    }
    case Kind::kCmd:
    case Kind::kEntrypoint:
    case Kind::kMaintainer:
    case Kind::kOnbuild:
    case Kind::kHealthcheck:
    case Kind::kShell:
      break;
  }
  return out;
}

Result<Scope> GlobalScope(const Dockerfile& df, const EvalOptions& opts) {
  Scope scope;
  for (auto& kv : PlatformArgs(opts)) scope.SetArg(kv.key, kv.value);
  for (const Instruction& ins : df.meta_args) {
    Instruction declared = ins;
    KILN_TRY(DeclareArgs(&declared, &scope, &opts, nullptr, nullptr, nullptr));
  }
  return scope;
}

std::vector<std::string> UnusedBuildArgs(const Dockerfile& df, const EvalOptions& opts) {
  std::vector<std::string> declared;
  auto add = [&](const Instruction& in) {
    if (in.kind != Kind::kArg) return;
    for (const ArgDecl& d : in.As<ArgArgs>().args) declared.push_back(d.name);
  };
  for (const Instruction& in : df.meta_args) add(in);
  for (const Stage& st : df.stages)
    for (const Instruction& in : st.instructions) add(in);
  std::vector<std::string> unused;
  const auto& proxies = ProxyArgNames();
  for (const auto& [name, value] : opts.build_args) {
    if (std::find(declared.begin(), declared.end(), name) != declared.end()) continue;
    if (std::find(proxies.begin(), proxies.end(), name) != proxies.end()) continue;
    unused.push_back(name);
  }
  return unused;  // std::map iteration order is sorted
}

StageEvaluator::StageEvaluator(const Scope& global, const EvalOptions& opts, Scope start)
    : global_(global), opts_(opts), scope_(std::move(start)) {
  // BuildKit starts every stage by writing its base config's env into the
  // build state, over ARG values a parent stage left there.
  for (const KeyValue& kv : scope_.env) Upsert(&scope_.vars, kv.key, kv.value);
}

Scope StageEvaluator::StartScope(const std::vector<std::string>& image_env) {
  Scope s;
  for (const auto& e : image_env) {
    Cut kv = CutString(e, '=');
    s.SetEnv(std::string(kv.first), std::string(kv.second));
  }
  return s;
}

Result<Instruction> StageEvaluator::Step(const Instruction& in, std::vector<std::string>* unset_names) {
  if (in.kind == Kind::kArg) {
    Instruction out = in;
    Scope next = scope_;
    KILN_TRY(DeclareArgs(&out, &next, &opts_, &global_, &used_, unset_names));
    scope_ = std::move(next);
    return out;
  }
  KILN_TRY_ASSIGN(Instruction out, Expand(in, scope_, unset_names));
  if (out.kind == Kind::kEnv) {
    for (const auto& kv : out.As<KeyValueArgs>().pairs) scope_.SetEnv(kv.key, kv.value);
  }
  return out;
}

std::vector<std::string> StageEvaluator::RunEnv() const {
  std::vector<std::string> env;
  // The config env's order first, then ARG values (the order is cosmetic).
  for (const auto& kv : scope_.env) env.push_back(kv.key + "=" + *scope_.Lookup(kv.key));
  for (const auto& kv : scope_.vars) {
    if (!FindKey(scope_.env, kv.key)) env.push_back(kv.key + "=" + kv.value);
  }
  for (const auto& name : ProxyArgNames()) {
    auto it = opts_.build_args.find(name);
    if (it == opts_.build_args.end() || FindKey(scope_.vars, name)) continue;
    env.push_back(name + "=" + it->second);
  }
  return env;
}

}  // namespace kiln::dockerfile
