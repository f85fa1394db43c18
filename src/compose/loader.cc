// LoadProject: file discovery, environment, per-file loading with include and
// extends, and the merge of several files. model.cc turns the merged tree
// into a Project.

#include <unistd.h>

#include <map>
#include <set>

#include "base/fs.h"
#include "base/strings.h"
#include "compose/compose_internal.h"
#include "compose/model_internal.h"
#include "compose/project.h"

namespace kiln::compose {

using internal::InvalidAt;
using internal::PathJoin;
using internal::PathIndex;

std::string NormalizeProjectName(std::string_view name) {
  std::string out;
  for (char c : ToLower(name)) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-') out += c;
  }
  size_t start = out.find_first_not_of("_-");
  return start == std::string::npos ? std::string() : out.substr(start);
}

namespace {

constexpr const char* kDefaultFiles[] = {"compose.yaml", "compose.yml", "docker-compose.yaml",
                                         "docker-compose.yml"};

std::string Absolute(const std::string& base, const std::string& p) {
  if (!p.empty() && p[0] == '/') return CleanPath(p);
  return CleanPath(JoinPath(base, p));
}

std::string CurrentDir() {
  char buf[4096];
  if (getcwd(buf, sizeof buf) == nullptr) return "/";
  return buf;
}

// The name shown in messages: relative to `dir` when inside it.
std::string DisplayName(const std::string& dir, const std::string& path) {
  if (!dir.empty() && StartsWith(path, dir + "/")) return path.substr(dir.size() + 1);
  return path;
}

Result<std::vector<std::string>> Discover(const std::string& start, Diagnostics& diag) {
  std::string dir = start;
  while (true) {
    std::vector<std::string> found;
    for (const char* name : kDefaultFiles) {
      std::string p = JoinPath(dir, name);
      if (PathExists(p)) found.push_back(p);
    }
    if (!found.empty()) {
      if (found.size() > 1) {
        diag.Warn(Warning{"ComposeMultipleConfigFiles",
                          fmt::format("Found multiple config files with supported names: {}\n"
                                      "Using {}",
                                      Join(found, ", "), found[0]),
                          {}});
      }
      return std::vector<std::string>{found[0]};
    }
    if (dir == "/") break;
    dir = Dirname(dir);
  }
  return Fail(Error::NotFound(fmt::format(
      "no configuration file provided: not found (looked for compose.yaml, compose.yml, "
      "docker-compose.yaml or docker-compose.yml in {} and its parents)",
      start)));
}

// Loads and merges one set of files that share a project directory and an
// environment: the main project, or one `include` entry.
class FileSetLoader {
 public:
  // `display_root` is the main project's directory: file names in messages
  // are relative to it.
  FileSetLoader(std::string project_dir, std::string display_root, Environment env,
                Diagnostics& diag, std::set<std::string> include_stack)
      : project_dir_(std::move(project_dir)),
        display_root_(std::move(display_root)),
        env_(std::move(env)),
        diag_(diag),
        include_stack_(std::move(include_stack)) {
    lookup_ = [this](const std::string& name) -> std::optional<std::string> {
      auto it = env_.find(name);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }

  // Loads `files` (absolute) in order and merges them.
  Result<Node> LoadAll(const std::vector<std::string>& files) {
    Node merged = Node::Map();
    for (const auto& f : files) {
      KILN_TRY_ASSIGN(Node root, LoadFile(f, /*main=*/true));
      KILN_TRY(ResolveAllExtends(root, f));
      KILN_TRY(ApplyIncludes(root, f));
      internal::MergeInto(merged, std::move(root), "");
    }
    return merged;
  }

 private:
  // Parses, interpolates and normalises one file. `main` files resolve
  // relative paths against the project directory, others against their own.
  Result<Node> LoadFile(const std::string& path, bool main) {
    std::string key = path + (main ? "#main" : "");
    if (auto it = cache_.find(key); it != cache_.end()) return it->second;
    auto text = ReadFile(path);
    if (!text) return Fail(std::move(text).error());
    KILN_TRY_ASSIGN(Node root, ParseYaml(DisplayName(display_root_, path), *text));
    if (!root.is_map())
      return Fail(InvalidAt(root.loc, "", "a compose file must be a mapping at the top level"));
    KILN_TRY(internal::InterpolateTree(root, "", lookup_, diag_));
    std::string base = main ? project_dir_ : Dirname(path);
    KILN_TRY(internal::NormalizeFile(root, base, /*default_context=*/!main));
    cache_[key] = root;
    return root;
  }

  Result<void> ResolveAllExtends(Node& root, const std::string& path) {
    Node* services = root.Find("services");
    if (!services || !services->is_map()) return Ok();
    for (auto& e : services->map) {
      if (!e.value.is_map() || !e.value.Find("extends")) continue;
      std::vector<std::string> stack;
      KILN_TRY_ASSIGN(e.value, ResolveExtends(root, path, e.key, stack));
    }
    return Ok();
  }

  // The service `name` of the file `path` (whose tree is `root`) with its
  // `extends` chain applied.
  Result<Node> ResolveExtends(const Node& root, const std::string& path, const std::string& name,
                              std::vector<std::string>& stack) {
    const Node* services = root.Find("services");
    const Node* svc = services && services->is_map() ? services->Find(name) : nullptr;
    if (!svc) return Fail(Error::Invalid(fmt::format("service {} not found", Quote(name))));
    const MapEntry* ext = svc->FindEntry("extends");
    if (!ext) return *svc;
    std::string id = path + "#" + name;
    for (const auto& s : stack) {
      if (s == id) {
        std::vector<std::string> chain;
        for (const auto& c : stack) chain.push_back(c.substr(c.rfind('#') + 1));
        chain.push_back(name);
        return Fail(InvalidAt(ext->key_loc, PathJoin(PathJoin("services", name), "extends"),
                              fmt::format("circular reference: {}", Join(chain, " -> "))));
      }
    }
    stack.push_back(id);
    std::string ext_path = PathJoin(PathJoin("services", name), "extends");
    std::string base_name;
    std::string base_file = path;
    const Node& ev = ext->value;
    if (ev.is_scalar()) {
      base_name = ev.scalar;
    } else if (ev.is_map()) {
      for (const auto& f : ev.map) {
        if (f.key == "service" && f.value.is_scalar()) base_name = f.value.scalar;
        else if (f.key == "file" && f.value.is_scalar())
          base_file = Absolute(Dirname(path), f.value.scalar);
        else
          return Fail(InvalidAt(f.key_loc, PathJoin(ext_path, f.key),
                                f.key == "service" || f.key == "file"
                                    ? "must be a string"
                                    : fmt::format("unknown key {}", Quote(f.key))));
      }
    } else {
      return Fail(InvalidAt(ev.loc, ext_path, "must be a service name or a mapping"));
    }
    if (base_name.empty())
      return Fail(InvalidAt(ev.loc, ext_path, "missing \"service\""));
    Node base;
    if (base_file == path) {
      const Node* b = services->Find(base_name);
      if (!b) {
        std::vector<std::string> names;
        for (const auto& e : services->map) names.push_back(e.key);
        std::string msg = fmt::format("service {} not found", Quote(base_name));
        msg += internal::DidYouMean(base_name, names);
        return Fail(InvalidAt(ev.loc, ext_path, msg));
      }
      KILN_TRY_ASSIGN(base, ResolveExtends(root, path, base_name, stack));
    } else {
      auto other = LoadFile(base_file, /*main=*/false);
      if (!other) {
        Error e = std::move(other).error();
        if (!e.loc()) e.At(ev.loc);
        return Fail(std::move(e).Wrap("loading {} for {}", Quote(base_file), ext_path));
      }
      const Node* os = other->Find("services");
      if (!os || !os->is_map() || !os->Find(base_name))
        return Fail(InvalidAt(ev.loc, ext_path,
                              fmt::format("service {} not found in {}", Quote(base_name),
                                          DisplayName(display_root_, base_file))));
      KILN_TRY_ASSIGN(base, ResolveExtends(*other, base_file, base_name, stack));
    }
    stack.pop_back();
    Node derived = *svc;
    derived.Erase("extends");
    base.Erase("extends");
    internal::MergeInto(base, std::move(derived), "services.*");
    return base;
  }

  Result<void> ApplyIncludes(Node& root, const std::string& path) {
    const MapEntry* inc = root.FindEntry("include");
    if (!inc) return Ok();
    Node list = inc->value;
    root.Erase("include");
    if (!list.is_seq()) return Fail(InvalidAt(list.loc, "include", "must be a list"));
    for (size_t i = 0; i < list.seq.size(); ++i) {
      const Node& item = list.seq[i];
      std::string ip = PathIndex("include", i);
      std::vector<std::string> paths;
      std::string project_dir;
      std::vector<std::string> env_files;
      auto strings = [&](const Node& n, const std::string& p,
                         std::vector<std::string>& out) -> Result<void> {
        if (n.is_scalar()) {
          out.push_back(Absolute(Dirname(path), n.scalar));
        } else if (n.is_seq()) {
          for (size_t j = 0; j < n.seq.size(); ++j) {
            if (!n.seq[j].is_scalar()) return Fail(InvalidAt(n.seq[j].loc, PathIndex(p, j), "must be a string"));
            out.push_back(Absolute(Dirname(path), n.seq[j].scalar));
          }
        } else {
          return Fail(InvalidAt(n.loc, p, "must be a string or a list of strings"));
        }
        return Ok();
      };
      if (item.is_scalar()) {
        paths.push_back(Absolute(Dirname(path), item.scalar));
      } else if (item.is_map()) {
        for (const auto& e : item.map) {
          std::string kp = PathJoin(ip, e.key);
          if (e.key == "path") {
            KILN_TRY(strings(e.value, kp, paths));
          } else if (e.key == "env_file") {
            KILN_TRY(strings(e.value, kp, env_files));
          } else if (e.key == "project_directory") {
            if (!e.value.is_scalar()) return Fail(InvalidAt(e.value.loc, kp, "must be a string"));
            project_dir = Absolute(Dirname(path), e.value.scalar);
          } else {
            std::string msg = fmt::format("unknown key {}", Quote(e.key));
            msg += internal::DidYouMean(e.key, {"path", "env_file", "project_directory"});
            return Fail(InvalidAt(e.key_loc, kp, msg));
          }
        }
      } else {
        return Fail(InvalidAt(item.loc, ip, "must be a path or a mapping"));
      }
      if (paths.empty()) return Fail(InvalidAt(item.loc, ip, "missing \"path\""));
      for (const auto& p : paths) {
        if (include_stack_.count(p))
          return Fail(InvalidAt(item.loc, ip, fmt::format("include cycle: {} includes itself", DisplayName(display_root_, p))));
        if (!PathExists(p))
          return Fail(InvalidAt(item.loc, ip, fmt::format("file not found: {}", p)).WithCode(ErrorCode::kNotFound));
      }
      if (project_dir.empty()) project_dir = Dirname(paths[0]);
      if (env_files.empty() && PathExists(JoinPath(project_dir, ".env")))
        env_files.push_back(JoinPath(project_dir, ".env"));
      Environment env;
      for (const auto& ef : env_files) {
        auto text = ReadFile(ef);
        if (!text) return Fail(std::move(text).error().Wrap("reading the env_file of {}", ip));
        KILN_TRY_ASSIGN(EnvList vars, ParseDotEnv(ef, *text, lookup_));
        for (auto& kv : vars) env[kv.first] = kv.second;
      }
      // The including project's environment (process env + its .env) wins.
      for (const auto& kv : env_) env[kv.first] = kv.second;
      std::set<std::string> stack = include_stack_;
      stack.insert(path);
      FileSetLoader sub(project_dir, display_root_, std::move(env), diag_, std::move(stack));
      KILN_TRY_ASSIGN(Node included, sub.LoadAll(paths));
      for (const char* section : {"services", "networks", "volumes", "secrets", "configs"}) {
        Node* from = included.Find(section);
        if (!from || !from->is_map()) continue;
        Node* to = root.Find(section);
        if (!to) {
          root.Set(section, Node::Map(from->loc));
          to = root.Find(section);
        }
        if (!to->is_map()) continue;
        for (auto& e : from->map) {
          if (const MapEntry* mine = to->FindEntry(e.key)) {
            if (internal::NodeEquals(mine->value, e.value)) continue;
            std::string singular(section);
            singular.pop_back();
            return Fail(InvalidAt(mine->key_loc, PathJoin(section, e.key),
                                  fmt::format("conflicts with the {} of the same name imported by "
                                              "{} from {}",
                                              singular, ip, DisplayName(display_root_, paths[0]))));
          }
          to->map.push_back(std::move(e));
        }
      }
    }
    return Ok();
  }

  std::string project_dir_;
  std::string display_root_;
  Environment env_;
  Diagnostics& diag_;
  std::set<std::string> include_stack_;
  Lookup lookup_;
  std::map<std::string, Node> cache_;
};

std::vector<std::string> SplitNonEmpty(std::string_view s, std::string_view sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t pos = sep.empty() ? std::string_view::npos : s.find(sep, start);
    std::string part(TrimSpace(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start)));
    if (!part.empty()) out.push_back(std::move(part));
    if (pos == std::string_view::npos) break;
    start = pos + sep.size();
  }
  return out;
}

