#pragma once

// The parsed model of a Dockerfile: plain structs, no behaviour. Produced by
// dockerfile::Parse() (parser.h), expanded per stage by StageEvaluator
// (expand.h), ordered by StagesForTarget() (stages.h).
//
// Words are kept exactly as written (quotes and `$VAR` included) in every
// field that BuildKit expands; Expand() returns a copy of the Instruction with
// those fields expanded and quotes removed. Fields BuildKit never expands
// (RUN/CMD/ENTRYPOINT/SHELL/HEALTHCHECK commands, ONBUILD, MAINTAINER) hold
// the final text already.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/error.h"

namespace kiln::dockerfile {

enum class Kind {
  kFrom,
  kRun,
  kCmd,
  kLabel,
  kMaintainer,
  kExpose,
  kEnv,
  kAdd,
  kCopy,
  kEntrypoint,
  kVolume,
  kUser,
  kWorkdir,
  kArg,
  kOnbuild,
  kStopsignal,
  kHealthcheck,
  kShell,
};

// "FROM", "RUN", ... (upper case).
std::string_view KindName(Kind kind);

// A `--name=value` / `--name` flag as written, after BuildKit's flag
// tokenizing (quotes removed, backslash escapes applied).
struct Flag {
  std::string name;   // without "--", as written (flag names are case-sensitive)
  std::string value;  // empty when !has_value
  bool has_value = false;
  SourceLoc loc;      // points at the leading "--"
};

struct KeyValue {
  std::string key;
  std::string value;
  bool operator==(const KeyValue&) const = default;
};

// A here-document attached to RUN, COPY or ADD.
struct Heredoc {
  std::string name;       // the delimiter without quotes, e.g. "EOF"
  std::string content;    // every line up to the delimiter, each with its '\n';
                          // leading tabs already removed when `chomp`
  bool expand = true;     // false when the delimiter was quoted ('EOF' or "EOF")
  bool chomp = false;     // "<<-EOF"
  int fd = 0;             // "3<<EOF" -> 3; 0 when not given
  bool operator==(const Heredoc&) const = default;
};

// The command of RUN, CMD, ENTRYPOINT and HEALTHCHECK CMD.
struct Command {
  enum class Form { kShell, kExec };
  Form form = Form::kShell;
  // Exec form: the JSON array. Shell form: one element, the command text as
  // written after the flags (continuations joined, heredoc bodies not
  // included); the solver runs it with the stage's SHELL.
  std::vector<std::string> args;
  // Here-documents opened on the command line, in order. For `RUN <<EOF` with
  // nothing else, args[0] is "<<EOF" and the solver runs heredocs[0] as the
  // script (BuildKit semantics).
  std::vector<Heredoc> heredocs;
  bool operator==(const Command&) const = default;
};

enum class MountType { kBind, kCache, kTmpfs, kSecret, kSsh };
enum class Sharing { kShared, kPrivate, kLocked };
std::string_view MountTypeName(MountType t);  // "bind", "cache", ...
std::string_view SharingName(Sharing s);      // "shared", ...

// One `RUN --mount=...` after BuildKit's parsing, with BuildKit's defaults
// filled in (readonly for bind/secret/ssh unless rw; secret target
// /run/secrets/<id>; ssh id "default"; cache sharing shared). Values are
// expanded by Expand(); in the parsed AST they are as written.
struct Mount {
  MountType type = MountType::kBind;
  std::string target;  // target=, dst=, destination=
  std::string source;  // source=, src=
  std::string from;    // from=: stage name, stage index or image
  std::string id;      // id= (cache id, secret id, ssh id)
  bool readonly = true;
  Sharing sharing = Sharing::kShared;
  std::optional<uint32_t> mode;  // mode= (octal)
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<int64_t> size;   // tmpfs size= in bytes
  bool required = false;         // secret/ssh
  std::string env;               // secret env= (expose as env var)
  std::string spec;              // the flag value as written
  SourceLoc loc;                 // the --mount flag
};

enum class Network { kDefault, kNone, kHost };
enum class Security { kSandbox, kInsecure };

struct FromArgs {
  std::string image;     // "alpine:3.19", "${BASE}", a stage name, "scratch"
  std::string name;      // `AS name`, lower-cased; empty if none
  std::string name_as_written;
  std::string as_keyword;  // "AS"/"as" as written, empty if none
  std::string platform;  // --platform
  bool operator==(const FromArgs&) const = default;
};

struct RunArgs {
  Command command;
  std::vector<Mount> mounts;
  Network network = Network::kDefault;
  Security security = Security::kSandbox;
};

struct CmdArgs { Command command; };         // CMD
struct EntrypointArgs { Command command; };  // ENTRYPOINT

// ENV and LABEL.
struct KeyValueArgs {
  std::vector<KeyValue> pairs;
  bool legacy = false;  // "ENV key value" form
};

struct MaintainerArgs { std::string name; };
struct ExposeArgs { std::vector<std::string> ports; };  // "80/tcp", "$PORT"

// COPY and ADD.
struct CopyArgs {
  // As written, in order; a heredoc source stays as its marker ("<<EOF",
  // "<<-EOF", "<<'EOF'"; "<<EOF" after Expand()) and its body is the
  // `heredocs` entry with that name.
  std::vector<std::string> sources;
  std::string dest;
  std::vector<Heredoc> heredocs;  // `COPY <<EOF /dest`: files named Heredoc::name
  bool json_form = false;
  std::string from;      // --from (COPY only)
  std::string chown;
  std::string chmod;
  bool link = false;
  bool parents = false;  // COPY only
  std::vector<std::string> excludes;
  std::string checksum;  // ADD only
  bool keep_git_dir = false;  // ADD only
};

struct VolumeArgs { std::vector<std::string> paths; bool json_form = false; };
struct UserArgs { std::string user; };  // "user[:group]"
struct WorkdirArgs { std::string path; };

struct ArgDecl {
  std::string name;
  std::optional<std::string> value;  // default as written
  bool operator==(const ArgDecl&) const = default;
};
struct ArgArgs { std::vector<ArgDecl> args; };

struct OnbuildArgs {
  std::string expression;  // the trigger text, e.g. "RUN make", as stored in the image config
  Kind trigger = Kind::kRun;
  std::vector<Heredoc> heredocs;  // bodies of heredocs the trigger opens
};

struct StopsignalArgs { std::string signal; };

struct HealthcheckArgs {
  bool none = false;  // HEALTHCHECK NONE
  Command command;    // for CMD
  // Durations in nanoseconds; nullopt when the flag was not given.
  std::optional<int64_t> interval, timeout, start_period, start_interval;
  std::optional<int> retries;
};

struct ShellArgs { std::vector<std::string> shell; };

using InstructionArgs =
    std::variant<FromArgs, RunArgs, CmdArgs, EntrypointArgs, KeyValueArgs, MaintainerArgs,
                 ExposeArgs, CopyArgs, VolumeArgs, UserArgs, WorkdirArgs, ArgArgs, OnbuildArgs,
                 StopsignalArgs, HealthcheckArgs, ShellArgs>;

struct Instruction {
  Kind kind = Kind::kRun;
  std::string keyword;   // as written: "run", "Run", "RUN"
  // file, first line, column of the keyword and the text of the first line.
  SourceLoc loc;
  int end_line = 0;      // last line, heredoc bodies included
  std::string original;  // the logical line: continuations joined, comments dropped
  std::vector<Flag> flags;
  char escape = '\\';    // the escape directive in force, used by Expand()
  InstructionArgs args;

