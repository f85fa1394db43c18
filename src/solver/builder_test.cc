#include "solver/builder.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include "base/fs.h"
#include "base/strings.h"
#include "secrets/cache_token.h"
#include "secrets/source.h"
#include "solver/builder_internal.h"
#include "solver/testing/fake_worker.h"

namespace kiln::solver {
namespace {

using testing::FakeFile;
using testing::FakeWorker;

constexpr const char* kCreated = "2024-01-02T03:04:05Z";
constexpr const char* kPasswd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
constexpr const char* kGroup = "root:x:0:\nstaff:x:50:app\napp:x:1000:\n";

// Records every event; thread-safe as ProgressSink requires.
class RecordingProgress : public ProgressSink {
 public:
  void Event(const ProgressEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
  }
  // "started NAME", "cached NAME", "failed NAME: reason" for step events
  // (kStepDone and output left out).
  std::vector<std::string> StepLines() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> out;
    for (const auto& e : events_) {
      switch (e.kind) {
        case ProgressEvent::Kind::kStepStarted:
          out.push_back("started " + e.name);
          break;
        case ProgressEvent::Kind::kStepCached:
          out.push_back("cached " + e.name);
          break;
        case ProgressEvent::Kind::kStepFailed:
          out.push_back("failed " + e.name + ": " + e.data);
          break;
        default:
          break;
      }
    }
    return out;
  }
  // All step output, in order.
  std::string Output() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const auto& e : events_)
      if (e.kind == ProgressEvent::Kind::kStepOutput) out += e.data;
    return out;
  }
  void Clear() {
    std::lock_guard<std::mutex> lock(mu_);
    events_.clear();
  }

 private:
  mutable std::mutex mu_;
  std::vector<ProgressEvent> events_;
};

std::vector<std::string> Argv(const RunRequest& r) { return r.argv; }

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_ = std::make_unique<TempDir>(*TempDir::Create("kiln-ctx"));
    image::ImageConfig cfg;
    cfg.architecture = "amd64";
    cfg.os = "linux";
    cfg.config.env = {"PATH=/usr/bin:/bin"};
    cfg.config.cmd = {"sh"};
    ASSERT_TRUE(worker_.AddImage("busybox", cfg,
                                 {{"/etc/passwd", FakeFile{kPasswd}},
                                  {"/etc/group", FakeFile{kGroup}},
                                  {"/bin/sh", FakeFile{"#!fake", 0755}}}));
    options_.context_dir = ctx_->path();
    options_.created = kCreated;
  }

  void Put(const std::string& rel, const std::string& data, mode_t mode = 0644) {
    std::string path = ctx_->path() + "/" + rel;
    ASSERT_TRUE(MakeDirs(Dirname(path)));
    ASSERT_TRUE(WriteFile(path, data));
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }

  Result<BuildResult> Build(const std::string& dockerfile) {
    options_.dockerfile_text = dockerfile;
    return solver::Build(options_, worker_, progress_, diags_);
  }

  // Builds and fails the test on error.
  BuildResult MustBuild(const std::string& dockerfile) {
    auto r = Build(dockerfile);
    EXPECT_TRUE(r) << (r ? "" : r.error().Render());
    return r ? std::move(*r) : BuildResult{};
  }

  std::string Read(const BuildResult& r, const std::string& path) {
    auto data = worker_.ReadFileIn(r.image.layers, path);
    return data ? *data : "<" + data.error().message() + ">";
  }
  std::string Stat(const BuildResult& r, const std::string& path) {
    return worker_.StatIn(r.image.layers, path);
  }

  // "created_by" plus " (empty)" for empty_layer entries.
  static std::vector<std::string> History(const BuildResult& r) {
    std::vector<std::string> out;
    for (const auto& h : r.image.config.history) out.push_back(h.created_by + (h.empty_layer ? " (empty)" : ""));
    return out;
  }

  std::unique_ptr<TempDir> ctx_;
  FakeWorker worker_;
  BuildOptions options_;
  RecordingProgress progress_;
  CollectingDiagnostics diags_;
};

// ---- Config semantics -------------------------------------------------------

TEST_F(BuilderTest, ConfigInstructionsSetTheImageConfig) {
  BuildResult r = MustBuild(R"(FROM busybox
ENV A=1 B="two words"
LABEL version=1.0 "com.example.x"="y"
WORKDIR /srv
USER app
EXPOSE 80 53/UDP 80/tcp
VOLUME /data
VOLUME ["/logs", "/data"]
STOPSIGNAL SIGINT
SHELL ["/bin/bash", "-c"]
HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/
ONBUILD RUN echo child
CMD echo run
)");
  const image::ContainerConfig& c = r.image.config.config;
  EXPECT_EQ(c.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=1", "B=two words"}));
  EXPECT_EQ(c.labels, (std::map<std::string, std::string>{{"com.example.x", "y"}, {"version", "1.0"}}));
  EXPECT_EQ(c.working_dir, "/srv");
  EXPECT_EQ(c.user, "app");
  EXPECT_EQ(c.exposed_ports, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(c.volumes, (std::vector<std::string>{"/data", "/logs"}));
  EXPECT_EQ(c.stop_signal, "SIGINT");
  EXPECT_EQ(c.shell, (std::vector<std::string>{"/bin/bash", "-c"}));
  ASSERT_TRUE(c.healthcheck);
  EXPECT_EQ(c.healthcheck->test, (std::vector<std::string>{"CMD-SHELL", "curl -f http://localhost/"}));
  EXPECT_EQ(c.healthcheck->interval, 5'000'000'000);
  EXPECT_EQ(c.healthcheck->retries, 3);
  EXPECT_EQ(c.on_build, (std::vector<std::string>{"RUN echo child"}));
  // Shell-form CMD goes through the SHELL in effect.
  EXPECT_EQ(c.cmd, (std::vector<std::string>{"/bin/bash", "-c", "echo run"}));
  EXPECT_EQ(r.image.config.created, kCreated);
  EXPECT_EQ(r.image.config.architecture, "amd64");
  EXPECT_EQ(r.image.config.os, "linux");
  EXPECT_TRUE(worker_.commands_ran().empty());
}

TEST_F(BuilderTest, EntrypointResetsInheritedCmd) {
  BuildResult r = MustBuild("FROM busybox\nENTRYPOINT [\"/app\"]\n");
  EXPECT_EQ(r.image.config.config.entrypoint, (std::vector<std::string>{"/app"}));
  EXPECT_EQ(r.image.config.config.cmd, (std::vector<std::string>{}));
}

TEST_F(BuilderTest, EntrypointKeepsCmdSetInTheSameStage) {
  BuildResult r = MustBuild("FROM busybox\nCMD [\"--help\"]\nENTRYPOINT [\"/app\"]\n");
  EXPECT_EQ(r.image.config.config.entrypoint, (std::vector<std::string>{"/app"}));
  EXPECT_EQ(r.image.config.config.cmd, (std::vector<std::string>{"--help"}));
}

TEST_F(BuilderTest, ShellFormEntrypointUsesShell) {
  BuildResult r = MustBuild("FROM busybox\nENTRYPOINT exec /app\n");
  EXPECT_EQ(r.image.config.config.entrypoint, (std::vector<std::string>{"/bin/sh", "-c", "exec /app"}));
}

TEST_F(BuilderTest, ScratchGetsDefaultPath) {
  BuildResult r = MustBuild("FROM scratch\nRUN true\n");
  EXPECT_EQ(r.image.config.config.env, (std::vector<std::string>{std::string("PATH=") + kDefaultPath}));
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{std::string("PATH=") + kDefaultPath}));
}

TEST_F(BuilderTest, RunHistoryListsEveryArgDeclaration) {
  // BuildKit v0.8 (docker 20.10) printed "RUN |4 V=arg2 V=arg2 C=1 D=" for
  // src/dockerfile/testing/buildkit/envarg; today's BuildKit expands D's
  // default after C (D=1). Every ARG line counts, repeats and ARGs without
  // a value too, each with the value the step sees.
  BuildResult r = MustBuild(R"(FROM busybox
ARG V=arg
ENV V=env
ARG V=arg2
ARG C=1 D=$C
ARG NOVALUE
RUN true
)");
  EXPECT_EQ(History(r).back(), "RUN |5 V=arg2 V=arg2 C=1 D=1 NOVALUE= /bin/sh -c true # buildkit (empty)");
}

TEST_F(BuilderTest, HistoryEntries) {
  Put("a.txt", "A");
  BuildResult r = MustBuild(R"(FROM busybox
ARG A=b
ENV E=1
RUN echo hi
WORKDIR /app
COPY a.txt .
USER app
CMD ["run"]
)");
  EXPECT_EQ(History(r), (std::vector<std::string>{
                            "ARG A=b (empty)",
                            "ENV E=1 (empty)",
                            "RUN |1 A=b /bin/sh -c echo hi # buildkit (empty)",
                            "WORKDIR /app",
                            "COPY a.txt . # buildkit",
                            "USER app (empty)",
                            "CMD [\"run\"] (empty)",
                        }));
  for (const auto& h : r.image.config.history) {
    EXPECT_EQ(h.created, kCreated);
    EXPECT_EQ(h.comment, "buildkit.dockerfile.v0");
  }
  EXPECT_EQ(r.image.layers.size(), 3u);  // base + WORKDIR + COPY
}

TEST_F(BuilderTest, RunHistoryWithoutArgsHasNoPrefix) {
  BuildResult r = MustBuild("FROM busybox\nRUN echo hi\n");
  EXPECT_EQ(History(r), (std::vector<std::string>{"RUN /bin/sh -c echo hi # buildkit (empty)"}));
}

// BuildKit writes `CMD %q` of the argv: Go's quoting of a []string,
// space-separated ("CMD [\"/bin/sh\" \"-c\" \"echo run\"]").
TEST_F(BuilderTest, CmdHistoryUsesGoQuotedList) {
  BuildResult r = MustBuild("FROM busybox\nCMD echo run\n");
  EXPECT_EQ(History(r), (std::vector<std::string>{"CMD [\"/bin/sh\" \"-c\" \"echo run\"] (empty)"}));
}

TEST_F(BuilderTest, EntrypointHistoryUsesGoQuotedList) {
  BuildResult r = MustBuild("FROM busybox\nENTRYPOINT [\"/app\", \"--flag\"]\n");
  EXPECT_EQ(History(r), (std::vector<std::string>{"ENTRYPOINT [\"/app\" \"--flag\"] (empty)"}));
}

TEST_F(BuilderTest, OnbuildTriggersOfTheBaseRunFirstAndAreConsumed) {
  image::ImageConfig cfg;
  cfg.config.on_build = {"RUN echo from-trigger"};
  ASSERT_TRUE(worker_.AddImage("example.com/onbuild:1", cfg, {}));
  BuildResult r = MustBuild("FROM example.com/onbuild:1\nRUN echo mine\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c echo from-trigger", "/bin/sh -c echo mine"}));
  EXPECT_EQ(r.image.config.config.on_build, (std::vector<std::string>{}));
}