void StripResets(Node& n) {
  if (n.is_map()) {
    std::vector<MapEntry> kept;
    for (auto& e : n.map) {
      if (e.value.tag == "!reset") continue;
      e.value.tag.clear();
      StripResets(e.value);
      kept.push_back(std::move(e));
    }
    n.map = std::move(kept);
  } else if (n.is_seq()) {
    for (auto& item : n.seq) {
      item.tag.clear();
      StripResets(item);
    }
  }
}

}  // namespace

Result<Project> LoadProject(const LoadOptions& options, Diagnostics& diag) {
  std::string cwd = options.working_dir.empty() ? CurrentDir() : CleanPath(options.working_dir);
  if (cwd.empty() || cwd[0] != '/') cwd = Absolute(CurrentDir(), cwd);
  const Environment& process_env = options.environment;
  Lookup process_lookup = [&](const std::string& name) -> std::optional<std::string> {
    auto it = process_env.find(name);
    if (it == process_env.end()) return std::nullopt;
    return it->second;
  };

  // COMPOSE_* variables may come from the process or from the .env file of
  // the project directory given on the command line (or the current one).
  std::string early_dir = options.project_directory.empty()
                              ? cwd
                              : Absolute(cwd, options.project_directory);
  Environment early_env;
  if (options.env_files.empty() && PathExists(JoinPath(early_dir, ".env"))) {
    std::string p = JoinPath(early_dir, ".env");
    auto text = ReadFile(p);
    if (!text) return Fail(std::move(text).error());
    KILN_TRY_ASSIGN(EnvList vars, ParseDotEnv(DisplayName(cwd, p), *text, process_lookup));
    for (auto& kv : vars) early_env[kv.first] = kv.second;
  }
  for (const auto& kv : process_env) early_env[kv.first] = kv.second;
  auto early = [&](const char* name) -> std::string {
    auto it = early_env.find(name);
    return it == early_env.end() ? std::string() : it->second;
  };

  // 1. The compose files.
  std::vector<std::string> files;
  if (!options.files.empty()) {
    for (const auto& f : options.files) files.push_back(Absolute(cwd, f));
  } else if (std::string cf = early("COMPOSE_FILE"); !cf.empty()) {
    std::string sep_value = early("COMPOSE_PATH_SEPARATOR");
    std::string_view sep = sep_value.empty() ? std::string_view(":") : std::string_view(sep_value);
    for (const auto& f : SplitNonEmpty(cf, sep)) files.push_back(Absolute(early_dir, f));
  } else {
    KILN_TRY_ASSIGN(files, Discover(early_dir, diag));
  }
  for (const auto& f : files) {
    if (!PathExists(f))
      return Fail(Error::NotFound(fmt::format("compose file not found: {}", f)));
  }

  // 2. Project directory and environment.
  Project project;
  project.files = files;
  project.working_dir = options.project_directory.empty() ? Dirname(files[0])
                                                           : Absolute(cwd, options.project_directory);
  std::vector<std::string> env_files;
  for (const auto& f : options.env_files) env_files.push_back(Absolute(cwd, f));
  if (env_files.empty() && PathExists(JoinPath(project.working_dir, ".env")))
    env_files.push_back(JoinPath(project.working_dir, ".env"));
  Environment env;
  for (const auto& ef : env_files) {
    auto text = ReadFile(ef);
    if (!text) return Fail(std::move(text).error().Wrap("reading env file {}", ef));
    Lookup lookup = [&](const std::string& name) -> std::optional<std::string> {
      if (auto v = process_lookup(name)) return v;
      auto it = env.find(name);
      if (it == env.end()) return std::nullopt;
      return it->second;
    };
    KILN_TRY_ASSIGN(EnvList vars, ParseDotEnv(DisplayName(project.working_dir, ef), *text, lookup));
    for (auto& kv : vars) env[kv.first] = kv.second;
  }
  for (const auto& kv : process_env) env[kv.first] = kv.second;
  project.environment = env;

  // 3. Load, interpolate, extend, include and merge.
  FileSetLoader loader(project.working_dir, project.working_dir, env, diag, {});
  KILN_TRY_ASSIGN(Node root, loader.LoadAll(files));
  StripResets(root);

  // 4. Name and profiles.
  std::string name = options.project_name;
  if (name.empty()) {
    if (auto it = env.find("COMPOSE_PROJECT_NAME"); it != env.end()) name = it->second;
  }
  if (name.empty()) {
    if (const Node* n = root.Find("name"); n && n->is_scalar()) name = n->scalar;
  }
  bool from_dir = name.empty();
  if (from_dir) name = Basename(project.working_dir);
  project.name = NormalizeProjectName(name);
  if (project.name.empty())
    return Fail(Error::Invalid(fmt::format(
        "project name {} is empty after normalisation; set one with -p or a top-level name:",
        Quote(name))));
  if (!from_dir && project.name != name)
    return Fail(Error::Invalid(fmt::format(
        "invalid project name {}: it must contain only lowercase letters, digits, dashes and "
        "underscores, and start with a letter or digit",
        Quote(name))));
  project.profiles = options.profiles;
  if (options.profiles.empty()) {
    if (auto it = env.find("COMPOSE_PROFILES"); it != env.end())
      project.profiles = SplitNonEmpty(it->second, ",");
  }

  KILN_TRY(internal::BuildModel(std::move(root), options.services, project, diag));
  return project;
}

const Service* Project::FindService(std::string_view name) const {
  for (const auto& s : services)
    if (s.name == name) return &s;
  return nullptr;
}

const SecretDef* Project::FindSecret(std::string_view name) const {
  for (const auto& s : secrets)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace kiln::compose