  // Typed access; the alternative must match `kind` (see KindName table in
  // parser.cc: ENV/LABEL -> KeyValueArgs, COPY/ADD -> CopyArgs).
  template <typename T> const T& As() const { return std::get<T>(args); }
  template <typename T> T& As() { return std::get<T>(args); }
};

struct Stage {
  int index = 0;
  std::string name;             // lower case; "" if unnamed
  Instruction from;             // the FROM instruction (kind kFrom)
  std::vector<Instruction> instructions;  // after FROM, in order
};

// `# check=skip=A,B;error=true`.
struct CheckDirective {
  std::vector<std::string> skip;  // check names; {"all"} skips every check
  bool error = false;             // warnings fail the build
};

struct Directives {
  std::string syntax;     // `# syntax=` noted, never acted on
  char escape = '\\';
  std::optional<CheckDirective> check;
};

struct Dockerfile {
  std::string file;  // name used in locations, e.g. "Dockerfile"
  Directives directives;
  std::vector<Instruction> meta_args;  // ARG instructions before the first FROM
  std::vector<Stage> stages;
  // Lines of empty lines inside continuations (NoEmptyContinuation), one
  // entry per affected instruction: the instruction's loc.
  std::vector<SourceLoc> empty_continuations;
};

}  // namespace kiln::dockerfile