// ---- RUN ----------------------------------------------------------------------

TEST_F(BuilderTest, RunArgvFromShellExecShellInstructionAndHeredoc) {
  MustBuild(R"(FROM busybox
RUN echo one
RUN ["/bin/echo", "two"]
SHELL ["/bin/bash", "-eo", "pipefail", "-c"]
RUN echo three
RUN <<EOF
echo four
EOF
)");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 4u);
  EXPECT_EQ(Argv(ran[0]), (std::vector<std::string>{"/bin/sh", "-c", "echo one"}));
  EXPECT_EQ(Argv(ran[1]), (std::vector<std::string>{"/bin/echo", "two"}));
  EXPECT_EQ(Argv(ran[2]), (std::vector<std::string>{"/bin/bash", "-eo", "pipefail", "-c", "echo three"}));
  EXPECT_EQ(Argv(ran[3]), (std::vector<std::string>{"/bin/bash", "-eo", "pipefail", "-c", "echo four\n"}));
}

TEST_F(BuilderTest, RunEnvUserAndCwd) {
  options_.build_args = {{"VERSION", "2"}, {"UNUSED", "x"}};
  MustBuild(R"(FROM busybox
ARG VERSION=1
ARG DEFAULTED=d
ENV HOME_DIR=/root
WORKDIR /src
USER app
RUN make
)");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].env,
            (std::vector<std::string>{"PATH=/usr/bin:/bin", "HOME_DIR=/root", "VERSION=2", "DEFAULTED=d"}));
  EXPECT_EQ(ran[0].cwd, "/src");
  EXPECT_EQ(ran[0].user, "app");
  EXPECT_EQ(ran[0].network, RunRequest::Network::kDefault);
}

TEST_F(BuilderTest, RunNetworkFlag) {
  options_.network = RunRequest::Network::kHost;
  MustBuild("FROM busybox\nRUN --network=none a\nRUN b\nRUN --network=default c\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[0].network, RunRequest::Network::kNone);
  EXPECT_EQ(ran[1].network, RunRequest::Network::kHost);
  EXPECT_EQ(ran[2].network, RunRequest::Network::kHost);
}

TEST_F(BuilderTest, RunMountsBecomeBindsAndTmpfs) {
  Put("sub/file", "f");
  MustBuild(R"(FROM busybox
WORKDIR /w
RUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=scratch --mount=type=bind,source=sub,target=/ctx build
)");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  std::vector<std::string> binds;
  for (const auto& b : ran[0].binds)
    binds.push_back(fmt::format("{} -> {} {}", b.source, b.target, b.readonly ? "ro" : "rw"));
  EXPECT_EQ(binds, (std::vector<std::string>{
                       *worker_.CacheMountDir("/root/.cache") + " -> /root/.cache rw",
                       ctx_->path() + "/sub -> /ctx ro",
                   }));
  ASSERT_EQ(ran[0].tmpfs.size(), 1u);
  EXPECT_EQ(ran[0].tmpfs[0].target, "/w/scratch");
}

TEST_F(BuilderTest, SecretMountsBecomeBindsAndEnvAndOutputIsMasked) {
  secrets::SecretStore store;
  store.Put("tok", secrets::SecretValue("s3cr3t-value-123"));
  options_.secrets = &store;
  std::string seen_file;
  worker_.OnRun("use-secret", [&](const RunRequest& req, const std::string&) -> Result<int> {
    for (const auto& b : req.binds)
      if (b.target == "/run/secrets/tok") seen_file = ReadFile(b.source).value_or("<unreadable>");
    req.on_output("token is s3cr3t-value-123\n", 1);
    return 0;
  });
  BuildResult r = MustBuild(
      "FROM busybox\nRUN --mount=type=secret,id=tok --mount=type=secret,id=tok,env=TOKEN,target=/t use-secret\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(seen_file, "s3cr3t-value-123");
  std::vector<std::string> targets;
  for (const auto& b : ran[0].binds) targets.push_back(b.target + (b.readonly ? " ro" : " rw"));
  EXPECT_EQ(targets, (std::vector<std::string>{"/run/secrets/tok ro", "/t ro"}));
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "TOKEN=s3cr3t-value-123"}));
  EXPECT_EQ(progress_.Output(), "token is ****\n");
  // Nothing of the secret stays in the image.
  EXPECT_EQ(r.image.layers.size(), 1u);
}

TEST_F(BuilderTest, MissingRequiredSecretFailsAtTheInstruction) {
  auto r = Build("FROM busybox\nRUN --mount=type=secret,id=npm,required=true npm ci\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: secret \"npm\" is required but was not provided");
  EXPECT_TRUE(worker_.commands_ran().empty());
}

TEST_F(BuilderTest, MissingRequiredSecretWithOtherSecretsProvided) {
  secrets::SecretStore store;
  store.Put("other", secrets::SecretValue("another-secret"));
  options_.secrets = &store;
  auto r = Build("FROM busybox\nRUN --mount=type=secret,id=npm,required=true npm ci\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: secret \"npm\" is required but was not provided");
  EXPECT_TRUE(worker_.commands_ran().empty());
}

