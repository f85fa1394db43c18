#include "dockerfile/checks.h"

#include <gtest/gtest.h>

#include "dockerfile/dockerignore.h"
#include "dockerfile/parser.h"

namespace kiln::dockerfile {
namespace {

struct Out {
  std::string warnings;  // "line:col Name: message\n" each
  CheckResult result;
};

Out Check(std::string_view text, CheckOptions opts = {}) {
  Out out;
  auto df = Parse(text);
  if (!df) {
    out.warnings = "parse error: " + df.error().Summary();
    return out;
  }
  CollectingDiagnostics diags;
  auto r = RunChecks(*df, opts, diags);
  if (!r) {
    out.warnings = "error: " + r.error().Summary();
    return out;
  }
  out.result = *r;
  for (const auto& w : diags.warnings()) {
    EXPECT_EQ(w.loc.file, "Dockerfile");
    out.warnings += fmt::format("{}:{} {}: {}\n", w.loc.line, w.loc.col, w.name, w.message);
  }
  return out;
}

TEST(DockerfileChecksTest, CleanDockerfileHasNoWarnings) {
  Out o = Check("FROM alpine AS build\nWORKDIR /src\nCOPY . .\nRUN make\nFROM scratch\nCOPY --from=build /out /\n"
                "ENTRYPOINT [\"/app\"]\n");
  EXPECT_EQ(o.warnings, "");
  EXPECT_EQ(o.result.warnings, 0);
  EXPECT_FALSE(o.result.fail);
}

TEST(DockerfileChecksTest, StageAndFromChecks) {
  EXPECT_EQ(Check("FROM alpine as Build\nFROM alpine AS build\nFROM alpine AS scratch\nFROM alpine AS context\n").warnings,
            "1:1 StageNameCasing: Stage name 'Build' should be lowercase\n"
            "1:1 FromAsCasing: 'as' and 'FROM' keywords' casing do not match\n"
            "2:1 DuplicateStageName: Duplicate stage name \"build\", stage names should be unique\n"
            "3:1 ReservedStageName: Stage name should not use the same name as reserved stage \"scratch\"\n"
            "4:1 ReservedStageName: Stage name should not use the same name as reserved stage \"context\"\n");
}

TEST(DockerfileChecksTest, InstructionCasing) {
  EXPECT_EQ(Check("from alpine\nrun a\nRUN b\nRun c\ncopy a b\n").warnings,
            "3:1 ConsistentInstructionCasing: Command 'RUN' should match the case of the command majority (lowercase)\n"
            "4:1 ConsistentInstructionCasing: Command 'Run' should match the case of the command majority (lowercase)\n");
  EXPECT_EQ(Check("FROM alpine\nrun a\n").warnings,
            "2:1 ConsistentInstructionCasing: Command 'run' should match the case of the command majority (uppercase)\n");
}

TEST(DockerfileChecksTest, EmptyContinuationAndMaintainer) {
  EXPECT_EQ(Check("FROM alpine\nRUN a \\\n\n b\nMAINTAINER me\n").warnings,
            "2:1 NoEmptyContinuation: Empty continuation line\n"
            "5:1 MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label\n");
}

TEST(DockerfileChecksTest, JsonArgsAndMultipleInstructions) {
  EXPECT_EQ(Check("FROM alpine\nCMD echo a\nCMD [\"b\"]\nENTRYPOINT run\nHEALTHCHECK NONE\nHEALTHCHECK CMD x\n"
                  "FROM alpine\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo ok\n")
                .warnings,
            "2:1 JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals\n"
            "2:1 MultipleInstructionsDisallowed: Multiple CMD instructions should not be used in the same stage because only the last one will be used\n"
            "4:1 JSONArgsRecommended: JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals\n"
            "5:1 MultipleInstructionsDisallowed: Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used\n");
}

TEST(DockerfileChecksTest, FromArgs) {
  EXPECT_EQ(Check("ARG VERSION\nARG IMG=alpine\nFROM alpine:$VERSON\nFROM $IMG:${VERSION}\nFROM $BASE\n").warnings,
            "3:1 UndefinedArgInFrom: FROM argument 'VERSON' is not declared (did you mean VERSION?)\n"
            "3:1 InvalidDefaultArgInFrom: Default value for ARG alpine:$VERSON results in empty or invalid base image name\n"
            "4:1 InvalidDefaultArgInFrom: Default value for ARG $IMG:${VERSION} results in empty or invalid base image name\n"
            "5:1 UndefinedArgInFrom: FROM argument 'BASE' is not declared\n"
            "5:1 InvalidDefaultArgInFrom: Default value for ARG $BASE results in empty or invalid base image name\n");
  // Platform ARGs are predeclared; a default that works is fine.
  EXPECT_EQ(Check("ARG TAG=3.19\nFROM --platform=$BUILDPLATFORM alpine:$TAG\n").warnings, "");
}

TEST(DockerfileChecksTest, WorkdirRelativePath) {
  EXPECT_EQ(Check("FROM alpine AS a\nWORKDIR app\nWORKDIR /abs\nWORKDIR rel\nFROM a\nWORKDIR again\n").warnings,
            "2:1 WorkdirRelativePath: Relative workdir \"app\" can have unexpected results if the base image changes\n");
}

TEST(DockerfileChecksTest, UndefinedVar) {
  CheckOptions opts;
  opts.image_env = [](const std::string& image) -> std::optional<std::vector<std::string>> {
    if (image == "alpine") return std::vector<std::string>{"PATH=/usr/bin"};
    return std::nullopt;
  };
  EXPECT_EQ(Check("FROM alpine\nARG DECLARED\nENV PATH=$PATH:/x APP=1\nCOPY $APPP ${DECLARED} ${U:-ok} /x\n"
                  "FROM unknown-image\nCOPY $NOPE /\nFROM scratch\nCOPY $NOPE2 /\n",
                  opts)
                .warnings,
            "4:1 UndefinedVar: Usage of undefined variable '$APPP' (did you mean $APP?)\n"
            "8:1 UndefinedVar: Usage of undefined variable '$NOPE2'\n");
}

TEST(DockerfileChecksTest, LegacyFormatAndSecrets) {
  EXPECT_EQ(Check("ARG GITHUB_TOKEN\nFROM alpine\nENV key value\nLABEL a b\nARG PUBLIC_KEY DB_PASSWORD=x\n"
                  "ENV AWS_SECRET_ACCESS_KEY=1 KEYS=2 apikey=3\n")
                .warnings,
            "1:1 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"GITHUB_TOKEN\")\n"
            "3:1 LegacyKeyValueFormat: \"ENV key=value\" should be used instead of legacy \"ENV key value\" format\n"
            "3:1 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV \"key\")\n"
            "4:1 LegacyKeyValueFormat: \"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format\n"
            "5:1 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"DB_PASSWORD\")\n"
            "6:1 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV \"AWS_SECRET_ACCESS_KEY\")\n"
            "6:1 SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV \"apikey\")\n");
}

TEST(DockerfileChecksTest, Expose) {
  EXPECT_EQ(Check("FROM alpine\nARG P=8080\nEXPOSE 80/TCP 127.0.0.1:$P:80 53/udp\n").warnings,
            "3:1 ExposeProtoCasing: Defined protocol 'TCP' in EXPOSE instruction should be lowercase\n"
            "3:1 ExposeInvalidFormat: EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:8080:80'\n");
}

TEST(DockerfileChecksTest, CopyIgnoredFile) {
  auto ignore = Matcher::Parse("secrets\n*.log\n");
  ASSERT_TRUE(ignore);
  CheckOptions opts;
  opts.ignore = &*ignore;
  EXPECT_EQ(Check("FROM alpine AS a\nCOPY secrets/key app.log ok.txt /x/\nADD ./debug.log /\nCOPY *.log /\n"
                  "FROM alpine\nCOPY --from=a secrets /\n",
                  opts)
                .warnings,
            "2:1 CopyIgnoredFile: Attempting to Copy file \"secrets/key\" that is excluded by .dockerignore\n"
            "2:1 CopyIgnoredFile: Attempting to Copy file \"app.log\" that is excluded by .dockerignore\n"
            "3:1 CopyIgnoredFile: Attempting to Add file \"./debug.log\" that is excluded by .dockerignore\n");
}

TEST(DockerfileChecksTest, CheckDirectiveSkipsAndFails) {
  Out skipped = Check("# check=skip=MaintainerDeprecated,JSONArgsRecommended\nFROM a\nMAINTAINER x\nCMD y\nrun z\n");
  EXPECT_EQ(skipped.warnings,
            "5:1 ConsistentInstructionCasing: Command 'run' should match the case of the command majority (uppercase)\n");
  EXPECT_EQ(skipped.result.warnings, 1);
  EXPECT_FALSE(skipped.result.fail);
  Out all = Check("# check=skip=all;error=true\nFROM a\nMAINTAINER x\n");
  EXPECT_EQ(all.warnings, "");
  EXPECT_FALSE(all.result.fail);
  Out fail = Check("# check=error=true\nFROM a\nMAINTAINER x\n");
  EXPECT_EQ(fail.result.warnings, 1);
  EXPECT_TRUE(fail.result.fail);
  Out clean = Check("# check=error=true\nFROM a\n");
  EXPECT_FALSE(clean.result.fail);
}

TEST(DockerfileChecksTest, CheckNamesListsEveryRule) {
  EXPECT_EQ(CheckNames().size(), 18u);
  EXPECT_EQ(CheckNames().front(), "StageNameCasing");
  EXPECT_EQ(CheckNames().back(), "CopyIgnoredFile");
}

}  // namespace
}  // namespace kiln::dockerfile
