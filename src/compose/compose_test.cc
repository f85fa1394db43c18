// Loader tests: the corpus under tests/testdata/compose/<case>/ compared on
// RenderConfig output, and inline projects for errors and warnings.

#include <dirent.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "base/fs.h"
#include "base/strings.h"
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

TEST(ComposeCorpusTest, EveryCaseRendersItsExpectedConfig) {
  std::string root = JoinPath(TestData(), "compose");
  std::vector<std::string> cases = ListCases(root);
  ASSERT_GE(cases.size(), 2u) << "no corpus found under " << root;
  for (const auto& name : cases) {
    SCOPED_TRACE("case " + name);
    std::string dir = JoinPath(root, name);
    LoadOptions options = ReadCaseOptions(dir);
    CollectingDiagnostics diag;
    auto project = LoadProject(options, diag);
    ASSERT_TRUE(project.has_value()) << project.error().Render();
    std::string expected = ReplaceAll(*ReadFile(JoinPath(dir, "expected.yaml")), "@CASE@", dir);
    std::string actual = RenderConfig(*project);
    EXPECT_EQ(actual, expected);
    if (std::getenv("KILN_COMPOSE_SHOW")) std::printf("=== %s\n%s", name.c_str(), actual.c_str());
    std::string warnings;
    for (const auto& w : diag.warnings()) warnings += ReplaceAll(w.message, dir, "@CASE@") + "\n";
    auto expected_warnings = ReadFile(JoinPath(dir, "warnings.txt"));
    EXPECT_EQ(warnings, expected_warnings ? *expected_warnings : std::string());
  }
}

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

  std::vector<std::string> Warnings() {
    std::vector<std::string> out;
    for (const auto& w : diag_.warnings()) out.push_back(ReplaceAll(w.message, dir_, "@DIR@"));
    return out;
  }

  std::optional<TempDir> tmp_;
  std::string dir_;
  CollectingDiagnostics diag_;
};

// INLINE TESTS

}  // namespace
}  // namespace kiln::compose