TEST_F(BuilderTest, FailingRunIsStepFailedWithLocationAndOutputTail) {
  worker_.OnRun("exit 3", [](const RunRequest& req, const std::string&) -> Result<int> {
    req.on_output("first\n", 1);
    req.on_output("oops", 2);
    return 3;
  });
  auto r = Build("FROM busybox\n\nRUN exit 3\nRUN never\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kStepFailed);
  EXPECT_EQ(r.error().Summary(),
            "Dockerfile:3:1: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3");
  EXPECT_EQ(r.error().hint(), "last output lines:\n  first\n  oops");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c exit 3"}));
  EXPECT_EQ(progress_.StepLines(),
            (std::vector<std::string>{
                "started [internal] load build definition from Dockerfile",
                "started [1/3] FROM busybox",
                "started [2/3] RUN exit 3",
                "failed [2/3] RUN exit 3: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3",
            }));
}

TEST_F(BuilderTest, FailingExecFormRunShowsJsonArgv) {
  worker_.OnRun("false", [](const RunRequest&, const std::string&) -> Result<int> { return 1; });
  auto r = Build("FROM busybox\nRUN [\"false\", \"x\"]\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Summary(),
            "Dockerfile:2:1: process \"[\\\"false\\\",\\\"x\\\"]\" did not complete successfully: exit code: 1");
}

TEST_F(BuilderTest, RunEffectLandsInTheLayer) {
  worker_.OnRun("make-file", [](const RunRequest&, const std::string& root) -> Result<int> {
    KILN_TRY(WriteFile(root + "/out.txt", "made"));
    return 0;
  });
  BuildResult r = MustBuild("FROM busybox\nRUN make-file\n");
  ASSERT_EQ(r.image.layers.size(), 2u);
  EXPECT_EQ(Read(r, "/out.txt"), "made");
  EXPECT_EQ(worker_.LayerListing(r.image.layers[1]), (std::vector<std::string>{"/out.txt: file 644 0:0 \"made\""}));
  EXPECT_EQ(History(r), (std::vector<std::string>{"RUN /bin/sh -c make-file # buildkit"}));
}

// ---- COPY / ADD -----------------------------------------------------------------

TEST_F(BuilderTest, CopyKeepsModesAndOwnsByRoot) {
  Put("run.sh", "#!/bin/sh\n", 0755);
  Put("conf", "c", 0600);
  BuildResult r = MustBuild("FROM busybox\nCOPY run.sh conf /opt/\n");
  EXPECT_EQ(Read(r, "/opt/run.sh"), "#!/bin/sh\n");
  EXPECT_EQ(Stat(r, "/opt/run.sh"), "100755 0:0");
  EXPECT_EQ(Stat(r, "/opt/conf"), "100600 0:0");
  EXPECT_EQ(Stat(r, "/opt"), "40755 0:0");
}

TEST_F(BuilderTest, CopyChownByNameAndChmod) {
  Put("a.txt", "a");
  BuildResult r = MustBuild(R"(FROM busybox
COPY --chown=app a.txt /home/app/a.txt
COPY --chown=app:staff --chmod=640 a.txt /b.txt
COPY --chown=7:8 a.txt /c.txt
)");
  EXPECT_EQ(Stat(r, "/home/app/a.txt"), "100644 1000:1000");
  EXPECT_EQ(Stat(r, "/b.txt"), "100640 1000:50");
  EXPECT_EQ(Stat(r, "/c.txt"), "100644 7:8");
}

TEST_F(BuilderTest, CopyChownUnknownUserFails) {
  Put("a.txt", "a");
  auto r = Build("FROM busybox\nCOPY --chown=nobody a.txt /a\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: unable to find user nobody: no matching entries in passwd file");
}

TEST_F(BuilderTest, CopyWildcards) {
  Put("x1.txt", "1");
  Put("x2.txt", "2");
  Put("y.md", "y");
  BuildResult r = MustBuild("FROM busybox\nCOPY x*.txt /w/\n");
  EXPECT_EQ(Read(r, "/w/x1.txt"), "1");
  EXPECT_EQ(Read(r, "/w/x2.txt"), "2");
  EXPECT_EQ(Stat(r, "/w/y.md"), "");
}

TEST_F(BuilderTest, CopyHonoursDockerignore) {
  Put(".dockerignore", "*.log\nsecret.txt\n");
  Put("keep.txt", "k");
  Put("secret.txt", "s");
  Put("debug.log", "l");
  BuildResult r = MustBuild("FROM busybox\nCOPY . /app/\n");
  EXPECT_EQ(Read(r, "/app/keep.txt"), "k");
  EXPECT_EQ(Stat(r, "/app/secret.txt"), "");
  EXPECT_EQ(Stat(r, "/app/debug.log"), "");
}

TEST_F(BuilderTest, CopyHeredoc) {
  BuildResult r = MustBuild("FROM busybox\nCOPY <<EOF /etc/greeting\nhello\nEOF\n");
  EXPECT_EQ(Read(r, "/etc/greeting"), "hello\n");
  EXPECT_EQ(Stat(r, "/etc/greeting"), "100644 0:0");
}

TEST_F(BuilderTest, CopyDestinationRules) {
  Put("a.txt", "a");
  BuildResult r = MustBuild(R"(FROM busybox
COPY a.txt /dir/
COPY a.txt /file
COPY a.txt /etc
WORKDIR /w
COPY a.txt rel
)");
  EXPECT_EQ(Read(r, "/dir/a.txt"), "a");
  EXPECT_EQ(Read(r, "/file"), "a");
  EXPECT_EQ(Read(r, "/etc/a.txt"), "a");  // an existing directory
  EXPECT_EQ(Read(r, "/w/rel"), "a");
}

TEST_F(BuilderTest, CopyOfSeveralSourcesNeedsADirectory) {
  Put("a.txt", "a");
  Put("b.txt", "b");
  auto r = Build("FROM busybox\nCOPY a.txt b.txt /nodir\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Summary(),
            "Dockerfile:2:1: When using COPY with more than one source file, the destination must be a directory "
            "and end with a /");
}

TEST_F(BuilderTest, CopyOfMissingSourceFails) {
  auto r = Build("FROM busybox\nCOPY nothere /x\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: failed to compute cache key: \"/nothere\": not found");
  EXPECT_EQ(r.error().hint(),
            "the path must exist in the build context and not be excluded by .dockerignore");
}

// ---- Cache ----------------------------------------------------------------------

constexpr const char* kCacheDockerfile = R"(FROM busybox
RUN echo first
COPY a.txt /a.txt
RUN echo after
)";

TEST_F(BuilderTest, SecondBuildIsFullyCached) {
  Put("a.txt", "v1");
  BuildResult first = MustBuild(kCacheDockerfile);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c echo first", "/bin/sh -c echo after"}));
  worker_.ClearCommands();
  progress_.Clear();
  BuildResult second = MustBuild(kCacheDockerfile);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
  EXPECT_EQ(worker_.cache_hits(), 3);
  EXPECT_EQ(progress_.StepLines(), (std::vector<std::string>{
                                       "started [internal] load build definition from Dockerfile",
                                       "started [1/4] FROM busybox",
                                       "cached [2/4] RUN echo first",
                                       "cached [3/4] COPY a.txt /a.txt",
                                       "cached [4/4] RUN echo after",
                                   }));
  ASSERT_EQ(second.image.layers.size(), first.image.layers.size());
  for (size_t i = 0; i < first.image.layers.size(); ++i)
    EXPECT_EQ(second.image.layers[i].chain_id, first.image.layers[i].chain_id);
  EXPECT_EQ(History(second), History(first));
}

TEST_F(BuilderTest, ChangedContextFileRerunsFromItsCopy) {
  Put("a.txt", "v1");
  MustBuild(kCacheDockerfile);
  worker_.ClearCommands();
  Put("a.txt", "v2");
  BuildResult r = MustBuild(kCacheDockerfile);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c echo after"}));
  EXPECT_EQ(worker_.cache_hits(), 1);
  EXPECT_EQ(Read(r, "/a.txt"), "v2");
}

TEST_F(BuilderTest, TouchedContextFileIsStillACacheHit) {
  Put("a.txt", "v1");
  MustBuild(kCacheDockerfile);
  worker_.ClearCommands();
  struct timeval times[2] = {{1000, 0}, {2000, 0}};
  ASSERT_EQ(::utimes((ctx_->path() + "/a.txt").c_str(), times), 0);
  MustBuild(kCacheDockerfile);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
  EXPECT_EQ(worker_.cache_hits(), 3);
}

TEST_F(BuilderTest, NoCacheRerunsEverything) {
  Put("a.txt", "v1");
  MustBuild(kCacheDockerfile);
  worker_.ClearCommands();
  options_.no_cache = true;
  MustBuild(kCacheDockerfile);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c echo first", "/bin/sh -c echo after"}));
  EXPECT_EQ(worker_.cache_hits(), 0);
}

