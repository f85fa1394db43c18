// Loader tests: the corpus under tests/testdata/compose/<case>/ compared on
// RenderConfig output, and inline projects for errors and warnings.

#include <dirent.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "base/fs.h"
#include "base/strings.h"
#include "compose/model_internal.h"
#include "compose/project.h"

namespace kiln::compose {
namespace {

std::string TestData() {
  const char* d = std::getenv("KILN_TESTDATA");
  return d ? std::string(d) : std::string(KILN_SOURCE_DIR "/tests/testdata");
}

std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

std::vector<std::string> ListCases(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != ".." && PathExists(JoinPath(JoinPath(dir, name), "expected.yaml")))
      out.push_back(name);
  }
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// case.txt: one option per line, `key=value`:
//   file=, env_file=, profile=, service=  (repeatable)
//   env=NAME=VALUE (repeatable; the process environment)
//   project_name=, project_directory=, working_dir=  (relative to the case)
LoadOptions ReadCaseOptions(const std::string& dir) {
  LoadOptions o;
  o.working_dir = dir;
  auto text = ReadFile(JoinPath(dir, "case.txt"));
  if (!text) return o;
  for (const auto& line : Split(*text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    Cut c = CutString(line, '=');
    std::string k(c.first), v(c.second);
    if (k == "file") o.files.push_back(v);
    else if (k == "env_file") o.env_files.push_back(v);
    else if (k == "profile") o.profiles.push_back(v);
    else if (k == "service") o.services.push_back(v);
    else if (k == "project_name") o.project_name = v;
    else if (k == "project_directory") o.project_directory = v;
    else if (k == "working_dir") o.working_dir = JoinPath(dir, v);
    else if (k == "env") {
      Cut kv = CutString(v, '=');
      o.environment[std::string(kv.first)] = std::string(kv.second);
    } else {
      ADD_FAILURE() << dir << "/case.txt: unknown option " << k;
    }
  }
  return o;
}

std::vector<std::string> CorpusCases() { return ListCases(JoinPath(TestData(), "compose")); }

TEST(ComposeCorpusTest, CorpusIsPresent) {
  EXPECT_GE(CorpusCases().size(), 15u) << "corpus missing under " << JoinPath(TestData(), "compose");
}

// One test per directory of tests/testdata/compose: the project loads, renders
// exactly expected.yaml (with @CASE@ for the case directory) and reports
// exactly the warnings in warnings.txt (none if absent).
class ComposeCorpusCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ComposeCorpusCase, RendersExpectedConfig) {
  std::string dir = JoinPath(JoinPath(TestData(), "compose"), GetParam());
  LoadOptions options = ReadCaseOptions(dir);
  CollectingDiagnostics diag;
  auto project = LoadProject(options, diag);
  ASSERT_TRUE(project.has_value()) << project.error().Render();
  std::string expected = ReplaceAll(*ReadFile(JoinPath(dir, "expected.yaml")), "@CASE@/..", Dirname(dir));
  expected = ReplaceAll(expected, "@CASE@", dir);
  std::string actual = RenderConfig(*project);
  EXPECT_EQ(actual, expected);
  if (std::getenv("KILN_COMPOSE_SHOW")) std::printf("=== %s\n%s", GetParam().c_str(), actual.c_str());
  std::string warnings;
  for (const auto& w : diag.warnings()) warnings += ReplaceAll(w.message, dir, "@CASE@") + "\n";
  auto expected_warnings = ReadFile(JoinPath(dir, "warnings.txt"));
  EXPECT_EQ(warnings, expected_warnings ? *expected_warnings : std::string());
}

INSTANTIATE_TEST_SUITE_P(Corpus, ComposeCorpusCase, ::testing::ValuesIn(CorpusCases()),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(ComposeCorpusCase);

std::string HostPlatformForTest() { return internal::HostPlatform(); }

// Writes files into a temp dir and loads the project there.
class ComposeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("compose-test");
    ASSERT_TRUE(t.has_value());
    tmp_.emplace(std::move(*t));
    dir_ = tmp_->path();
  }

  void Write(const std::string& rel, std::string_view text) {
    std::string p = JoinPath(dir_, rel);
    ASSERT_TRUE(MakeDirs(Dirname(p)).has_value());
    ASSERT_TRUE(WriteFile(p, text).has_value());
  }

  Result<Project> Load(LoadOptions o = {}) {
    if (o.working_dir.empty()) o.working_dir = dir_;
    return LoadProject(o, diag_);
  }

  // The rendered error with the temp dir replaced by "@DIR@".
  std::string LoadError(LoadOptions o = {}) {
    auto p = Load(std::move(o));
    if (p) return "(loaded)";
    return ReplaceAll(p.error().Render(), dir_, "@DIR@");
  }

