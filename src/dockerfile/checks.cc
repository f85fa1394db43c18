// BuildKit's build checks (frontend/dockerfile/linter), with its rule names
// and message wording.

#include "dockerfile/checks.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "base/strings.h"
#include "dockerfile/dockerignore.h"
#include "dockerfile/stages.h"

namespace kiln::dockerfile {

const std::vector<std::string>& CheckNames() {
  static const std::vector<std::string> names = {
      "StageNameCasing",     "FromAsCasing",           "NoEmptyContinuation",
      "ConsistentInstructionCasing", "DuplicateStageName", "ReservedStageName",
      "JSONArgsRecommended", "MaintainerDeprecated",   "UndefinedArgInFrom",
      "WorkdirRelativePath", "UndefinedVar",           "MultipleInstructionsDisallowed",
      "LegacyKeyValueFormat", "SecretsUsedInArgOrEnv", "InvalidDefaultArgInFrom",
      "ExposeProtoCasing",   "ExposeInvalidFormat",    "CopyIgnoredFile"};
  return names;
}

namespace {

bool IsLower(std::string_view s) { return ToLower(s) == s; }
bool IsUpper(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return std::islower(static_cast<unsigned char>(c)); });
}
bool SelfConsistent(std::string_view s) { return IsLower(s) || IsUpper(s); }

// (?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)
// unless (?i)(?:_|^)public(?:_|$) also matches.
bool LooksLikeSecret(std::string_view name) {
  static const std::vector<std::string> deny = {"apikey", "auth",  "credential", "credentials", "key",
                                                "password", "pword", "passwd",   "secret",      "token"};
  bool secret = false;
  for (const auto& tok : Split(ToLower(name), '_')) {
    if (tok == "public") return false;
    if (std::find(deny.begin(), deny.end(), tok) != deny.end()) secret = true;
  }
  return secret;
}

// A rough reference check for InvalidDefaultArgInFrom: what
// reference.ParseNormalizedNamed would reject outright.
bool ValidImageRef(std::string_view ref) {
  if (ref.empty()) return false;
  if (ref.back() == ':' || ref.back() == '@' || ref.back() == '/' || ref.front() == ':' ||
      ref.front() == '/' || ref.front() == '@')
    return false;
  for (char c : ref)
    if (std::isspace(static_cast<unsigned char>(c))) return false;
  // The repository path (before a tag or digest) must be lower case; the
  // first component may be a registry host:port.
  std::string_view path = ref.substr(0, ref.find('@'));
  size_t slash = path.find('/');
  std::string_view first = slash == std::string_view::npos ? std::string_view() : path.substr(0, slash);
  bool host = first.find_first_of(".:") != std::string_view::npos || first == "localhost";
  std::string_view rest = host ? path.substr(slash + 1) : path;
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos) rest = rest.substr(0, colon);
  return IsLower(rest) && !rest.empty();
}

class Checker {
 public:
  Checker(const Dockerfile& df, const CheckOptions& opts, Diagnostics& diags)
      : df_(df), opts_(opts), diags_(diags) {
    if (df.directives.check) {
      for (const auto& s : df.directives.check->skip) {
        if (ToLower(s) == "all") skip_all_ = true;
        skip_.push_back(s);
      }
    }
  }

