#include "cli/progress.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace kiln::cli {
namespace {

using solver::ProgressEvent;
using Kind = solver::ProgressEvent::Kind;

std::string Render(ProgressMode mode, const std::vector<ProgressEvent>& events) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  {
    auto r = NewProgressRenderer(mode, f);
    for (const auto& e : events) r->Event(e);
    r->Finish();
  }
  std::fclose(f);
  std::string out(buf, len);
  std::free(buf);
  return out;
}

const std::vector<ProgressEvent> kEvents = {
    {Kind::kStepStarted, 1, "[1/2] RUN echo hi", "", 1, 0, 0.01},
    {Kind::kStepOutput, 1, "", "hi\npart", 1, 0, 0.2},
    {Kind::kStepOutput, 1, "", "ial\n", 1, 0, 0.25},
    {Kind::kStepDone, 1, "", "", 1, 0.31, 0.32},
    {Kind::kStepCached, 2, "[2/2] COPY . /app", "", 1, 0, 0.4},
};

TEST(ProgressTest, PlainMatchesBuildKitLayout) {
  EXPECT_EQ(Render(ProgressMode::kPlain, kEvents),
            "#1 [1/2] RUN echo hi\n"
            "#1 0.190 hi\n"
            "#1 0.240 partial\n"
            "#1 DONE 0.3s\n"
            "\n"
            "#2 [2/2] COPY . /app\n"
            "#2 CACHED\n");
}

TEST(ProgressTest, PlainOutputTimesCountFromTheStepsStart) {
  // Two steps running side by side, started 5 s and 7.5 s into the build:
  // BuildKit prints each output line's time since its own step started.
  EXPECT_EQ(Render(ProgressMode::kPlain, {{Kind::kStepStarted, 3, "[a 2/2] RUN make", "", 1, 0, 5.0},
                                          {Kind::kStepStarted, 4, "[b 2/2] RUN make", "", 1, 0, 7.5},
                                          {Kind::kStepOutput, 3, "", "a\n", 1, 0, 7.625},
                                          {Kind::kStepOutput, 4, "", "b\nno newline", 2, 0, 8.0},
                                          {Kind::kStepFailed, 4, "", "exit code: 1", 1, 0, 9.25}}),
            "#3 [a 2/2] RUN make\n"
            "\n"
            "#4 [b 2/2] RUN make\n"
            "\n"
            "#3 2.625 a\n"
            "\n"
            "#4 0.500 b\n"
            "#4 1.750 no newline\n"
            "#4 ERROR: exit code: 1\n");
}

TEST(ProgressTest, PlainCutsLinesPerStream) {
  // A half line on stdout, then a whole line on stderr, then the rest of
  // the stdout line: they never join into one line.
  EXPECT_EQ(Render(ProgressMode::kPlain, {{Kind::kStepStarted, 1, "[1/1] RUN x", "", 1, 0, 0},
                                          {Kind::kStepOutput, 1, "", "downloading ", 1, 0, 0.5},
                                          {Kind::kStepOutput, 1, "", "warning: slow\n", 2, 0, 1.0},
                                          {Kind::kStepOutput, 1, "", "done\n", 1, 0, 1.5},
                                          {Kind::kStepOutput, 1, "", "no newline", 2, 0, 2.0},
                                          {Kind::kStepDone, 1, "", "", 1, 2.0, 2.0}}),
            "#1 [1/1] RUN x\n"
            "#1 1.000 warning: slow\n"
            "#1 1.500 downloading done\n"
            "#1 2.000 no newline\n"
            "#1 DONE 2.0s\n");
}

TEST(ProgressTest, RawJsonIsOneObjectPerLine) {
  std::string out = Render(ProgressMode::kRawJson, {kEvents[0], kEvents[3]});
  EXPECT_EQ(out,
            "{\"elapsed\":0.01,\"event\":\"started\",\"name\":\"[1/2] RUN echo hi\",\"step\":1}\n"
            "{\"elapsed\":0.32,\"event\":\"done\",\"seconds\":0.31,\"step\":1}\n");
}

TEST(ProgressTest, QuietPrintsNothing) { EXPECT_EQ(Render(ProgressMode::kQuiet, kEvents), ""); }

TEST(ProgressTest, ParseModeRejectsUnknown) {
  EXPECT_EQ(*ParseProgressMode("rawjson"), ProgressMode::kRawJson);
  EXPECT_EQ(ParseProgressMode("fancy").error().message(),
            "invalid --progress value \"fancy\": want auto, tty, plain, rawjson or quiet");
}

}  // namespace
}  // namespace kiln::cli