  // Load()'s error as one line, or "(loaded)".
  std::string p_summary() {
    auto p = Load();
    if (p) return "(loaded)";
    return ReplaceAll(p.error().Summary(), dir_, "@DIR@");
  }

  std::vector<std::string> Warnings() {
    std::vector<std::string> out;
    for (const auto& w : diag_.warnings()) out.push_back(ReplaceAll(w.message, dir_, "@DIR@"));
    return out;
  }

  std::optional<TempDir> tmp_;
  std::string dir_;
  CollectingDiagnostics diag_;
};

TEST_F(ComposeTest, UnknownBuildKeySuggestsTheNearestOne) {
  Write("compose.yaml", R"(services:
  web:
    build:
      dockerfil: Dockerfile.dev
)");
  EXPECT_EQ(LoadError(),
            "compose.yaml:4:7: services.web.build: unknown key \"dockerfil\" (did you mean \"dockerfile\"?)\n"
            " 4 |       dockerfil: Dockerfile.dev\n"
            "   |       ^\n");
}

TEST_F(ComposeTest, UnknownServiceAndTopLevelKeys) {
  Write("compose.yaml", "services:\n  web:\n    image: x\n    enviroment: {}\n");
  EXPECT_EQ(LoadError(),
            "compose.yaml:4:5: services.web: unknown key \"enviroment\" (did you mean \"environment\"?)\n"
            " 4 |     enviroment: {}\n"
            "   |     ^\n");
  Write("compose.yaml", "servics:\n  web:\n    image: x\n");
  EXPECT_EQ(LoadError(),
            "compose.yaml:1:1: unknown key \"servics\" (did you mean \"services\"?)\n"
            " 1 | servics:\n"
            "   | ^\n");
}

TEST_F(ComposeTest, UndefinedBuildSecret) {
  Write("compose.yaml", R"(services:
  web:
    build:
      context: .
      secrets:
        - npm
secrets:
  npm_token:
    file: ./token
)");
  auto p = Load();
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(LoadError(),
            "compose.yaml:6:11: services.web.build.secrets[0]: undefined secret \"npm\" (did you mean \"npm_token\"?)\n"
            " 6 |         - npm\n"
            "   |           ^\n");
}

TEST_F(ComposeTest, UndefinedRuntimeSecretAndDependency) {
  Write("compose.yaml", "services:\n  web:\n    image: x\n    secrets: [nope]\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:15: services.web.secrets[0]: undefined secret \"nope\"");
  Write("compose.yaml", "services:\n  web:\n    image: x\n    depends_on: [dbb]\n  db:\n    image: y\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:18: services.web.depends_on: undefined service \"dbb\" (did you mean \"db\"?)");
}

TEST_F(ComposeTest, WrongTypes) {
  Write("compose.yaml", "services:\n  web:\n    build:\n      no_cache: maybe\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:17: services.web.build.no_cache: must be a boolean (true or false)");
  Write("compose.yaml", "services:\n  web:\n    image: [a, b]\n");
  EXPECT_EQ(p_summary(), "compose.yaml:3:12: services.web.image: must be a string");
  Write("compose.yaml", "services:\n  web:\n    build:\n      tags: latest\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:13: services.web.build.tags: must be a list of strings");
  Write("compose.yaml", "services:\n  web:\n    build:\n      secrets:\n        - source: a\n          mode: rw\n");
  EXPECT_EQ(p_summary(), "compose.yaml:6:17: services.web.build.secrets[0].mode: must be an integer");
  Write("compose.yaml", "services: [web]\n");
  EXPECT_EQ(p_summary(), "compose.yaml:1:11: services: must be a mapping");
  Write("compose.yaml", "services:\n  web:\n    environment:\n      - =x\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:9: services.web.environment[0]: empty variable name");
}

TEST_F(ComposeTest, UnsetVariableWarnsOnceAtItsFirstUse) {
  Write("compose.yaml", "services:\n  web:\n    image: app:${TAG}\n    labels:\n      tag: ${TAG}\n");
  auto p = Load();
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  std::vector<Warning> warnings = diag_.warnings();
  ASSERT_EQ(warnings.size(), 1u);
  const Warning& w = warnings[0];
  EXPECT_EQ(w.name, "ComposeVariableNotSet");
  EXPECT_EQ(w.message, "The \"TAG\" variable is not set. Defaulting to a blank string.");
  EXPECT_EQ(w.loc.file, "compose.yaml");
  EXPECT_EQ(w.loc.line, 3);
  EXPECT_EQ(w.loc.col, 12);
  EXPECT_EQ(p->services[0].image, "app:");
}

TEST_F(ComposeTest, ServiceNeedsImageOrBuild) {
  Write("compose.yaml", "services:\n  web:\n    ports: [\"80:80\"]\n");
  EXPECT_EQ(p_summary(), "compose.yaml:2:3: services.web: has neither an image nor a build context specified");
}