// BuildKit solves one vertex once per build, --no-cache or not: the same
// step in two stages runs once.
TEST_F(BuilderTest, NoCacheRunsAStepSharedByTwoStagesOnce) {
  options_.no_cache = true;
  MustBuild("FROM busybox AS a\nRUN same\nRUN echo a\nFROM busybox AS b\nRUN same\nRUN echo b\n"
            "FROM busybox\nCOPY --from=a /etc/passwd /a\nCOPY --from=b /etc/passwd /b\n");
  auto ran = worker_.argvs_ran();
  std::sort(ran.begin(), ran.end());
  EXPECT_EQ(ran, (std::vector<std::string>{"/bin/sh -c echo a", "/bin/sh -c echo b", "/bin/sh -c same"}));
}

TEST_F(BuilderTest, ChangedBuildArgSeenByRunMissesTheCache) {
  options_.build_args = {{"V", "1"}};
  MustBuild("FROM busybox\nARG V\nRUN echo $V\n");
  worker_.ClearCommands();
  options_.build_args = {{"V", "2"}};
  MustBuild("FROM busybox\nARG V\nRUN echo $V\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c echo $V"}));
}

// ---- Multi-stage ---------------------------------------------------------------------

TEST_F(BuilderTest, OnlyStagesTheTargetNeedsRun) {
  options_.target = "app";
  MustBuild(R"(FROM busybox AS unused
RUN build-unused
FROM busybox AS deps
RUN build-deps
FROM busybox AS app
COPY --from=deps /etc/passwd /p
RUN build-app
FROM busybox AS after
RUN build-after
)");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c build-deps", "/bin/sh -c build-app"}));
}

TEST_F(BuilderTest, IndependentStagesRunInParallel) {
  options_.max_parallel = 4;
  std::mutex mu;
  std::condition_variable cv;
  int started = 0;
  // Each effect waits until both have started: only concurrent stages can
  // both succeed.
  worker_.OnRun("build-", [&](const RunRequest& req, const std::string& root) -> Result<int> {
    std::unique_lock<std::mutex> lock(mu);
    ++started;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return started >= 2; })) return 99;
    std::string name = req.argv.back().substr(std::string("build-").size());
    KILN_TRY(WriteFile(root + "/" + name, name));
    return 0;
  });
  BuildResult r = MustBuild(R"(FROM busybox AS a
RUN build-a
FROM busybox AS b
RUN build-b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
)");
  EXPECT_EQ(started, 2);
  EXPECT_EQ(Read(r, "/a"), "a");
  EXPECT_EQ(Read(r, "/b"), "b");
}

TEST_F(BuilderTest, FromStageInheritsEnvAndArgs) {
  BuildResult r = MustBuild(R"(FROM busybox AS base
ENV X=1
WORKDIR /base
FROM base
RUN env
)");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "X=1"}));
  EXPECT_EQ(ran[0].cwd, "/base");
  EXPECT_EQ(r.image.config.config.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "X=1"}));
}

TEST_F(BuilderTest, CopyFromStageKeepsSourceOwners) {
  worker_.OnRun("build", [](const RunRequest&, const std::string& root) -> Result<int> {
    KILN_TRY(MakeDirs(root + "/out"));
    KILN_TRY(WriteFile(root + "/out/bin", "binary"));
    if (::chown((root + "/out/bin").c_str(), 1000, 1000) != 0) return 1;
    return 0;
  });
  BuildResult r = MustBuild(R"(FROM busybox AS build
RUN build
FROM scratch
COPY --from=build /out/ /usr/local/bin/
)");
  EXPECT_EQ(Read(r, "/usr/local/bin/bin"), "binary");
  EXPECT_EQ(Stat(r, "/usr/local/bin/bin"), "100644 1000:1000");
  EXPECT_EQ(r.image.layers.size(), 1u);
  EXPECT_EQ(History(r), (std::vector<std::string>{"COPY /out/ /usr/local/bin/ # buildkit"}));
}

// ---- Errors ---------------------------------------------------------------------------

TEST_F(BuilderTest, UnknownTargetSuggestsAStage) {
  options_.target = "buld";
  auto r = Build("FROM busybox AS build\nRUN x\nFROM busybox AS test\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "target stage \"buld\" could not be found (did you mean \"build\"?)");
  EXPECT_TRUE(worker_.commands_ran().empty());
}

TEST_F(BuilderTest, SyntaxErrorIsReportedWithLocation) {
  auto r = Build("FROM busybox\nRUNN echo\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kSyntax);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: unknown instruction \"RUNN\" (did you mean \"RUN\"?)");
  EXPECT_TRUE(worker_.commands_ran().empty());
}

// Like BuildKit, a --from that names no stage is an image reference.
TEST_F(BuilderTest, UnknownStageInCopyFrom) {
  auto r = Build("FROM busybox\nCOPY --from=nosuch /x /x\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: image \"docker.io/library/nosuch:latest\" not found");
}

TEST_F(BuilderTest, UnknownBaseImage) {
  auto r = Build("FROM nosuch:1\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:1:1: image \"docker.io/library/nosuch:1\" not found");
}

// ---- More secrets ------------------------------------------------------------------

TEST_F(BuilderTest, SecretSplitAcrossOutputChunksIsMasked) {
  secrets::SecretStore store;
  store.Put("tok", secrets::SecretValue("s3cr3t-value-123"));
  options_.secrets = &store;
  worker_.OnRun("chunky", [](const RunRequest& req, const std::string&) -> Result<int> {
    req.on_output("a s3cr3t-", 1);
    req.on_output("value-123 b\n", 1);
    return 0;
  });
  MustBuild("FROM busybox\nRUN --mount=type=secret,id=tok chunky\n");
  EXPECT_EQ(progress_.Output(), "a **** b\n");
}

TEST_F(BuilderTest, SecretInFailureOutputIsMaskedInTheHint) {
  secrets::SecretStore store;
  store.Put("tok", secrets::SecretValue("s3cr3t-value-123"));
  options_.secrets = &store;
  worker_.OnRun("leaky-fail", [](const RunRequest& req, const std::string&) -> Result<int> {
    req.on_output("bad token s3cr3t-value-123\n", 2);
    return 1;
  });
  auto r = Build("FROM busybox\nRUN --mount=type=secret,id=tok leaky-fail\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kStepFailed);
  EXPECT_EQ(r.error().hint(), "last output lines:\n  bad token ****");
  EXPECT_EQ(progress_.Output(), "bad token ****\n");
}

TEST_F(BuilderTest, SecretWrittenIntoTheLayerFailsTheStep) {
  secrets::SecretStore store;
  store.Put("tok", secrets::SecretValue("s3cr3t-value-123"));
  options_.secrets = &store;
  worker_.OnRun("persist", [](const RunRequest&, const std::string& root) -> Result<int> {
    KILN_TRY(WriteFile(root + "/token", "s3cr3t-value-123"));
    return 0;
  });
  auto r = Build("FROM busybox\nRUN --mount=type=secret,id=tok persist\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(r.error().Summary(),
            "Dockerfile:2:1: secret leaked into the layer: secret \"tok\" found (raw) in content of token");
}

TEST_F(BuilderTest, SecretWrittenIntoTheLayerOnlyWarnsInWarnMode) {
  secrets::SecretStore store;
  store.Put("tok", secrets::SecretValue("s3cr3t-value-123"));
  options_.secrets = &store;
  options_.secret_leaks = SecretLeakMode::kWarn;
  worker_.OnRun("persist", [](const RunRequest&, const std::string& root) -> Result<int> {
    KILN_TRY(WriteFile(root + "/token", "s3cr3t-value-123"));
    return 0;
  });
  BuildResult r = MustBuild("FROM busybox\nRUN --mount=type=secret,id=tok persist\n");
  EXPECT_EQ(r.image.layers.size(), 2u);
  std::vector<std::string> warnings;
  for (const auto& w : diags_.warnings())
    if (w.name == "SecretLeak") warnings.push_back(fmt::format("{}:{}: {}", w.loc.file, w.loc.line, w.message));
  EXPECT_EQ(warnings, (std::vector<std::string>{
                          "Dockerfile:2: secret leaked into the layer: secret \"tok\" found (raw) in content of token"}));
}

TEST_F(BuilderTest, SecretValueNeverReachesTheCacheKey) {
  // The same step with a different secret value is a cache hit: the key
  // holds the secret's id, never its value.
  secrets::SecretStore one;
  one.Put("tok", secrets::SecretValue("first-secret-value"));
  options_.secrets = &one;
  MustBuild("FROM busybox\nRUN --mount=type=secret,id=tok use\n");
  worker_.ClearCommands();
  secrets::SecretStore two;
  two.Put("tok", secrets::SecretValue("second-secret-value"));
  options_.secrets = &two;
  MustBuild("FROM busybox\nRUN --mount=type=secret,id=tok use\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
}

// ---- More COPY / WORKDIR / ADD ----------------------------------------------------

TEST_F(BuilderTest, WorkdirIsCreatedOwnedByTheUser) {
  BuildResult r = MustBuild("FROM busybox\nUSER app\nWORKDIR /home/app/work\n");
  EXPECT_EQ(Stat(r, "/home/app/work"), "40755 1000:1000");
  EXPECT_EQ(r.image.config.config.working_dir, "/home/app/work");
}

TEST_F(BuilderTest, RelativeWorkdirJoinsThePreviousOne) {
  BuildResult r = MustBuild("FROM busybox\nWORKDIR /a\nWORKDIR b/../c\nRUN pwd\n");
  EXPECT_EQ(r.image.config.config.working_dir, "/a/c");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].cwd, "/a/c");
  EXPECT_EQ(Stat(r, "/a/c"), "40755 0:0");
}

