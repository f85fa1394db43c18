#pragma once

// Word expansion exactly as BuildKit's shell lexer (frontend/dockerfile/shell)
// does it, and the ARG/ENV scoping rules of a build. The solver walks a
// stage's instructions through a StageEvaluator and never re-implements
// scoping itself.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "dockerfile/ast.h"

namespace kiln::dockerfile {

struct Platform {
  std::string os = "linux";
  std::string arch = "amd64";
  std::string variant;  // "v7" for arm/v7; empty otherwise
  // "linux/amd64", "linux/arm/v7".
  std::string ToString() const;
};

// Inputs that come from the command line.
struct EvalOptions {
  std::map<std::string, std::string> build_args;  // --build-arg NAME=VALUE
  Platform target_platform;                       // --platform (default: build platform)
  Platform build_platform;                        // the host
};

// Names of the proxy ARGs BuildKit predefines (HTTP_PROXY, http_proxy, ...):
// usable in RUN without an ARG line and kept out of image history.
const std::vector<std::string>& ProxyArgNames();
// TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS,
// BUILDARCH, BUILDVARIANT with their values for `opts`.
std::vector<KeyValue> PlatformArgs(const EvalOptions& opts);

// Variables visible at one point of a build, kept as BuildKit keeps them:
// `vars` is the build state's environment, which ENV, ARG-with-a-value and
// the base image's env all write to, the latest write of a name winning. So
// ENV shadows an earlier ARG of the same name, and an ARG that gets a value
// after an ENV shadows it (for expansion and RUN; the image config keeps the
// ENV value). Plain value; copy freely.
struct Scope {
  std::vector<KeyValue> env;   // image config env + ENV, in order, unique keys
  std::vector<KeyValue> args;  // ARGs that have a value, in declaration order
  std::vector<KeyValue> vars;  // what expansion and RUN see, unique keys
  // Every ARG name declared so far (with or without value).
  std::vector<std::string> declared;
  // Every ARG declaration in order, repeats kept (BuildKit's buildArgs):
  // RUN's history lists them as "|N K=V ...".
  std::vector<std::string> declarations;

  // The value of `name` in `vars`; nullopt when unset.
  std::optional<std::string> Lookup(std::string_view name) const;
  // Sets or replaces an ENV value (in `env` and `vars`), keeping the
  // original position.
  void SetEnv(std::string key, std::string value);
  // Declares ARG `key`; a value (if any) sets or replaces the ARG's value
  // (in `args` and `vars`). `ARG K` without a value changes no value.
  void SetArg(std::string key, std::optional<std::string> value);
};

// Looks a variable up during expansion; nullopt means unset.
using Lookup = std::function<std::optional<std::string>(std::string_view)>;

struct ExpandOptions {
  char escape = '\\';
  // When set, every variable reference that is unset is reported here (for
  // the UndefinedVar check); expansion itself treats them as empty.
  std::vector<std::string>* unset_names = nullptr;
};

// BuildKit's ProcessWord: expands one word, removes quotes, applies escapes.
// kInvalid for unmatched quotes, "${", bad substitutions and `${V:?msg}`.
[[nodiscard]] Result<std::string> ExpandWord(std::string_view word, const Lookup& lookup,
                                             const ExpandOptions& opts = {});
// BuildKit's ProcessWords: like ExpandWord but splits unquoted results on
// whitespace (used for EXPOSE).
[[nodiscard]] Result<std::vector<std::string>> ExpandWords(std::string_view word,
                                                           const Lookup& lookup,
                                                           const ExpandOptions& opts = {});

// Returns a copy of `in` with every field BuildKit expands expanded against
// `scope` (see docs/formats/dockerfile-expansion.md): FROM image/--platform,
// ENV/LABEL keys and values, ARG defaults (each against the scope plus the
// ARGs before it on the line, as BuildKit's dispatchArg does; names are not
// expanded), COPY/ADD sources, dest, --chown/--chmod/--checksum/--exclude
// and expandable heredoc bodies (never --from: the parser rejects variables
// there, as BuildKit does),
// EXPOSE (split), VOLUME, USER, WORKDIR, STOPSIGNAL, RUN --mount values.
// RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK/ONBUILD/MAINTAINER are unchanged.
// Errors are kSyntax at the instruction's location.
[[nodiscard]] Result<Instruction> Expand(const Instruction& in, const Scope& scope,
                                         std::vector<std::string>* unset_names = nullptr);

// The global scope: `--build-arg`s applied to the ARGs before the first
// FROM, plus the platform ARGs. Used to expand FROM lines.
[[nodiscard]] Result<Scope> GlobalScope(const Dockerfile& df, const EvalOptions& opts);

// The `--build-arg` names that no ARG in the Dockerfile declares (proxy
// args excepted), sorted: for BuildKit's "build-args were not consumed"
// warning. Pure.
std::vector<std::string> UnusedBuildArgs(const Dockerfile& df, const EvalOptions& opts);

// Walks one stage. Construct with the scope the stage starts from:
// StartScope() for an image base, or the final scope() of the parent stage
// for `FROM <stage>` (ARGs and ENV are inherited, and the parent's config env
// is written over the inherited `vars` again, as BuildKit does when a stage
// starts). Then call Step() for each instruction after FROM, in order. Not
// thread-safe; one per stage.
class StageEvaluator {
 public:
  // `global` and `opts` must outlive the evaluator.
  StageEvaluator(const Scope& global, const EvalOptions& opts, Scope start);

  // A fresh stage scope on top of an image whose config has `image_env`
  // ("KEY=VALUE" strings).
  static Scope StartScope(const std::vector<std::string>& image_env);

  // Expands `in` against the current scope and applies its effect on the
  // scope (ARG declares, ENV sets). Returns the expanded instruction. Each
  // ARG name takes its --build-arg (its default is then not expanded at
  // all), else its default, else the value of the global ARG of that name.
  // `unset_names`, if given, receives the unset variables the words used
  // (as for Expand()). kSyntax at the instruction on expansion errors; the
  // scope is unchanged then.
  [[nodiscard]] Result<Instruction> Step(const Instruction& in,
                                         std::vector<std::string>* unset_names = nullptr);

  const Scope& scope() const { return scope_; }
  // Environment for a RUN: the scope's `vars` (config env names first, with
  // the value an ARG may have overridden, then ARG-only names), then proxy
  // build args given on the command line; "KEY=VALUE".
  std::vector<std::string> RunEnv() const;
  // Build args consumed so far (names), for "unused build-arg" warnings.
  const std::vector<std::string>& used_build_args() const { return used_; }

 private:
  const Scope& global_;
  const EvalOptions& opts_;
  Scope scope_;
  std::vector<std::string> used_;
};

}  // namespace kiln::dockerfile