TEST_F(ComposeTest, RequiredVariableNamesFileLineAndKey) {
  Write("compose.yaml", "services:\n  web:\n    image: app:${TAG:?set TAG first}\n");
  auto p = Load();
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kSyntax);
  EXPECT_EQ(LoadError(),
            "compose.yaml:3:12: services.web.image: required variable TAG is missing a value: set TAG first\n"
            " 3 |     image: app:${TAG:?set TAG first}\n"
            "   |            ^\n");
}

TEST_F(ComposeTest, InvalidInterpolation) {
  Write("compose.yaml", "services:\n  web:\n    image: x\n    command: echo $\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:4:14: services.web.command: invalid interpolation format in \"echo $\" (write a literal $ as $$)");
}

TEST_F(ComposeTest, YamlErrors) {
  Write("compose.yaml", "services:\n  web:\n    image: x\n   bad: [\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:4: did not find expected key (while parsing a block mapping)");
  Write("compose.yaml", "services:\n  web:\n    image: x\n    image: y\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:5: duplicate key \"image\"");
  Write("compose.yaml", "x-a: &a 1\nservices:\n  web:\n    <<: *a\n    image: x\n");
  EXPECT_EQ(p_summary(), "compose.yaml:1:6: merge key \"<<\" needs a mapping or a list of mappings");
  Write("compose.yaml", "- just\n- a list\n");
  EXPECT_EQ(p_summary(), "compose.yaml:1:1: a compose file must be a mapping at the top level");
}

TEST_F(ComposeTest, MissingFiles) {
  LoadOptions o;
  o.files = {"nope.yaml"};
  EXPECT_EQ(LoadError(o), "compose file not found: @DIR@/nope.yaml\n");
  auto p = Load(o);
  EXPECT_EQ(p.error().code(), ErrorCode::kNotFound);
  Write("compose.yaml", "services:\n  web:\n    image: x\n");
  o.files = {"compose.yaml"};
  o.env_files = {"missing.env"};
  EXPECT_EQ(LoadError(o), "open @DIR@/missing.env: No such file or directory\nwhile reading env file @DIR@/missing.env\n");
}

TEST_F(ComposeTest, NoComposeFileFound) {
  LoadOptions o;
  o.working_dir = dir_ + "/empty";
  ASSERT_TRUE(MakeDirs(o.working_dir).has_value());
  auto p = Load(o);
  if (PathExists("/tmp/compose.yaml") || PathExists("/compose.yaml")) GTEST_SKIP() << "a compose.yaml above the temp dir";
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(ReplaceAll(p.error().Summary(), dir_, "@DIR@"),
            "no configuration file provided: not found (looked for compose.yaml, compose.yml, "
            "docker-compose.yaml or docker-compose.yml in @DIR@/empty and its parents)");
}

TEST_F(ComposeTest, ExtendsCycleIsAnError) {
  Write("compose.yaml", "services:\n  a:\n    extends: b\n  b:\n    extends: c\n  c:\n    image: x\n    extends: a\n");
  EXPECT_EQ(p_summary(), "compose.yaml:3:5: services.a.extends: circular reference: a -> b -> c -> a");
}

TEST_F(ComposeTest, ExtendsUnknownService) {
  Write("compose.yaml", "services:\n  base:\n    image: x\n  web:\n    extends: bsae\n");
  EXPECT_EQ(p_summary(), "compose.yaml:5:14: services.web.extends: service \"bsae\" not found (did you mean \"base\"?)");
  Write("compose.yaml", "services:\n  web:\n    extends:\n      file: other.yaml\n      service: base\n");
  auto p = Load();
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(LoadError(),
            "compose.yaml:4:7: open @DIR@/other.yaml: No such file or directory\n"
            " 4 |       file: other.yaml\n"
            "   |       ^\n"
            "while loading \"@DIR@/other.yaml\" for services.web.extends\n");
}

TEST_F(ComposeTest, IncludeConflictIsAnError) {
  Write("compose.yaml", "include:\n  - sub/compose.yaml\nservices:\n  db:\n    image: mine\n");
  Write("sub/compose.yaml", "services:\n  db:\n    image: theirs\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:4:3: services.db: conflicts with the service of the same name imported by "
            "include[0] from sub/compose.yaml");
}

TEST_F(ComposeTest, IncludeCycleIsAnError) {
  Write("compose.yaml", "include:\n  - sub/compose.yaml\nservices:\n  a:\n    image: a\n");
  Write("sub/compose.yaml", "include:\n  - ../compose.yaml\nservices:\n  b:\n    image: b\n");
  EXPECT_EQ(p_summary(), "sub/compose.yaml:2:5: include[0]: include cycle: compose.yaml includes itself");
}