TEST_F(BuilderTest, CopyOfAnIgnoredFileIsNotFound) {
  Put(".dockerignore", "secret.txt\n");
  Put("secret.txt", "s");
  auto r = Build("FROM busybox\nCOPY secret.txt /\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: failed to compute cache key: \"/secret.txt\": not found");
}

TEST_F(BuilderTest, AddOfAPlainFileCopiesIt) {
  Put("a.txt", "a");
  BuildResult r = MustBuild("FROM busybox\nADD a.txt /opt/\n");
  EXPECT_EQ(Read(r, "/opt/a.txt"), "a");
  EXPECT_EQ(History(r), (std::vector<std::string>{"ADD a.txt /opt/ # buildkit"}));
}

// BuildKit unpacks a local tar archive named by ADD into the destination.
TEST_F(BuilderTest, AddUnpacksALocalTarArchive) {
  Put("src/hello", "hi");
  ASSERT_EQ(std::system(("tar -C " + ctx_->path() + "/src -cf " + ctx_->path() + "/a.tar hello").c_str()), 0);
  BuildResult r = MustBuild("FROM busybox\nADD a.tar /x/\n");
  EXPECT_EQ(Read(r, "/x/hello"), "hi");
}

TEST_F(BuilderTest, CopyFromAnImage) {
  image::ImageConfig cfg;
  ASSERT_TRUE(worker_.AddImage("example.com/tools:2", cfg, {{"/usr/bin/tool", FakeFile{"T", 0755, 3, 4}}}));
  BuildResult r = MustBuild("FROM busybox\nCOPY --from=example.com/tools:2 /usr/bin/tool /bin/\n");
  EXPECT_EQ(Read(r, "/bin/tool"), "T");
  EXPECT_EQ(Stat(r, "/bin/tool"), "100755 3:4");
}

TEST_F(BuilderTest, UnchangedUnusedContextFileKeepsTheCache) {
  Put("a.txt", "v1");
  Put("other.txt", "o1");
  MustBuild(kCacheDockerfile);
  worker_.ClearCommands();
  Put("other.txt", "o2");
  MustBuild(kCacheDockerfile);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
}

TEST_F(BuilderTest, ChangedRunLineMissesFromThatStepOn) {
  Put("a.txt", "v1");
  MustBuild(kCacheDockerfile);
  worker_.ClearCommands();
  MustBuild("FROM busybox\nRUN echo FIRST\nCOPY a.txt /a.txt\nRUN echo after\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c echo FIRST", "/bin/sh -c echo after"}));
}

TEST_F(BuilderTest, LayersChainTheirParents) {
  worker_.OnRun("write", [](const RunRequest& req, const std::string& root) -> Result<int> {
    KILN_TRY(WriteFile(root + "/" + req.argv.back().substr(6), "x"));
    return 0;
  });
  BuildResult r = MustBuild("FROM busybox\nRUN write one\nRUN write two\n");
  ASSERT_EQ(r.image.layers.size(), 3u);
  EXPECT_EQ(worker_.LayerListing(r.image.layers[2]), (std::vector<std::string>{"/two: file 644 0:0 \"x\""}));
  EXPECT_EQ(r.image.layers[2].chain_id,
            Digest::Of(r.image.layers[1].chain_id.str() + " " + r.image.layers[2].diff_id.str()));
  EXPECT_EQ(r.image.layers[1].chain_id,
            Digest::Of(r.image.layers[0].chain_id.str() + " " + r.image.layers[1].diff_id.str()));
}

// ---- More stages and options ---------------------------------------------------------

TEST_F(BuilderTest, GlobalArgSelectsTheBaseImage) {
  image::ImageConfig cfg;
  cfg.config.env = {"FROM_TAG=2"};
  ASSERT_TRUE(worker_.AddImage("example.com/base:2", cfg, {}));
  options_.build_args = {{"TAG", "2"}};
  BuildResult r = MustBuild("ARG TAG=1\nFROM example.com/base:${TAG}\n");
  EXPECT_EQ(r.image.config.config.env,
            (std::vector<std::string>{std::string("PATH=") + kDefaultPath, "FROM_TAG=2"}));
}

TEST_F(BuilderTest, LabelOptionsApplyToTheFinalImage) {
  options_.labels = {{"org.example.built-by", "kiln"}, {"version", "cli"}};
  BuildResult r = MustBuild("FROM busybox\nLABEL version=df\n");
  EXPECT_EQ(r.image.config.config.labels,
            (std::map<std::string, std::string>{{"org.example.built-by", "kiln"}, {"version", "cli"}}));
}

TEST_F(BuilderTest, FailingStageStopsTheBuildAndIsReported) {
  worker_.OnRun("broken", [](const RunRequest&, const std::string&) -> Result<int> { return 2; });
  auto r = Build(R"(FROM busybox AS a
RUN broken
FROM busybox AS b
RUN fine
FROM busybox
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
RUN final
)");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Summary(),
            "Dockerfile:2:1: process \"/bin/sh -c broken\" did not complete successfully: exit code: 2");
  for (const auto& argv : worker_.argvs_ran()) EXPECT_NE(argv, "/bin/sh -c final");
}

// Step names quote the instruction as written (BuildKit shows the resolved
// reference, "FROM docker.io/library/busybox:latest", instead).
TEST_F(BuilderTest, MultiStageStepNames) {
  options_.max_parallel = 1;
  MustBuild("FROM busybox AS a\nRUN one\nFROM a AS b\nRUN two\n");
  auto lines = progress_.StepLines();
  std::sort(lines.begin(), lines.end());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "cached [b 1/2] FROM a AS b",
                       "started [a 1/2] FROM busybox AS a",
                       "started [a 2/2] RUN one",
                       "started [b 2/2] RUN two",
                       "started [internal] load build definition from Dockerfile",
                   }));
}

TEST_F(BuilderTest, CheckOnlyRunsNothing) {
  options_.check_only = true;
  auto r = Build("FROM busybox\nRUN make\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(worker_.commands_ran().empty());
  EXPECT_EQ(worker_.mounts(), 0);
}

// ---- Variables ---------------------------------------------------------------------

TEST_F(BuilderTest, EnvExpandsEarlierEnvAndShadowsArg) {
  // Within one ENV, references see the values from before it (Docker's
  // "ENV abc=bye def=$abc" gives def=hello).
  MustBuild("FROM busybox\nARG X=1\nENV A=a\nENV B=${A}b A=z C=$A\nENV X=2\nRUN x\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=z", "B=ab", "C=a", "X=2"}));
}

TEST_F(BuilderTest, GlobalArgIsVisibleInAStageOnlyWhenRedeclared) {
  MustBuild("ARG G=1\nFROM busybox AS one\nRUN x\nFROM one\nARG G\nRUN y\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 2u);
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{"PATH=/usr/bin:/bin"}));
  EXPECT_EQ(ran[1].env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "G=1"}));
}