  Result<CheckResult> Run() {
    KILN_TRY_ASSIGN(global_, GlobalScope(df_, opts_.eval));
    for (const auto& loc : df_.empty_continuations) Report("NoEmptyContinuation", "Empty continuation line", loc);
    Casing();
    for (const Instruction& a : df_.meta_args) CheckArgOrEnv(a);
    std::map<std::string, int> seen_names;
    std::vector<Scope> finals(df_.stages.size());
    std::vector<bool> workdir_set(df_.stages.size(), false);
    std::vector<std::optional<std::vector<std::string>>> envs(df_.stages.size());
    for (const Stage& st : df_.stages) {
      CheckFrom(st, &seen_names);
      // Where this stage starts: the parent stage's final state, an image
      // whose env may be known, or scratch.
      auto from = Expand(st.from, global_);
      std::string base = from ? from->As<FromArgs>().image : std::string();
      Scope start;
      bool env_known = false;
      bool wd = false;
      auto parent = FindStage(df_, base);
      if (parent && *parent < st.index) {
        start = finals[*parent];
        env_known = envs[*parent].has_value();
        wd = workdir_set[*parent];
      } else if (base == "scratch") {
        env_known = true;
      } else if (opts_.image_env && !base.empty()) {
        if (auto env = opts_.image_env(base)) {
          start = StageEvaluator::StartScope(*env);
          env_known = true;
        }
      }
      StageEvaluator ev(global_, opts_.eval, start);
      bool has_shell = false;
      std::map<Kind, std::vector<const Instruction*>> singles;
      for (const Instruction& in : st.instructions) {
        std::vector<std::string> unset;
        // Expansion is only needed for UndefinedVar and for the checks that
        // look at expanded words; skipping it elsewhere keeps checks cheap.
        bool need = env_known || in.kind == Kind::kArg || in.kind == Kind::kEnv ||
                    in.kind == Kind::kWorkdir || in.kind == Kind::kExpose ||
                    (opts_.ignore && (in.kind == Kind::kCopy || in.kind == Kind::kAdd));
        Result<Instruction> ex = Fail(Error::Invalid("not expanded"));
        if (need) ex = ev.Step(in, env_known ? &unset : nullptr);
        if (env_known) ReportUndefined(in, ev.scope(), unset);
        CheckArgOrEnv(in);
        switch (in.kind) {
          case Kind::kShell: has_shell = true; break;
          case Kind::kCmd:
          case Kind::kEntrypoint: {
            const Command& c = in.kind == Kind::kCmd ? in.As<CmdArgs>().command : in.As<EntrypointArgs>().command;
            if (c.form == Command::Form::kShell && !has_shell) {
              Report("JSONArgsRecommended",
                     fmt::format("JSON arguments recommended for {} to prevent unintended behavior related to "
                                 "OS signals",
                                 KindName(in.kind)),
                     in.loc);
            }
            singles[in.kind].push_back(&in);
            break;
          }
          case Kind::kHealthcheck: singles[in.kind].push_back(&in); break;
          case Kind::kMaintainer:
            Report("MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label", in.loc);
            break;
          case Kind::kWorkdir:
            if (ex) {
              const std::string& p = ex->As<WorkdirArgs>().path;
              if (!p.empty() && p[0] == '/') {
                wd = true;
              } else if (!wd) {
                Report("WorkdirRelativePath",
                       fmt::format("Relative workdir {} can have unexpected results if the base image changes",
                                   Quote(p)),
                       in.loc);
              }
            }
            break;
          case Kind::kExpose:
            if (ex) CheckExpose(in, *ex);
            break;
          case Kind::kCopy:
          case Kind::kAdd:
            if (ex) CheckIgnored(*ex);
            break;
          default: break;
        }
      }
      for (const auto& [kind, list] : singles) {
        for (size_t i = 0; i + 1 < list.size(); ++i) {
          Report("MultipleInstructionsDisallowed",
                 fmt::format("Multiple {} instructions should not be used in the same stage because only the "
                             "last one will be used",
                             KindName(kind)),
                 list[i]->loc);
        }
      }
      finals[st.index] = ev.scope();
      workdir_set[st.index] = wd;
      if (env_known) envs[st.index] = std::vector<std::string>{};
    }
    std::stable_sort(pending_.begin(), pending_.end(), [](const Warning& a, const Warning& b) {
      return a.loc.line != b.loc.line ? a.loc.line < b.loc.line : a.loc.col < b.loc.col;
    });
    for (auto& w : pending_) diags_.Warn(std::move(w));
    result_.fail = result_.warnings > 0 && df_.directives.check && df_.directives.check->error;
    return result_;
  }