TEST_F(ComposeTest, IncludeErrors) {
  Write("compose.yaml", "include:\n  - missing/compose.yaml\n");
  auto p = Load();
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(p_summary(), "compose.yaml:2:5: include[0]: file not found: @DIR@/missing/compose.yaml");
  Write("compose.yaml", "include:\n  - pth: x.yaml\n");
  EXPECT_EQ(p_summary(), "compose.yaml:2:5: include[0].pth: unknown key \"pth\" (did you mean \"path\"?)");
}

TEST_F(ComposeTest, MoreValidation) {
  Write("compose.yaml",
        "services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_healty\n"
        "  db:\n    image: y\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:6:20: services.web.depends_on.db.condition: unknown condition \"service_healty\" "
            "(did you mean \"service_healthy\"?)");
  Write("compose.yaml", "services:\n  web:\n    image: x\nsecrets:\n  s:\n    name: only-a-name\n");
  EXPECT_EQ(p_summary(), "compose.yaml:5:3: secrets.s: needs one of \"file\", \"environment\" or \"external\"");
  Write("compose.yaml", "services:\n  web:\n    image: x\nsecrets:\n  s:\n    file: a\n    environment: B\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:5:3: secrets.s: \"file\", \"environment\" and \"external\" are mutually exclusive");
  Write("compose.yaml", "services:\n  web:\n    build:\n      dockerfile: D\n      dockerfile_inline: FROM x\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:7: services.web.build: dockerfile and dockerfile_inline are mutually exclusive");
}

TEST_F(ComposeTest, OverrideAndResetAcrossFiles) {
  Write("compose.yaml", "services:\n  web:\n    image: x\n    labels: {a: \"1\", b: \"2\"}\n    dns: [1.1.1.1]\n");
  Write("override.yaml", "services:\n  web:\n    labels: !override {c: \"3\"}\n    dns: !reset []\n    image: !reset null\n    build: .\n");
  LoadOptions o;
  o.files = {"compose.yaml", "override.yaml"};
  auto p = Load(o);
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  const Service& web = p->services[0];
  EXPECT_EQ(web.labels, (Pairs{{"c", "3"}}));
  EXPECT_EQ(web.image, "");
  EXPECT_TRUE(web.other.empty());
  EXPECT_EQ(web.build->context, dir_);
}

TEST_F(ComposeTest, ExternalSecretCannotBeUsedByABuild) {
  Write("compose.yaml", R"(services:
  web:
    build:
      secrets: [vault]
secrets:
  vault:
    external: true
)");
  EXPECT_EQ(p_summary(),
            "compose.yaml:4:17: services.web.build.secrets[0]: secret \"vault\" is external, which is not "
            "supported for builds: give it a \"file\" or an \"environment\" source");
}

TEST_F(ComposeTest, UnsupportedBuildSettings) {
  Write("compose.yaml", "services:\n  web:\n    build:\n      platforms: [linux/amd64, linux/s390x]\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:4:7: services.web.build.platforms[1]: platform \"linux/s390x\" is not supported: "
            "kiln builds only for the host platform \"" + std::string(HostPlatformForTest()) + "\"");
  Write("compose.yaml", "services:\n  web:\n    build:\n      privileged: true\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:4:7: services.web.build.privileged: kiln does not run privileged builds; remove "
            "\"privileged: true\"");
  Write("compose.yaml", "services:\n  web:\n    build:\n      entitlements: [network.host]\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:4:7: services.web.build.entitlements: kiln does not grant build entitlements (network.host)");
}

TEST_F(ComposeTest, SecretUidGidModeWarn) {
  Write("compose.yaml", R"(services:
  web:
    build:
      secrets:
        - source: tok
          target: npmrc
          mode: 0400
secrets:
  tok:
    file: tok.txt
)");
  auto p = Load();
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(Warnings(), (std::vector<std::string>{
                            "services.web.build.secrets[0]: secrets uid, gid and mode are not supported by "
                            "BuildKit, they will be ignored"}));
  const SecretRef& ref = p->services[0].build->secrets[0];
  EXPECT_EQ(ref.source, "tok");
  EXPECT_EQ(ref.target, "npmrc");
  EXPECT_EQ(ref.mode, 0400);
  EXPECT_EQ(diag_.warnings()[0].loc.line, 5);
}

TEST_F(ComposeTest, ProfileDependencyMustBeEnabled) {
  Write("compose.yaml", "services:\n  web:\n    image: x\n    depends_on: [dbg]\n  dbg:\n    image: y\n    profiles: [debug]\n");
  EXPECT_EQ(p_summary(),
            "compose.yaml:4:18: services.web.depends_on: service \"web\" depends on \"dbg\", which is not enabled "
            "by the active profiles (enable one of its profiles: debug)");
  LoadOptions o;
  o.profiles = {"debug"};
  auto p = Load(o);
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(RenderServiceNames(*p), "dbg\nweb\n");
}