TEST_F(BuilderTest, ProxyBuildArgsReachRunWithoutArgAndStayOutOfHistory) {
  options_.build_args = {{"HTTP_PROXY", "http://proxy:3128"}};
  BuildResult r = MustBuild("FROM busybox\nRUN fetch\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "HTTP_PROXY=http://proxy:3128"}));
  EXPECT_EQ(History(r), (std::vector<std::string>{"RUN /bin/sh -c fetch # buildkit (empty)"}));
}

// BuildKit leaves an exec's proxy env out of its cache key: another proxy
// is the same build, unless the Dockerfile declares the ARG.
TEST_F(BuilderTest, UndeclaredProxyBuildArgsStayOutOfTheCacheKey) {
  options_.build_args = {{"HTTP_PROXY", "http://one:3128"}};
  MustBuild("FROM busybox\nRUN fetch\n");
  worker_.ClearCommands();
  options_.build_args = {{"HTTP_PROXY", "http://two:3128"}};
  MustBuild("FROM busybox\nRUN fetch\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
  MustBuild("FROM busybox\nARG HTTP_PROXY\nRUN fetch\n");
  worker_.ClearCommands();
  options_.build_args = {{"HTTP_PROXY", "http://three:3128"}};
  MustBuild("FROM busybox\nARG HTTP_PROXY\nRUN fetch\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c fetch"}));
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "HTTP_PROXY=http://three:3128"}));
}

TEST_F(BuilderTest, RunUserIsPassedAsWritten) {
  MustBuild("FROM busybox\nUSER 1000:50\nRUN id\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  EXPECT_EQ(ran[0].user, "1000:50");
}

TEST_F(BuilderTest, RunHeredocAfterACommandIsAppendedToTheScript) {
  MustBuild("FROM busybox\nRUN cat <<EOF > /file\nhello\nEOF\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c cat <<EOF > /file\nhello\nEOF"}));
}

TEST_F(BuilderTest, OnbuildOfAStageFiresInTheStageBuiltFromIt) {
  BuildResult r = MustBuild("FROM busybox AS base\nONBUILD RUN trigger\nRUN own\nFROM base\nRUN child\n");
  EXPECT_EQ(worker_.argvs_ran(),
            (std::vector<std::string>{"/bin/sh -c own", "/bin/sh -c trigger", "/bin/sh -c child"}));
  EXPECT_EQ(r.image.config.config.on_build, (std::vector<std::string>{}));
}

TEST_F(BuilderTest, InvalidChmodIsASyntaxError) {
  Put("a.txt", "a");
  auto r = Build("FROM busybox\nCOPY --chmod=9z a.txt /a\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: invalid --chmod \"9z\": want an octal mode such as 755");
}

TEST_F(BuilderTest, CopyFromALaterStageIsAnError) {
  options_.target = "first";
  auto r = Build("FROM busybox AS first\nCOPY --from=second /etc/passwd /p\nFROM busybox AS second\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kSyntax);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: stage \"second\" must be defined before it is used");
}

TEST_F(BuilderTest, RunDeletingAFileHidesItInLaterSteps) {
  worker_.OnRun("rm-group", [](const RunRequest&, const std::string& root) -> Result<int> {
    KILN_TRY(RemoveAll(root + "/etc/group"));
    return 0;
  });
  BuildResult r = MustBuild("FROM busybox\nRUN rm-group\n");
  EXPECT_EQ(Stat(r, "/etc/group"), "");
  EXPECT_EQ(Read(r, "/etc/passwd"), kPasswd);
  ASSERT_EQ(r.image.layers.size(), 2u);
  EXPECT_EQ(worker_.LayerListing(r.image.layers[1]), (std::vector<std::string>{"/etc/group: deleted"}));
}

TEST_F(BuilderTest, NoCacheFilterRerunsOnlyThatStage) {
  const char* text = "FROM busybox AS deps\nRUN deps\nFROM deps AS app\nRUN app\n";
  MustBuild(text);
  worker_.ClearCommands();
  options_.no_cache_filter = {"app"};
  MustBuild(text);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c app"}));
}

TEST_F(BuilderTest, ParallelStagesShareAnIdenticalStepAndRunItOnce) {
  options_.max_parallel = 4;
  MustBuild(R"(FROM busybox AS a
RUN setup
RUN build-a
FROM busybox AS b
RUN setup
RUN build-b
FROM busybox
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
)");
  auto ran = worker_.argvs_ran();
  std::sort(ran.begin(), ran.end());
  EXPECT_EQ(ran, (std::vector<std::string>{"/bin/sh -c build-a", "/bin/sh -c build-b", "/bin/sh -c setup"}));
  EXPECT_EQ(worker_.cache_hits(), 1);
}

TEST_F(BuilderTest, SameRunOnADifferentBaseMissesTheCache) {
  image::ImageConfig cfg;
  cfg.config.env = {"PATH=/usr/bin:/bin"};
  ASSERT_TRUE(worker_.AddImage("example.com/other:1", cfg, {}));
  MustBuild("FROM busybox\nRUN same\n");
  worker_.ClearCommands();
  MustBuild("FROM example.com/other:1\nRUN same\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c same"}));
}

TEST_F(BuilderTest, WildcardMatchingSeveralFilesNeedsADirectory) {
  Put("x1.txt", "1");
  Put("x2.txt", "2");
  auto r = Build("FROM busybox\nCOPY x*.txt /nodir\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Summary(),
            "Dockerfile:2:1: When using COPY with more than one source file, the destination must be a directory "
            "and end with a /");
}

