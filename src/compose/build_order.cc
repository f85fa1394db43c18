// BuildOrder: which services `kiln compose build` builds, and in what order.

#include <algorithm>
#include <set>

#include "base/strings.h"
#include "compose/compose_internal.h"
#include "compose/project.h"

namespace kiln::compose {

Result<std::vector<const Service*>> BuildOrder(const Project& project, const std::vector<std::string>& names,
                                               WithDependencies deps) {
  std::vector<std::string> active;
  for (const auto& s : project.services) active.push_back(s.name);
  std::set<std::string> wanted;
  for (const auto& name : names) {
    if (!project.FindService(name))
      return Fail(Error::NotFound(
          fmt::format("no such service: {}{}", Quote(name), internal::DidYouMean(name, active))));
    wanted.insert(name);
  }
  if (names.empty()) wanted.insert(active.begin(), active.end());
  // What the wanted services read (and, with kYes, depend on), transitively.
  // A dependency the loader left out (optional, disabled by a profile) is
  // not built.
  std::vector<std::string> queue(wanted.begin(), wanted.end());
  while (!queue.empty()) {
    const Service* s = project.FindService(queue.back());
    queue.pop_back();
    std::vector<std::string> next;
    if (s->build)
      for (const auto& c : s->build->service_contexts) next.push_back(c.service);
    if (deps == WithDependencies::kYes)
      for (const auto& d : s->depends_on) next.push_back(d.service);
    for (const auto& n : next)
      if (project.FindService(n) && wanted.insert(n).second) queue.push_back(n);
  }
  // Definition order, except that a service waits for the ones its
  // `service:` contexts name. The loader has rejected cycles, so every round
  // places one; `ready` is ignored only if a Project built by hand has one.
  std::vector<const Service*> order;
  std::set<std::string> placed;
  while (placed.size() < wanted.size()) {
    const Service* next = nullptr;
    for (const auto& s : project.services) {
      if (!wanted.count(s.name) || placed.count(s.name)) continue;
      bool ready = true;
      if (s.build)
        for (const auto& c : s.build->service_contexts)
          ready = ready && (!wanted.count(c.service) || placed.count(c.service));
      if (!next) next = &s;
      if (ready) {
        next = &s;
        break;
      }
    }
    placed.insert(next->name);
    if (next->build) order.push_back(next);
  }
  return order;
}

}  // namespace kiln::compose