// The names BuildOrder returns, space-separated, or the error's summary.
std::string OrderOf(const Project& p, const std::vector<std::string>& names, WithDependencies deps) {
  auto order = BuildOrder(p, names, deps);
  if (!order) return order.error().Summary();
  std::vector<std::string> out;
  for (const auto* s : *order) out.push_back(s->name);
  return Join(out, " ");
}

const char kContextsProject[] = R"(services:
  web:
    build:
      context: .
      additional_contexts:
        base: service:base
        assets: ./assets
    depends_on: [db, cache]
  db:
    build: ./db
  cache:
    image: redis
  base:
    build:
      context: ./base
      additional_contexts:
        - tools=service:tools
  tools:
    build: ./tools
  other:
    build: ./other
)";

TEST_F(ComposeTest, ServiceContextIsADependencyOfTheBuild) {
  Write("compose.yaml", kContextsProject);
  // Named: web, what it reads (base, and tools through base) and what it
  // depends on are enabled; `other` is not.
  LoadOptions o;
  o.services = {"web"};
  auto p = Load(o);
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(RenderServiceNames(*p), "base\ncache\ndb\ntools\nweb\n");
  EXPECT_EQ(p->disabled_services, (std::vector<std::string>{"other"}));
  const BuildSpec& web = *p->FindService("web")->build;
  ASSERT_EQ(web.service_contexts.size(), 1u);
  EXPECT_EQ(web.service_contexts[0].context, "base");
  EXPECT_EQ(web.service_contexts[0].service, "base");
  EXPECT_EQ(web.service_contexts[0].loc.line, 6);
  EXPECT_EQ(web.service_contexts[0].loc.col, 15);
  EXPECT_EQ(web.additional_contexts, (Pairs{{"base", "service:base"}, {"assets", dir_ + "/assets"}}));
  EXPECT_EQ(p->FindService("base")->build->service_contexts[0].service, "tools");
  // What compose build builds: the services read through contexts always,
  // before their readers; depends_on only with --with-dependencies (and
  // only those with a build section: cache has none).
  EXPECT_EQ(OrderOf(*p, {"web"}, WithDependencies::kNo), "tools base web");
  EXPECT_EQ(OrderOf(*p, {"web"}, WithDependencies::kYes), "db tools base web");
  EXPECT_EQ(OrderOf(*p, {"tools"}, WithDependencies::kYes), "tools");
  EXPECT_EQ(OrderOf(*p, {"wbe"}, WithDependencies::kNo), "no such service: \"wbe\" (did you mean \"web\"?)");
  EXPECT_EQ(BuildOrder(*p, {"other"}, WithDependencies::kNo).error().code(), ErrorCode::kNotFound);
  // Everything: definition order, except that tools comes before base and
  // base before web.
  auto all = Load();
  ASSERT_TRUE(all.has_value()) << all.error().Render();
  EXPECT_EQ(OrderOf(*all, {}, WithDependencies::kNo), "db tools base web other");
}

TEST_F(ComposeTest, ServiceContextNamingAnUnknownService) {
  Write("compose.yaml", R"(services:
  web:
    build:
      context: .
      additional_contexts:
        base: service:bsae
  base:
    build: ./base
)");
  auto p = Load();
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(LoadError(),
            "compose.yaml:6:15: services.web.build.additional_contexts.base: undefined service \"bsae\" "
            "(did you mean \"base\"?)\n"
            " 6 |         base: service:bsae\n"
            "   |               ^\n");
  // In the list form the location is the entry's.
  Write("compose.yaml", "services:\n  web:\n    build:\n      additional_contexts:\n        - x=service:nope\n");
  EXPECT_EQ(p_summary(), "compose.yaml:5:11: services.web.build.additional_contexts.x: undefined service \"nope\"");
}

TEST_F(ComposeTest, DependencyCycles) {
  Write("compose.yaml", R"(services:
  a:
    build:
      additional_contexts:
        from_b: service:b
  b:
    build:
      additional_contexts:
        from_a: service:a
)");
  EXPECT_EQ(LoadError(),
            "compose.yaml:5:17: services.a.build.additional_contexts.from_b: dependency cycle: a -> b -> a\n"
            " 5 |         from_b: service:b\n"
            "   |                 ^\n");
  // Longer, and a service reading itself.
  Write("compose.yaml", R"(services:
  web:
    build:
      additional_contexts:
        x: service:api
  api:
    build:
      additional_contexts: [y=service:db]
  db:
    build:
      additional_contexts:
        z: service:web
)");
  EXPECT_EQ(p_summary(), "compose.yaml:5:12: services.web.build.additional_contexts.x: dependency cycle: "
                         "web -> api -> db -> web");
  Write("compose.yaml", "services:\n  web:\n    build:\n      additional_contexts: [self=service:web]\n");
  EXPECT_EQ(p_summary(), "compose.yaml:4:29: services.web.build.additional_contexts.self: dependency cycle: web -> web");
  // depends_on orders containers, not builds: a cycle through it does not
  // stop a build.
  Write("compose.yaml", R"(services:
  web:
    build:
      additional_contexts:
        x: service:api
  api:
    build: .
    depends_on: [web]
)");
  auto p = Load();
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(OrderOf(*p, {"web"}, WithDependencies::kYes), "api web");
}