// A relative secret target is taken relative to the step's WORKDIR, as
// BuildKit does (secrets/mounter.h leaves the join to the caller).
TEST_F(BuilderTest, RelativeSecretTargetJoinsWorkdir) {
  secrets::SecretStore store;
  store.Put("tok", secrets::SecretValue("s3cr3t-value-123"));
  options_.secrets = &store;
  MustBuild("FROM busybox\nWORKDIR /w\nRUN --mount=type=secret,id=tok,target=tok.txt use\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  std::vector<std::string> targets;
  for (const auto& b : ran[0].binds) targets.push_back(b.target);
  EXPECT_EQ(targets, (std::vector<std::string>{"/w/tok.txt"}));
}

// ---- ADD <url> ---------------------------------------------------------------

TEST(ClassifySourceTest, FollowsBuildKitsGitAndHttpRules) {
  auto show = [](std::string_view src) {
    SourceKind k = ClassifySource(src);
    switch (k.kind) {
      case SourceKind::Kind::kLocal:
        return std::string("local");
      case SourceKind::Kind::kHttp:
        return "http " + k.filename;
      case SourceKind::Kind::kGit:
        return fmt::format("git {} ref={} subdir={}", k.git.remote, k.git.ref, k.subdir);
    }
    return std::string();
  };
  EXPECT_EQ(show("https://example.com/a/tool.tar.gz?x=1#frag"), "http tool.tar.gz");
  EXPECT_EQ(show("http://example.com"), "http __unnamed__");
  EXPECT_EQ(show("http://example.com/dir/"), "http dir");
  EXPECT_EQ(show("https://example.com/my%20file"), "http my file");
  EXPECT_EQ(show("https://github.com/moby/buildkit.git#v0.10.1:docs"),
            "git https://github.com/moby/buildkit.git ref=v0.10.1 subdir=docs");
  EXPECT_EQ(show("git://127.0.0.1/repo#main"), "git git://127.0.0.1/repo ref=main subdir=");
  EXPECT_EQ(show("ssh://git@example.com/r"), "git ssh://git@example.com/r ref= subdir=");
  EXPECT_EQ(show("git@github.com:moby/buildkit.git#:sub"),
            "git git@github.com:moby/buildkit.git ref= subdir=sub");
  EXPECT_EQ(show("ftp://example.com/x"), "local");
  EXPECT_EQ(show("file.txt"), "local");
  EXPECT_EQ(show("dir/a@b:c"), "local");
}

TEST_F(BuilderTest, AddUrlLandsAtDestWithMode0600) {
  worker_.AddUrl("https://example.com/files/tool.sh?v=2", "echo tool\n", 1700000000);
  BuildResult r = MustBuild("FROM busybox\nADD https://example.com/files/tool.sh?v=2 /usr/bin/tool\n");
  EXPECT_EQ(Read(r, "/usr/bin/tool"), "echo tool\n");
  EXPECT_EQ(Stat(r, "/usr/bin/tool"), "100600 0:0");
  EXPECT_EQ(History(r),
            (std::vector<std::string>{"ADD https://example.com/files/tool.sh?v=2 /usr/bin/tool # buildkit"}));
}

TEST_F(BuilderTest, AddUrlIntoADirectoryTakesTheUrlsFileNameAndIsNotExtracted) {
  std::string tar(1024, '\0');
  tar.replace(257, 5, "ustar");
  worker_.AddUrl("https://example.com/dl/app.tar", tar);
  worker_.AddUrl("https://example.com", "index");
  BuildResult r = MustBuild("FROM busybox\nADD https://example.com/dl/app.tar https://example.com /opt/\n");
  EXPECT_EQ(Read(r, "/opt/app.tar"), tar);
  EXPECT_EQ(Read(r, "/opt/__unnamed__"), "index");
}

TEST_F(BuilderTest, AddUrlIntoAnExistingDirectoryWithoutSlash) {
  worker_.AddUrl("https://example.com/x.txt", "x");
  BuildResult r = MustBuild("FROM busybox\nADD https://example.com/x.txt /etc\n");
  EXPECT_EQ(Read(r, "/etc/x.txt"), "x");
}

TEST_F(BuilderTest, AddUrlWithChownAndChmod) {
  worker_.AddUrl("https://example.com/x.txt", "x");
  BuildResult r = MustBuild("FROM busybox\nADD --chown=app:staff --chmod=755 https://example.com/x.txt /x\n");
  EXPECT_EQ(Stat(r, "/x"), "100755 1000:50");
}

TEST_F(BuilderTest, AddUrlIsDownloadedEachBuildAndCachedByContent) {
  worker_.AddUrl("https://example.com/v", "one");
  std::string df = "FROM busybox\nADD https://example.com/v /v\nRUN after\n";
  MustBuild(df);
  worker_.ClearCommands();
  BuildResult same = MustBuild(df);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
  worker_.AddUrl("https://example.com/v", "two");
  BuildResult changed = MustBuild(df);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c after"}));
  EXPECT_EQ(Read(changed, "/v"), "two");
  EXPECT_EQ(worker_.fetches(),
            (std::vector<std::string>{"url https://example.com/v", "url https://example.com/v",
                                      "url https://example.com/v"}));
}

TEST_F(BuilderTest, AddUrlWithChecksumIsNotDownloadedOnACacheHit) {
  worker_.AddUrl("https://example.com/v", "one");
  std::string df =
      fmt::format("FROM busybox\nADD --checksum={} https://example.com/v /v\n", Digest::Of("one").str());
  BuildResult first = MustBuild(df);
  EXPECT_EQ(Read(first, "/v"), "one");
  MustBuild(df);
  EXPECT_EQ(worker_.fetches(), (std::vector<std::string>{"url https://example.com/v"}));
}

TEST_F(BuilderTest, AddUrlChecksumMismatchNamesUrlExpectedAndActual) {
  worker_.AddUrl("https://example.com/v", "tampered");
  std::string expected = Digest::Of("one").str();
  auto r = Build(fmt::format("FROM busybox\nADD --checksum={} https://example.com/v /v\n", expected));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(r.error().Summary(),
            fmt::format("Dockerfile:2:1: checksum mismatch for https://example.com/v: expected "
                        "{}, got {}",
                        expected, Digest::Of("tampered").str()));
}

TEST_F(BuilderTest, AddChecksumErrors) {
  Put("a.txt", "a");
  auto local = Build(fmt::format("FROM busybox\nADD --checksum={} a.txt /\n", Digest::Of("a").str()));
  ASSERT_FALSE(local);
  EXPECT_EQ(local.error().Summary(), "Dockerfile:2:1: checksum can't be specified for non-HTTP(S) sources");
  auto bad = Build("FROM busybox\nADD --checksum=md5:abc https://example.com/v /v\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().Summary(),
            "Dockerfile:2:1: invalid --checksum \"md5:abc\": want sha256:<64 hex digits>");
}

TEST_F(BuilderTest, AddUrlChecksumMismatchRedactsThePassword) {
  worker_.AddUrl("https://u:pw1234@example.com/v", "x");
  auto r = Build(fmt::format("FROM busybox\nADD --checksum={} https://u:pw1234@example.com/v /v\n",
                             Digest::Of("y").str()));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), fmt::format("checksum mismatch for https://u:xxxxx@example.com/v: expected {}, "
                                             "got {}",
                                             Digest::Of("y").str(), Digest::Of("x").str()));
}

// The image history and the progress step name ship with the image and the
// logs: the URL's password is redacted there (BuildKit writes it as is).
TEST_F(BuilderTest, AddUrlPasswordIsRedactedInHistoryAndProgress) {
  worker_.AddUrl("https://u:pw1234@example.com/v", "x");
  BuildResult r = MustBuild("FROM busybox\nADD https://u:pw1234@example.com/v /v\n");
  EXPECT_EQ(History(r), (std::vector<std::string>{"ADD https://u:xxxxx@example.com/v /v # buildkit"}));
  for (const auto& line : progress_.StepLines()) EXPECT_EQ(line.find("pw1234"), std::string::npos) << line;
}

TEST_F(BuilderTest, AddUrlThatIsNotFoundFailsAtTheInstruction) {
  auto r = Build("FROM busybox\nADD https://example.com/missing /m\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: GET https://example.com/missing: HTTP status 404");
}

TEST_F(BuilderTest, CopyOfARemoteSourceIsAnError) {
  auto url = Build("FROM busybox\nCOPY https://example.com/v /v\n");
  ASSERT_FALSE(url);
  EXPECT_EQ(url.error().Summary(), "Dockerfile:2:1: source can't be a URL for COPY");
  auto git = Build("FROM busybox\nCOPY git@example.com:r.git /r\n");
  ASSERT_FALSE(git);
  EXPECT_EQ(git.error().Summary(), "Dockerfile:2:1: source can't be a git ref for COPY");
}

// ---- ADD <git> ---------------------------------------------------------------

TEST_F(BuilderTest, AddGitRefAndSubdirCopiesThatTreeWithoutGitDir) {
  worker_.AddGitRef("https://example.com/r.git", "v1", std::string(40, 'a'),
                    {{"/README", FakeFile{"top"}}, {"/docs/guide.md", FakeFile{"guide"}}});
  BuildResult r = MustBuild("FROM busybox\nADD https://example.com/r.git#v1:docs /src\n");
  EXPECT_EQ(Read(r, "/src/guide.md"), "guide");
  EXPECT_EQ(Stat(r, "/src/README"), "");
  EXPECT_EQ(Stat(r, "/src/.git"), "");
}

TEST_F(BuilderTest, AddGitKeepGitDir) {
  worker_.AddGitRef("git://example.com/r", "", std::string(40, 'b'), {{"/a", FakeFile{"A"}}});
  BuildResult r = MustBuild("FROM busybox\nADD --keep-git-dir git://example.com/r /src/\n");
  EXPECT_EQ(Read(r, "/src/a"), "A");
  EXPECT_EQ(Read(r, "/src/.git/HEAD"), std::string(40, 'b') + "\n");
}

TEST_F(BuilderTest, AddGitCacheKeyIsTheCommit) {
  worker_.AddGitRef("git://example.com/r", "main", std::string(40, 'a'), {{"/a", FakeFile{"A"}}});
  std::string df = "FROM busybox\nADD git://example.com/r#main /src\nRUN after\n";
  MustBuild(df);
  worker_.ClearCommands();
  MustBuild(df);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
  // The second build only asked which commit main is: no clone. The clone
  // is of the commit the key was made from.
  EXPECT_EQ(worker_.fetches(),
            (std::vector<std::string>{"ls-remote git://example.com/r#main",
                                      "git git://example.com/r#" + std::string(40, 'a'),
                                      "ls-remote git://example.com/r#main"}));
  worker_.AddGitRef("git://example.com/r", "main", std::string(40, 'c'), {{"/a", FakeFile{"A2"}}});
  BuildResult r = MustBuild(df);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c after"}));
  EXPECT_EQ(Read(r, "/src/a"), "A2");
}

// BuildKit's --checksum for a git source is the commit the ref must resolve to.
TEST_F(BuilderTest, AddGitChecksumIsTheCommit) {
  worker_.AddGitRef("git://example.com/r", "v1", std::string(40, 'a'), {{"/a", FakeFile{"A"}}});
  BuildResult r = MustBuild(
      fmt::format("FROM busybox\nADD --checksum={} git://example.com/r#v1 /src\n", std::string(40, 'a')));
  EXPECT_EQ(Read(r, "/src/a"), "A");
  auto bad = Build(
      fmt::format("FROM busybox\nADD --checksum={} git://example.com/r#v1 /src\n", std::string(40, 'b')));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(bad.error().Summary(),
            fmt::format("Dockerfile:2:1: checksum mismatch for git://example.com/r#v1: "
                        "expected commit {}, got {}",
                        std::string(40, 'b'), std::string(40, 'a')));
}

