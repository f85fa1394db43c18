#pragma once

// A canonical one-line-per-instruction text form of the AST, so tests can
// compare whole parse results exactly. Test-only.

#include <string>

#include <fmt/format.h>

#include "base/strings.h"
#include "dockerfile/ast.h"

namespace kiln::dockerfile::testing {

inline std::string DumpList(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + Quote(v[i]);
  return out + "]";
}

inline std::string DumpHeredocs(const std::vector<Heredoc>& hs) {
  std::string out;
  for (const auto& h : hs) {
    out += fmt::format(" heredoc={}{}{}{}:{}", Quote(h.name), h.expand ? "" : ",noexpand",
                       h.chomp ? ",chomp" : "", h.fd ? fmt::format(",fd={}", h.fd) : "", Quote(h.content));
  }
  return out;
}

inline std::string DumpCommand(const Command& c) {
  return fmt::format("{}{}{}", c.form == Command::Form::kExec ? "exec" : "shell", DumpList(c.args),
                     DumpHeredocs(c.heredocs));
}

inline std::string DumpMount(const Mount& m) {
  std::string out = fmt::format("{{{} target={}", MountTypeName(m.type), Quote(m.target));
  if (!m.source.empty()) out += " source=" + Quote(m.source);
  if (!m.from.empty()) out += " from=" + Quote(m.from);
  if (!m.id.empty()) out += " id=" + Quote(m.id);
  out += m.readonly ? " ro" : " rw";
  if (m.type == MountType::kCache) out += fmt::format(" sharing={}", SharingName(m.sharing));
  if (m.mode) out += fmt::format(" mode={:o}", *m.mode);
  if (m.uid) out += fmt::format(" uid={}", *m.uid);
  if (m.gid) out += fmt::format(" gid={}", *m.gid);
  if (m.size) out += fmt::format(" size={}", *m.size);
  if (m.required) out += " required";
  if (!m.env.empty()) out += " env=" + Quote(m.env);
  return out + "}";
}

inline std::string DumpInstruction(const Instruction& in) {
  std::string out = fmt::format("{}:{}", in.loc.line, in.loc.col);
  if (in.end_line != in.loc.line) out += fmt::format("-{}", in.end_line);
  out += fmt::format(" {}", KindName(in.kind));
  switch (in.kind) {
    case Kind::kFrom: {
      const auto& a = in.As<FromArgs>();
      out += " " + Quote(a.image);
      if (!a.name.empty()) out += " as=" + Quote(a.name);
      if (!a.platform.empty()) out += " platform=" + Quote(a.platform);
      break;
    }
    case Kind::kRun: {
      const auto& a = in.As<RunArgs>();
      out += " " + DumpCommand(a.command);
      for (const auto& m : a.mounts) out += " mount=" + DumpMount(m);
      if (a.network == Network::kNone) out += " network=none";
      if (a.network == Network::kHost) out += " network=host";
      if (a.security == Security::kInsecure) out += " security=insecure";
      break;
    }
    case Kind::kCmd: out += " " + DumpCommand(in.As<CmdArgs>().command); break;
    case Kind::kEntrypoint: out += " " + DumpCommand(in.As<EntrypointArgs>().command); break;
    case Kind::kEnv:
    case Kind::kLabel: {
      const auto& a = in.As<KeyValueArgs>();
      for (const auto& kv : a.pairs) out += fmt::format(" {}={}", Quote(kv.key), Quote(kv.value));
      if (a.legacy) out += " legacy";
      break;
    }
    case Kind::kMaintainer: out += " " + Quote(in.As<MaintainerArgs>().name); break;
    case Kind::kExpose: out += " " + DumpList(in.As<ExposeArgs>().ports); break;
    case Kind::kAdd:
    case Kind::kCopy: {
      const auto& a = in.As<CopyArgs>();
      out += fmt::format(" {} -> {}", DumpList(a.sources), Quote(a.dest));
      if (a.json_form) out += " json";
      if (!a.from.empty()) out += " from=" + Quote(a.from);
      if (!a.chown.empty()) out += " chown=" + Quote(a.chown);
      if (!a.chmod.empty()) out += " chmod=" + Quote(a.chmod);
      if (a.link) out += " link";
      if (a.parents) out += " parents";
      if (!a.excludes.empty()) out += " exclude=" + DumpList(a.excludes);
      if (!a.checksum.empty()) out += " checksum=" + Quote(a.checksum);
      if (a.keep_git_dir) out += " keep-git-dir";
      out += DumpHeredocs(a.heredocs);
      break;
    }
    case Kind::kVolume: out += " " + DumpList(in.As<VolumeArgs>().paths); break;
    case Kind::kUser: out += " " + Quote(in.As<UserArgs>().user); break;
    case Kind::kWorkdir: out += " " + Quote(in.As<WorkdirArgs>().path); break;
    case Kind::kArg:
      for (const auto& d : in.As<ArgArgs>().args) {
        out += " " + Quote(d.name);
        if (d.value) out += "=" + Quote(*d.value);
      }
      break;
    case Kind::kOnbuild:
      out += fmt::format(" {} {}", KindName(in.As<OnbuildArgs>().trigger), Quote(in.As<OnbuildArgs>().expression));
      out += DumpHeredocs(in.As<OnbuildArgs>().heredocs);
      break;
    case Kind::kStopsignal: out += " " + Quote(in.As<StopsignalArgs>().signal); break;
    case Kind::kHealthcheck: {
      const auto& a = in.As<HealthcheckArgs>();
      if (a.none) {
        out += " NONE";
        break;
      }
      out += " " + DumpCommand(a.command);
      if (a.interval) out += fmt::format(" interval={}", *a.interval);
      if (a.timeout) out += fmt::format(" timeout={}", *a.timeout);
      if (a.start_period) out += fmt::format(" start-period={}", *a.start_period);
      if (a.start_interval) out += fmt::format(" start-interval={}", *a.start_interval);
      if (a.retries) out += fmt::format(" retries={}", *a.retries);
      break;
    }
    case Kind::kShell: out += " " + DumpList(in.As<ShellArgs>().shell); break;
  }
  return out;
}

inline std::string Dump(const Dockerfile& df) {
  std::string out;
  for (const auto& a : df.meta_args) out += DumpInstruction(a) + "\n";
  for (const auto& st : df.stages) {
    out += fmt::format("stage {}: {}\n", st.index, DumpInstruction(st.from));
    for (const auto& in : st.instructions) out += "  " + DumpInstruction(in) + "\n";
  }
  return out;
}

}  // namespace kiln::dockerfile::testing