TEST_F(ComposeTest, ServiceContextOnAServiceDisabledByProfile) {
  Write("compose.yaml", R"(services:
  web:
    build:
      additional_contexts:
        base: service:base
  base:
    build: ./base
    profiles: [base]
)");
  EXPECT_EQ(p_summary(), "compose.yaml:5:15: services.web.build.additional_contexts.base: service \"web\" depends on "
                         "\"base\", which is not enabled by the active profiles (enable one of its profiles: base)");
  LoadOptions o;
  o.services = {"web"};
  auto p = Load(o);
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(OrderOf(*p, {"web"}, WithDependencies::kNo), "base web");
}

TEST_F(ComposeTest, MalformedPortsAndVolumes) {
  auto with = [&](const std::string& service_body) {
    Write("compose.yaml", "services:\n  web:\n    image: x\n" + service_body);
    return p_summary();
  };
  EXPECT_EQ(with("    ports: [\"80:http\"]\n"), "compose.yaml:4:13: services.web.ports[0]: invalid container port \"http\"");
  EXPECT_EQ(with("    ports: [\"x:80:80\"]\n"),
            "compose.yaml:4:13: services.web.ports[0]: invalid IP address \"x\" in port \"x:80:80\"");
  EXPECT_EQ(with("    ports: [\"8000-8002:80-81\"]\n"),
            "compose.yaml:4:13: services.web.ports[0]: port ranges \"8000-8002\" and \"80-81\" differ in length");
  EXPECT_EQ(with("    ports: [\"80/tcpp\"]\n"),
            "compose.yaml:4:13: services.web.ports[0]: invalid protocol \"tcpp\" (want tcp, udp or sctp)");
  EXPECT_EQ(with("    ports: [\"70000\"]\n"), "compose.yaml:4:13: services.web.ports[0]: invalid container port \"70000\"");
  EXPECT_EQ(with("    ports:\n      - published: 80\n"), "compose.yaml:5:9: services.web.ports[0]: missing \"target\"");
  EXPECT_EQ(with("    ports:\n      - target: 80\n        publish: 8080\n"),
            "compose.yaml:6:9: services.web.ports[0]: unknown key \"publish\" (did you mean \"published\"?)");
  EXPECT_EQ(with("    ports: 80\n"), "compose.yaml:4:12: services.web.ports: must be a list");
  EXPECT_EQ(with("    volumes: [\"dta:/b\", \"/anonymous\", \"./bind:/c\"]\nvolumes:\n  data: {}\n"),
            "compose.yaml:4:15: services.web.volumes[0]: undefined volume \"dta\" (did you mean \"data\"?)");
  EXPECT_EQ(with("    volumes:\n      - type: volume\n        source: logs\n        target: /x\n"),
            "compose.yaml:5:9: services.web.volumes[0]: undefined volume \"logs\"");
  EXPECT_EQ(with("    volumes: [\"data:/b\", \"/anonymous\", \"./bind:/c\"]\nvolumes:\n  data: {}\n"), "(loaded)");
  EXPECT_EQ(with("    volumes: [\"data:/b:ro:z\"]\n"),
            "compose.yaml:4:15: services.web.volumes[0]: too many colons in \"data:/b:ro:z\"");
  EXPECT_EQ(with("    volumes: [\"data::/b\"]\n"),
            "compose.yaml:4:15: services.web.volumes[0]: empty section between colons in \"data::/b\"");
  EXPECT_EQ(with("    volumes:\n      - type: bnd\n        target: /x\n"),
            "compose.yaml:5:15: services.web.volumes[0].type: unknown volume type \"bnd\" (did you mean \"bind\"?)");
  EXPECT_EQ(with("    volumes:\n      - target: /x\n"), "compose.yaml:5:9: services.web.volumes[0]: missing \"type\"");
  EXPECT_EQ(with("    volumes:\n      - type: bind\n        source: .\n        target: /x\n        readonly: true\n"),
            "compose.yaml:8:9: services.web.volumes[0]: unknown key \"readonly\" (did you mean \"read_only\"?)");
}

TEST_F(ComposeTest, OptionalDependencyOnDisabledServiceIsDropped) {
  Write("compose.yaml",
        "services:\n  web:\n    image: x\n    depends_on:\n      dbg:\n        condition: service_started\n"
        "        required: false\n  dbg:\n    image: y\n    profiles: [debug]\n");
  auto p = Load();
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(RenderServiceNames(*p), "web\n");
  EXPECT_EQ(p->disabled_services, (std::vector<std::string>{"dbg"}));
}