 private:
  void Report(std::string name, std::string message, const SourceLoc& loc) {
    if (skip_all_) return;
    if (std::find(skip_.begin(), skip_.end(), name) != skip_.end()) return;
    ++result_.warnings;
    pending_.push_back(Warning{std::move(name), std::move(message), loc});
  }

  void Casing() {
    std::vector<const Instruction*> all;
    for (const auto& a : df_.meta_args) all.push_back(&a);
    for (const auto& st : df_.stages) {
      all.push_back(&st.from);
      for (const auto& in : st.instructions) all.push_back(&in);
    }
    std::sort(all.begin(), all.end(), [](const Instruction* a, const Instruction* b) { return a->loc.line < b->loc.line; });
    int lower = 0, upper = 0;
    for (const Instruction* in : all) {
      if (!SelfConsistent(in->keyword)) continue;
      (IsLower(in->keyword) ? lower : upper)++;
    }
    bool majority_lower = lower > upper;
    for (const Instruction* in : all) {
      bool ok = majority_lower ? IsLower(in->keyword) : IsUpper(in->keyword);
      if (!ok) {
        Report("ConsistentInstructionCasing",
               fmt::format("Command '{}' should match the case of the command majority ({})", in->keyword,
                           majority_lower ? "lowercase" : "uppercase"),
               in->loc);
      }
    }
  }

  void CheckFrom(const Stage& st, std::map<std::string, int>* seen) {
    const FromArgs& a = st.from.As<FromArgs>();
    const SourceLoc& loc = st.from.loc;
    if (!a.name.empty()) {
      if (a.name_as_written != a.name) {
        Report("StageNameCasing", fmt::format("Stage name '{}' should be lowercase", a.name_as_written), loc);
      }
      if (IsLower(st.from.keyword) != IsLower(a.as_keyword)) {
        Report("FromAsCasing",
               fmt::format("'{}' and '{}' keywords' casing do not match", a.as_keyword, st.from.keyword), loc);
      }
      if (seen->count(a.name)) {
        Report("DuplicateStageName",
               fmt::format("Duplicate stage name {}, stage names should be unique", Quote(a.name)), loc);
      }
      (*seen)[a.name] = st.index;
      if (a.name == "scratch" || a.name == "context") {
        Report("ReservedStageName",
               fmt::format("Stage name should not use the same name as reserved stage {}", Quote(a.name)), loc);
      }
    }
    // UndefinedArgInFrom: variables in FROM that no global ARG declares.
    std::vector<std::string> unset;
    (void)Expand(st.from, global_, &unset);
    std::vector<std::string> reported;
    for (const auto& name : unset) {
      if (std::find(reported.begin(), reported.end(), name) != reported.end()) continue;
      if (std::find(global_.declared.begin(), global_.declared.end(), name) != global_.declared.end()) continue;
      reported.push_back(name);
      std::string msg = fmt::format("FROM argument '{}' is not declared", name);
      std::string sugg = Spellcheck(name, global_.declared);
      if (!sugg.empty()) msg += fmt::format(" (did you mean {}?)", sugg);
      Report("UndefinedArgInFrom", msg, loc);
    }
    // InvalidDefaultArgInFrom: the FROM with only the Dockerfile's defaults.
    if (a.image.find('$') != std::string::npos) {
      EvalOptions defaults_only = opts_.eval;
      defaults_only.build_args.clear();
      if (!defaults_) defaults_ = GlobalScope(df_, defaults_only);
      if (*defaults_) {
        auto ex = Expand(st.from, **defaults_);
        if (ex && !ValidImageRef(ex->As<FromArgs>().image)) {
          Report("InvalidDefaultArgInFrom",
                 fmt::format("Default value for ARG {} results in empty or invalid base image name", a.image),
                 loc);
        }
      }
    }
  }