TEST_F(BuilderTest, AddGitBadRefFailsAtTheInstruction) {
  auto r = Build("FROM busybox\nADD git://example.com/r#nope /src\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().Summary(), "Dockerfile:2:1: git ref \"nope\" not found in git://example.com/r");
}

// ---- --build-context NAME=DIR ------------------------------------------------------

class NamedContextTest : public BuilderTest {
 protected:
  void SetUp() override {
    BuilderTest::SetUp();
    named_ = std::make_unique<TempDir>(*TempDir::Create("kiln-named"));
    options_.named_contexts["docs"] = named_->path();
  }
  void PutNamed(const std::string& rel, const std::string& data) {
    std::string path = named_->path() + "/" + rel;
    ASSERT_TRUE(MakeDirs(Dirname(path)));
    ASSERT_TRUE(WriteFile(path, data));
  }
  std::unique_ptr<TempDir> named_;
};

// BuildKit reads a named context's own .dockerignore; the main context's
// rules do not apply to it.
TEST_F(NamedContextTest, CopyFromUsesTheDirectoryAndItsOwnDockerignore) {
  Put(".dockerignore", "*.md\n");
  PutNamed(".dockerignore", "private.txt\n");
  PutNamed("README.md", "readme");
  PutNamed("private.txt", "p");
  BuildResult r = MustBuild("FROM busybox\nCOPY --from=docs . /docs/\n");
  EXPECT_EQ(Read(r, "/docs/README.md"), "readme");
  EXPECT_EQ(Stat(r, "/docs/private.txt"), "");
  auto ignored = Build("FROM busybox\nCOPY --from=docs private.txt /\n");
  ASSERT_FALSE(ignored);
  EXPECT_EQ(ignored.error().code(), ErrorCode::kNotFound);
}

TEST_F(NamedContextTest, ChangedFileInTheNamedContextRerunsTheCopy) {
  PutNamed("a", "1");
  std::string df = "FROM busybox\nCOPY --from=docs a /a\nRUN after\n";
  MustBuild(df);
  worker_.ClearCommands();
  MustBuild(df);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{}));
  PutNamed("a", "2");
  BuildResult r = MustBuild(df);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c after"}));
  EXPECT_EQ(Read(r, "/a"), "2");
}

TEST_F(NamedContextTest, FromANamedContextIsAnImageOfItsFiles) {
  PutNamed("bin/tool", "T");
  PutNamed(".dockerignore", "skip\n");
  PutNamed("skip", "s");
  BuildResult r = MustBuild("FROM docs\nCOPY --from=docs bin/tool /copy\n");
  EXPECT_EQ(Read(r, "/bin/tool"), "T");
  EXPECT_EQ(Read(r, "/copy"), "T");
  EXPECT_EQ(Stat(r, "/skip"), "");
}

TEST_F(NamedContextTest, RunMountFromANamedContextBindsItsDirectory) {
  PutNamed("sub/x", "x");
  MustBuild("FROM busybox\nRUN --mount=from=docs,source=sub,target=/in use\n");
  auto ran = worker_.commands_ran();
  ASSERT_EQ(ran.size(), 1u);
  ASSERT_EQ(ran[0].binds.size(), 1u);
  EXPECT_EQ(ran[0].binds[0].source, named_->path() + "/sub");
  EXPECT_EQ(ran[0].binds[0].target, "/in");
}

// BuildKit: a named context replaces the stage of the same name, whose
// instructions then do not run.
TEST_F(NamedContextTest, ReplacesTheStageOfThatName) {
  PutNamed("a", "from-context");
  BuildResult r = MustBuild(R"(FROM busybox AS docs
RUN never
FROM docs AS child
RUN child
FROM busybox
COPY --from=docs a /a
COPY --from=child a /b
)");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c child"}));
  EXPECT_EQ(Read(r, "/a"), "from-context");
  EXPECT_EQ(Read(r, "/b"), "from-context");
}

TEST_F(BuilderTest, DockerImageContextReplacesTheStageOfThatName) {
  image::ImageConfig cfg;
  cfg.config.env = {"FROM_TOOLS=1"};
  ASSERT_TRUE(worker_.AddImage("example.com/tools:2", cfg, {{"/tool", FakeFile{"T"}}}));
  options_.named_contexts["base"] = "docker-image://example.com/tools:2";
  BuildResult r = MustBuild("FROM busybox AS base\nRUN never\nFROM base\nRUN after\n");
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c after"}));
  EXPECT_EQ(Read(r, "/tool"), "T");
  EXPECT_EQ(r.image.config.config.env,
            (std::vector<std::string>{std::string("PATH=") + kDefaultPath, "FROM_TOOLS=1"}));
}

TEST_F(NamedContextTest, MissingDirectoryIsNotFound) {
  options_.named_contexts["docs"] = ctx_->path() + "/nope";
  auto r = Build("FROM busybox\nCOPY --from=docs a /a\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Summary(),
            fmt::format("--build-context docs: directory \"{}/nope\" not found", ctx_->path()));
}

// ---- Change-aware secret cache (issue #5) ------------------------------------------

TEST_F(BuilderTest, ValueKeyedSecretRerunsTheStepWhenTheValueChanges) {
  auto key = secrets::GenerateCacheKeyKey();
  ASSERT_TRUE(key);
  options_.secret_cache_key = &*key;
  options_.value_keyed_secrets = {"tok"};
  std::string df =
      "FROM busybox\nRUN --mount=type=secret,id=tok use\nRUN --mount=type=secret,id=other other\n";
  auto build_with = [&](const std::string& value) {
    secrets::SecretStore store;
    store.Put("tok", secrets::SecretValue(value));
    store.Put("other", secrets::SecretValue("other-" + value));
    options_.secrets = &store;
    worker_.ClearCommands();
    MustBuild(df);
    options_.secrets = nullptr;
    return worker_.argvs_ran();
  };
  EXPECT_EQ(build_with("first-secret-value"),
            (std::vector<std::string>{"/bin/sh -c use", "/bin/sh -c other"}));
  EXPECT_EQ(build_with("first-secret-value"), (std::vector<std::string>{}));
  // Only the opted-in secret's steps see the change ("other" changed too,
  // but its step reruns only because its parent did).
  EXPECT_EQ(build_with("second-secret-value"),
            (std::vector<std::string>{"/bin/sh -c use", "/bin/sh -c other"}));
  EXPECT_EQ(build_with("second-secret-value"), (std::vector<std::string>{}));
}

TEST_F(BuilderTest, ValueKeyedSecretDoesNotTouchStepsThatDoNotMountIt) {
  auto key = secrets::GenerateCacheKeyKey();
  ASSERT_TRUE(key);
  options_.secret_cache_key = &*key;
  options_.value_keyed_secrets = {"tok"};
  std::string df = "FROM busybox\nRUN --mount=type=secret,id=other other\n";
  for (std::string value : {"first-secret-value", "second-secret-value"}) {
    secrets::SecretStore store;
    store.Put("tok", secrets::SecretValue(value));
    store.Put("other", secrets::SecretValue("other-" + value));
    options_.secrets = &store;
    MustBuild(df);
  }
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c other"}));
}

TEST_F(BuilderTest, ValueKeyedSecretsUnderDifferentKeysMissTheCache) {
  // Another store's key gives another token: an imported cache never hits.
  secrets::SecretStore store;
  store.Put("tok", secrets::SecretValue("first-secret-value"));
  options_.secrets = &store;
  options_.value_keyed_secrets = {"tok"};
  std::string df = "FROM busybox\nRUN --mount=type=secret,id=tok use\n";
  auto key1 = secrets::GenerateCacheKeyKey();
  auto key2 = secrets::GenerateCacheKeyKey();
  ASSERT_TRUE(key1 && key2);
  options_.secret_cache_key = &*key1;
  MustBuild(df);
  options_.secret_cache_key = &*key2;
  MustBuild(df);
  EXPECT_EQ(worker_.argvs_ran(), (std::vector<std::string>{"/bin/sh -c use", "/bin/sh -c use"}));
}

}  // namespace
}  // namespace kiln::solver