TEST_F(ComposeTest, UnknownSelectedService) {
  Write("compose.yaml", "services:\n  web:\n    image: x\n");
  LoadOptions o;
  o.services = {"wbe"};
  EXPECT_EQ(LoadError(o), "no such service: \"wbe\" (did you mean \"web\"?)\n");
}

TEST_F(ComposeTest, ModelForTheBuildEngine) {
  Write("compose.yaml", R"(name: shop
services:
  web:
    build:
      context: ./web
      args: [A=1, FROM_DOTENV, MISSING]
      secrets:
        - source: npm_token
          target: npmrc
        - gh
  named:
    image: registry.local/named:2
    build: .
secrets:
  npm_token:
    file: ./secrets/npm
  gh:
    environment: GH_TOKEN
)");
  Write(".env", "FROM_DOTENV=dotenv\nGH_TOKEN=only-in-dotenv\n");
  auto p = Load();
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(p->name, "shop");
  EXPECT_EQ(p->working_dir, dir_);
  EXPECT_EQ(p->files, (std::vector<std::string>{dir_ + "/compose.yaml"}));
  const Service* web = p->FindService("web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->image, "");
  EXPECT_EQ(web->image_name, "shop-web");
  EXPECT_EQ(p->FindService("named")->image_name, "registry.local/named:2");
  ASSERT_TRUE(web->build.has_value());
  EXPECT_EQ(web->build->context, dir_ + "/web");
  EXPECT_EQ(web->build->dockerfile, "Dockerfile");
  EXPECT_EQ(web->build->args, (Pairs{{"A", "1"}, {"FROM_DOTENV", "dotenv"}}));
  ASSERT_EQ(web->build->secrets.size(), 2u);
  EXPECT_EQ(web->build->secrets[0].source, "npm_token");
  EXPECT_EQ(web->build->secrets[0].target, "npmrc");
  EXPECT_EQ(web->build->secrets[1].target, "gh");
  const SecretDef* npm = p->FindSecret("npm_token");
  ASSERT_NE(npm, nullptr);
  EXPECT_EQ(npm->file, dir_ + "/secrets/npm");
  const SecretDef* gh = p->FindSecret("gh");
  EXPECT_EQ(gh->environment, "GH_TOKEN");
  // Like docker compose v2.24+, a variable set only in .env counts.
  EXPECT_EQ(p->environment.at("GH_TOKEN"), "only-in-dotenv");
  auto value = EnvironmentSecretValue(*p, *gh);
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(*value, "only-in-dotenv");
  SecretDef unset = *gh;
  unset.environment = "NOT_SET_ANYWHERE";
  auto missing = EnvironmentSecretValue(*p, unset);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().Summary(),
            "compose.yaml:17:3: secrets.gh: environment variable \"NOT_SET_ANYWHERE\" is not set (neither in "
            "the environment nor in the .env file)");
  EXPECT_EQ(EnvironmentSecretValue(*p, *npm).error().Summary(),
            "secret \"npm_token\" does not come from an environment variable");
}

TEST_F(ComposeTest, ProcessEnvironmentOverridesDotEnv) {
  Write("compose.yaml", "services:\n  web:\n    image: app:${TAG}\n");
  Write(".env", "TAG=dotenv\n");
  LoadOptions o;
  o.environment = {{"TAG", "process"}};
  auto p = Load(o);
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(p->services[0].image, "app:process");
  EXPECT_EQ(p->environment.at("TAG"), "process");
}

TEST_F(ComposeTest, EnvFilesReplaceDotEnvAndApplyInOrder) {
  Write("compose.yaml", "services:\n  web:\n    image: ${A}-${B}\n");
  Write(".env", "A=dotenv\nB=dotenv\n");
  Write("one.env", "A=one\nB=one\n");
  Write("two.env", "B=two-after-${A}\n");
  LoadOptions o;
  o.env_files = {"one.env", "two.env"};
  auto p = Load(o);
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(p->services[0].image, "one-two-after-one");
}

TEST_F(ComposeTest, ProjectNameSources) {
  Write("compose.yaml", "name: from-file\nservices:\n  web:\n    image: x\n");
  EXPECT_EQ(Load()->name, "from-file");
  LoadOptions o;
  o.environment = {{"COMPOSE_PROJECT_NAME", "from-env"}};
  EXPECT_EQ(Load(o)->name, "from-env");
  o.project_name = "from-flag";
  EXPECT_EQ(Load(o)->name, "from-flag");
  o.project_name = "Bad Name";
  EXPECT_EQ(LoadError(o),
            "invalid project name \"Bad Name\": it must contain only lowercase letters, digits, dashes and "
            "underscores, and start with a letter or digit\n");
  EXPECT_EQ(NormalizeProjectName("My.App_1"), "myapp_1");
  EXPECT_EQ(NormalizeProjectName("__-Web"), "web");
  EXPECT_EQ(NormalizeProjectName("..."), "");
}

