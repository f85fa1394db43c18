#include "dockerfile/stages.h"

#include <gtest/gtest.h>

#include "dockerfile/parser.h"

namespace kiln::dockerfile {
namespace {

// "0 1 3" or the error summary.
std::string Order(std::string_view text, std::string_view target, EvalOptions opts = {}) {
  auto df = Parse(text);
  if (!df) return "parse error: " + df.error().Summary();
  auto info = ResolveStages(*df, opts);
  if (!info) return "error: " + info.error().Summary();
  auto order = StagesForTarget(*df, *info, target);
  if (!order) return "error: " + order.error().Summary();
  std::string out;
  for (int i : *order) out += (out.empty() ? "" : " ") + std::to_string(i);
  return out;
}

constexpr std::string_view kMulti =
    "FROM golang AS Build\n"         // 0
    "RUN make\n"
    "FROM alpine AS tools\n"         // 1
    "FROM build AS test\n"           // 2
    "RUN --mount=type=bind,from=tools,target=/t go test\n"
    "FROM scratch AS unused\n"       // 3
    "FROM alpine\n"                  // 4
    "COPY --from=BUILD /out /bin/\n"
    "COPY --from=1 /x /y\n"
    "COPY --from=nginx:latest /etc/nginx /etc/nginx\n";

TEST(DockerfileStagesTest, DefaultTargetIsLastStage) {
  EXPECT_EQ(Order(kMulti, ""), "0 1 4");
}

TEST(DockerfileStagesTest, NamedTargetCaseInsensitive) {
  EXPECT_EQ(Order(kMulti, "TEST"), "0 1 2");
  EXPECT_EQ(Order(kMulti, "unused"), "3");
}

TEST(DockerfileStagesTest, UnknownTargetSuggests) {
  EXPECT_EQ(Order(kMulti, "tset"), "error: target stage \"tset\" could not be found");
  EXPECT_EQ(Order(kMulti, "tests"), "error: target stage \"tests\" could not be found (did you mean \"test\"?)");
}

TEST(DockerfileStagesTest, DepsRecordImagesAndLocations) {
  auto df = Parse(kMulti);
  ASSERT_TRUE(df);
  auto info = ResolveStages(*df, {});
  ASSERT_TRUE(info) << info.error().Render();
  ASSERT_EQ(info->size(), 5u);
  EXPECT_EQ((*info)[0].base.kind, StageDep::Kind::kImage);
  EXPECT_EQ((*info)[0].base.image, "golang");
  EXPECT_EQ((*info)[2].base.kind, StageDep::Kind::kStage);
  EXPECT_EQ((*info)[2].base.stage, 0);
  ASSERT_EQ((*info)[2].deps.size(), 1u);
  EXPECT_EQ((*info)[2].deps[0].stage, 1);
  EXPECT_EQ((*info)[2].deps[0].loc.line, 5);
  EXPECT_EQ((*info)[2].deps[0].loc.col, 5);
  ASSERT_EQ((*info)[4].deps.size(), 3u);
  EXPECT_EQ((*info)[4].deps[0].stage, 0);
  EXPECT_EQ((*info)[4].deps[0].loc.line, 8);
  EXPECT_EQ((*info)[4].deps[0].loc.col, 6);
  EXPECT_EQ((*info)[4].deps[1].stage, 1);
  EXPECT_EQ((*info)[4].deps[2].kind, StageDep::Kind::kImage);
  EXPECT_EQ((*info)[4].deps[2].image, "nginx:latest");
}

TEST(DockerfileStagesTest, FromExpandsGlobalArgs) {
  EvalOptions opts;
  opts.build_args = {{"BASE", "b"}};
  EXPECT_EQ(Order("ARG BASE=a\nFROM alpine AS a\nFROM alpine AS b\nFROM $BASE AS c\n", "c", opts), "1 2");
}

TEST(DockerfileStagesTest, CopyFromRefusesVariables) {
  // BuildKit resolves --from before any ARG of a stage has a value.
  EXPECT_EQ(Order("FROM alpine AS src\nFROM alpine\nARG S=src\nCOPY --from=$S / /\n", ""),
            "parse error: Dockerfile:4:6: variable expansion is not supported for --from, define a new stage "
            "with FROM using ARG from global scope as a workaround");
  EXPECT_EQ(Order("FROM alpine AS src\nFROM alpine\nCOPY --from=\"src\" / /\n", ""), "0 1");
}

TEST(DockerfileStagesTest, CyclesAreReported) {
  // FROM only refers to earlier stages, so these are images, not cycles.
  EXPECT_EQ(Order("FROM b AS a\nFROM a AS b\n", "b"), "0 1");
  EXPECT_EQ(Order("FROM alpine AS alpine\nRUN x\n", ""), "0");
  EXPECT_EQ(Order("FROM alpine AS a\nCOPY --from=a / /\n", "a"),
            "error: Dockerfile:2:6: circular dependency detected on stage: a");
  EXPECT_EQ(Order("FROM alpine\nCOPY --from=1 / /\nFROM alpine\nCOPY --from=0 / /\n", ""),
            "error: Dockerfile:2:6: circular dependency detected on stage: 1");
}

TEST(DockerfileStagesTest, BadStageIndex) {
  EXPECT_EQ(Order("FROM alpine\nCOPY --from=5 / /\n", ""), "error: Dockerfile:2:6: invalid stage index 5");
}

TEST(DockerfileStagesTest, SecretMountsAreNotDeps) {
  EXPECT_EQ(Order("FROM alpine AS a\nFROM alpine\nRUN --mount=type=secret,id=a --mount=type=cache,target=/c,from=a x\n", ""),
            "0 1");
}

TEST(DockerfileStagesTest, LongChainDoesNotRecurse) {
  std::string text = "FROM alpine AS s0\n";
  for (int i = 1; i < 3000; ++i) text += fmt::format("FROM s{} AS s{}\n", i - 1, i);
  auto order = Order(text, "");
  EXPECT_EQ(order.substr(0, 6), "0 1 2 ");
  EXPECT_EQ(order.substr(order.size() - 9), "2998 2999");
}

}  // namespace
}  // namespace kiln::dockerfile