  void CheckArgOrEnv(const Instruction& in) {
    if (in.kind == Kind::kArg) {
      for (const auto& d : in.As<ArgArgs>().args) {
        if (LooksLikeSecret(d.name)) {
          Report("SecretsUsedInArgOrEnv",
                 fmt::format("Do not use ARG or ENV instructions for sensitive data (ARG {})", Quote(d.name)), in.loc);
        }
      }
    } else if (in.kind == Kind::kEnv || in.kind == Kind::kLabel) {
      const auto& a = in.As<KeyValueArgs>();
      std::string name(KindName(in.kind));
      if (a.legacy) {
        Report("LegacyKeyValueFormat",
               fmt::format("\"{} key=value\" should be used instead of legacy \"{} key value\" format", name, name),
               in.loc);
      }
      if (in.kind == Kind::kEnv) {
        for (const auto& kv : a.pairs) {
          if (LooksLikeSecret(kv.key)) {
            Report("SecretsUsedInArgOrEnv",
                   fmt::format("Do not use ARG or ENV instructions for sensitive data (ENV {})", Quote(kv.key)),
                   in.loc);
          }
        }
      }
    }
  }

  void ReportUndefined(const Instruction& in, const Scope& scope, const std::vector<std::string>& unset) {
    std::vector<std::string> known = scope.declared;
    for (const auto& kv : scope.env) known.push_back(kv.key);
    std::vector<std::string> done;
    for (const auto& name : unset) {
      if (std::find(done.begin(), done.end(), name) != done.end()) continue;
      done.push_back(name);
      // A declared ARG without a value is defined, just empty.
      if (std::find(scope.declared.begin(), scope.declared.end(), name) != scope.declared.end()) continue;
      if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) continue;
      std::string msg = fmt::format("Usage of undefined variable '${}'", name);
      std::string sugg = Spellcheck(name, known);
      if (!sugg.empty()) msg += fmt::format(" (did you mean ${}?)", sugg);
      Report("UndefinedVar", msg, in.loc);
    }
  }

  void CheckExpose(const Instruction& in, const Instruction& ex) {
    for (const auto& port : ex.As<ExposeArgs>().ports) {
      if (port.find(':') != std::string::npos) {
        Report("ExposeInvalidFormat",
               fmt::format("EXPOSE instruction should not define an IP address or host-port mapping, found '{}'", port),
               in.loc);
      }
      size_t slash = port.rfind('/');
      if (slash != std::string::npos) {
        std::string proto = port.substr(slash + 1);
        if (!IsLower(proto)) {
          Report("ExposeProtoCasing",
                 fmt::format("Defined protocol '{}' in EXPOSE instruction should be lowercase", proto), in.loc);
        }
      }
    }
  }

  void CheckIgnored(const Instruction& ex) {
    if (!opts_.ignore) return;
    const CopyArgs& a = ex.As<CopyArgs>();
    if (!a.from.empty()) return;
    for (const auto& src : a.sources) {
      if (src.find("://") != std::string::npos || StartsWith(src, "<<")) continue;
      if (src.find_first_of("*?[") != std::string::npos) continue;
      if (opts_.ignore->Matches(src)) {
        Report("CopyIgnoredFile",
               fmt::format("Attempting to {} file {} that is excluded by .dockerignore",
                           ex.kind == Kind::kCopy ? "Copy" : "Add", Quote(src)),
               ex.loc);
      }
    }
  }

  const Dockerfile& df_;
  const CheckOptions& opts_;
  Diagnostics& diags_;
  bool skip_all_ = false;
  std::vector<std::string> skip_;
  Scope global_;
  std::optional<Result<Scope>> defaults_;  // global scope without --build-arg
  CheckResult result_;
  std::vector<Warning> pending_;
};

}  // namespace

Result<CheckResult> RunChecks(const Dockerfile& df, const CheckOptions& opts, Diagnostics& diags) {
  return Checker(df, opts, diags).Run();
}

}  // namespace kiln::dockerfile