TEST_F(ComposeTest, ProjectDirectoryOption) {
  Write("files/compose.yaml", "services:\n  web:\n    build: ./app\n");
  Write("proj/.env", "X=1\n");
  LoadOptions o;
  o.files = {"files/compose.yaml"};
  o.project_directory = "proj";
  auto p = Load(o);
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  EXPECT_EQ(p->working_dir, dir_ + "/proj");
  EXPECT_EQ(p->name, "proj");
  EXPECT_EQ(p->services[0].build->context, dir_ + "/proj/app");
  EXPECT_EQ(p->environment.at("X"), "1");
}

TEST_F(ComposeTest, RuntimeSecretMountedByTheDockerfileWarns) {
  Write("compose.yaml", R"(services:
  app:
    build: .
    secrets:
      - npm_token
      - runtime_only
secrets:
  npm_token:
    file: ./npm
  runtime_only:
    file: ./rt
)");
  auto p = Load();
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  CollectingDiagnostics diag;
  EXPECT_EQ(CheckBuildSecrets(p->services[0], {"npm_token"}, diag), 1);
  ASSERT_EQ(diag.warnings().size(), 1u);
  EXPECT_EQ(diag.warnings()[0].name, "ComposeSecretNotInBuild");
  EXPECT_EQ(diag.warnings()[0].message,
            "service \"app\": secret \"npm_token\" is listed under services.app.secrets (runtime) but the "
            "Dockerfile mounts it at build time; add it under services.app.build.secrets");
  EXPECT_EQ(diag.warnings()[0].loc.line, 5);
}

TEST_F(ComposeTest, BuildSecretUnderItsTargetNameDoesNotWarn) {
  Write("compose.yaml", R"(services:
  app:
    build:
      secrets:
        - source: npm_token
          target: npmrc
    secrets: [npm_token]
secrets:
  npm_token:
    file: ./npm
)");
  auto p = Load();
  ASSERT_TRUE(p.has_value()) << p.error().Render();
  CollectingDiagnostics diag;
  EXPECT_EQ(CheckBuildSecrets(p->services[0], {"npmrc"}, diag), 0);
  EXPECT_EQ(CheckBuildSecrets(p->services[0], {"npm_token"}, diag), 1);
}

}  // namespace
}  // namespace kiln::compose

namespace kiln::compose {
namespace {

TEST(RenderConfigTest, QuotesWhatWouldNotReadBackAsTheSameString) {
  Project p;
  p.name = "demo";
  Service s;
  s.name = "web";
  s.image = "nginx";
  s.labels = {{"bool", "true"},     {"float", "1.0"},       {"version", "1.2.3"},
              {"ports", "80:80"},   {"empty", ""},          {"lead", " x"},
              {"colon", "a: b"},    {"hash", "#x"},         {"comment", "a #b"},
              {"dollar", "$HOME"},  {"bad_utf8", "a\xff"},  {"utf8", "caf\xc3\xa9"},
              {"nel", "a\xc2\x85"}, {"dash", "-x"},         {"dash_space", "- x"},
              {"null", "null"},     {"tab", "a\tb"},        {"ctrl", "a\x01"}};
  s.environment = {{"MULTI", std::string("line1\nline2\n")}, {"NOEOL", std::string("a\nb")},
                   {"UNSET", std::nullopt}};
  p.services.push_back(s);
  EXPECT_EQ(RenderConfig(p), R"(name: demo
services:
  web:
    environment:
      MULTI: |
        line1
        line2
      NOEOL: |-
        a
        b
      UNSET: null
    image: nginx
    labels:
      bad_utf8: "a\xff"
      bool: "true"
      colon: "a: b"
      comment: "a #b"
      ctrl: "a\x01"
      dash: -x
      dash_space: "- x"
      dollar: $$HOME
      empty: ""
      float: "1.0"
      hash: "#x"
      lead: " x"
      nel: "a\N"
      "null": "null"
      ports: "80:80"
      tab: "a\tb"
      utf8: café
      version: 1.2.3
    networks:
      default: null
networks:
  default:
    name: demo_default
)");
  auto reparsed = ParseYaml("out.yaml", RenderConfig(p));
  ASSERT_TRUE(reparsed.has_value()) << reparsed.error().Summary();
  EXPECT_EQ(reparsed->Find("services")->Find("web")->Find("labels")->Find("bool")->scalar, "true");
  EXPECT_FALSE(reparsed->Find("services")->Find("web")->Find("labels")->Find("bool")->plain);
}

TEST(RenderConfigTest, ServiceNames) {
  Project p;
  for (const char* n : {"web", "db", "api"}) {
    Service s;
    s.name = n;
    p.services.push_back(s);
  }
  EXPECT_EQ(RenderServiceNames(p), "api\ndb\nweb\n");
}

}  // namespace
}  // namespace kiln::compose
