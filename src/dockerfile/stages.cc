// The stage graph: FROM <stage>, COPY --from, RUN --mount from=.

#include "dockerfile/stages.h"

#include <cctype>
#include <functional>

#include "base/strings.h"

namespace kiln::dockerfile {

std::optional<int> FindStage(const Dockerfile& df, std::string_view name_or_index) {
  std::string lower = ToLower(name_or_index);
  for (const Stage& st : df.stages) {
    if (!st.name.empty() && st.name == lower) return st.index;
  }
  return std::nullopt;
}

namespace {

std::optional<int> ParseIndex(std::string_view s) {
  // strconv.Atoi: optional sign, decimal digits.
  if (s.empty()) return std::nullopt;
  size_t i = s[0] == '-' || s[0] == '+' ? 1 : 0;
  if (i == s.size() || s.size() > 10) return std::nullopt;
  for (size_t j = i; j < s.size(); ++j)
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return std::nullopt;
  return std::stoi(std::string(s));
}

StageDep Resolve(const Dockerfile& df, const std::string& ref, const SourceLoc& loc) {
  StageDep d;
  d.loc = loc;
  if (auto idx = FindStage(df, ref)) {
    d.kind = StageDep::Kind::kStage;
    d.stage = *idx;
  } else {
    d.kind = StageDep::Kind::kImage;
    d.image = ref;
  }
  return d;
}

}  // namespace

Result<std::vector<StageInfo>> ResolveStages(const Dockerfile& df, const EvalOptions& opts) {
  KILN_TRY_ASSIGN(Scope global, GlobalScope(df, opts));
  std::vector<StageInfo> out;
  for (const Stage& st : df.stages) {
    StageInfo info;
    KILN_TRY_ASSIGN(Instruction from, Expand(st.from, global));
    // FROM names only earlier stages, so `FROM alpine AS alpine` is the
    // image and a forward name is an image reference (docker's rule).
    info.base = Resolve(df, from.As<FromArgs>().image, st.from.loc);
    if (info.base.kind == StageDep::Kind::kStage && info.base.stage >= st.index) {
      info.base.kind = StageDep::Kind::kImage;
      info.base.image = from.As<FromArgs>().image;
      info.base.stage = -1;
    }
    // --from and from= hold no variables (the parser refuses them, as
    // BuildKit does), so they are used as written and no ARG of the stage
    // needs evaluating here.
    for (const Instruction& ins : st.instructions) {
      if (ins.kind == Kind::kCopy && !ins.As<CopyArgs>().from.empty()) {
        const std::string& ref = ins.As<CopyArgs>().from;
        SourceLoc loc = ins.loc;
        for (const Flag& f : ins.flags)
          if (f.name == "from") loc = f.loc;
        if (auto idx = ParseIndex(ref); idx && !FindStage(df, ref)) {
          if (*idx < 0 || *idx >= static_cast<int>(df.stages.size())) {
            return Fail(Error::Syntax(loc, fmt::format("invalid stage index {}", *idx)));
          }
          StageDep d;
          d.stage = *idx;
          d.loc = loc;
          info.deps.push_back(d);
        } else {
          info.deps.push_back(Resolve(df, ref, loc));
        }
      } else if (ins.kind == Kind::kRun) {
        for (const Mount& m : ins.As<RunArgs>().mounts) {
          if (m.from.empty() || m.type == MountType::kSecret || m.type == MountType::kSsh) continue;
          info.deps.push_back(Resolve(df, m.from, m.loc));
        }
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<int>> StagesForTarget(const Dockerfile& df, const std::vector<StageInfo>& info,
                                         std::string_view target) {
  if (df.stages.empty()) return Fail(Error::Invalid("dockerfile contains no stages to build"));
  int root = static_cast<int>(df.stages.size()) - 1;
  if (!target.empty()) {
    auto idx = FindStage(df, target);
    if (!idx) {
      std::vector<std::string> names;
      for (const Stage& st : df.stages)
        if (!st.name.empty()) names.push_back(st.name);
      std::string msg = fmt::format("target stage {} could not be found", Quote(target));
      std::string sugg = Spellcheck(target, names);
      if (!sugg.empty()) msg += fmt::format(" (did you mean {}?)", Quote(sugg));
      return Fail(Error::NotFound(msg));
    }
    root = *idx;
  }
  auto stage_label = [&](int i) {
    return df.stages[i].name.empty() ? std::to_string(i) : df.stages[i].name;
  };
  enum class Mark { kNone, kVisiting, kDone };
  std::vector<Mark> mark(df.stages.size(), Mark::kNone);
  std::vector<int> order;
  // Iterative DFS so a long chain of stages cannot overflow the stack.
  struct Frame {
    int stage;
    size_t next;  // 0 = base, 1.. = deps[next-1]
  };
  std::vector<Frame> stack{{root, 0}};
  mark[root] = Mark::kVisiting;
  while (!stack.empty()) {
    Frame& f = stack.back();
    const StageInfo& si = info[f.stage];
    const StageDep* dep = nullptr;
    while (!dep && f.next <= si.deps.size()) {
      const StageDep& d = f.next == 0 ? si.base : si.deps[f.next - 1];
      ++f.next;
      if (d.kind == StageDep::Kind::kStage) dep = &d;
    }
    if (!dep) {
      mark[f.stage] = Mark::kDone;
      order.push_back(f.stage);
      stack.pop_back();
      continue;
    }
    if (mark[dep->stage] == Mark::kVisiting) {
      Error e = Error::Invalid(
          fmt::format("circular dependency detected on stage: {}", stage_label(dep->stage)));
      return Fail(std::move(e).At(dep->loc));
    }
    if (mark[dep->stage] == Mark::kNone) {
      mark[dep->stage] = Mark::kVisiting;
      stack.push_back({dep->stage, 0});
    }
  }
  return order;
}

}  // namespace kiln::dockerfile
