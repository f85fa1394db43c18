#include "dockerfile/parser.h"

#include <gtest/gtest.h>

#include "dockerfile/testing/dump.h"

namespace kiln::dockerfile {
namespace {

using testing::Dump;

// The parse result as text, or the rendered error.
std::string P(std::string_view text) {
  auto df = Parse(text, "Dockerfile");
  if (!df) return "error: " + df.error().Render();
  return Dump(*df);
}

TEST(DockerfileParserTest, MinimalStages) {
  EXPECT_EQ(P("FROM alpine:3.19\nRUN echo hi\n"),
            "stage 0: 1:1 FROM \"alpine:3.19\"\n"
            "  2:1 RUN shell[\"echo hi\"]\n");
}

TEST(DockerfileParserTest, CaseInsensitiveKeywordsAndStageNames) {
  auto df = Parse("from alpine AS Build\nrun true\nFrom build\n");
  ASSERT_TRUE(df) << df.error().Render();
  EXPECT_EQ(df->stages[0].name, "build");
  EXPECT_EQ(df->stages[0].from.As<FromArgs>().name_as_written, "Build");
  EXPECT_EQ(df->stages[0].from.As<FromArgs>().as_keyword, "AS");
  EXPECT_EQ(df->stages[0].instructions[0].keyword, "run");
  EXPECT_EQ(Dump(*df),
            "stage 0: 1:1 FROM \"alpine\" as=\"build\"\n"
            "  2:1 RUN shell[\"true\"]\n"
            "stage 1: 3:1 FROM \"build\"\n");
}

TEST(DockerfileParserTest, CommentsContinuationsAndEmptyLines) {
  auto df = Parse(
      "# a comment\n"
      "FROM busybox\n"
      "RUN echo a \\\n"
      "  # comment inside\n"
      "\n"
      "  && echo b\n"
      "   RUN   echo c   \n");
  ASSERT_TRUE(df) << df.error().Render();
  EXPECT_EQ(Dump(*df),
            "stage 0: 2:1 FROM \"busybox\"\n"
            "  3:1-6 RUN shell[\"echo a   && echo b\"]\n"
            "  7:4 RUN shell[\"echo c\"]\n");
  ASSERT_EQ(df->empty_continuations.size(), 1u);
  EXPECT_EQ(df->empty_continuations[0].line, 3);
  EXPECT_EQ(df->stages[0].instructions[0].original, "RUN echo a   && echo b");
}

TEST(DockerfileParserTest, Directives) {
  auto df = Parse("# syntax=docker/dockerfile:1\n# escape=`\n#check=skip=JSONArgsRecommended,StageNameCasing;error=true\nFROM x\nRUN a `\n b\n");
  ASSERT_TRUE(df) << df.error().Render();
  EXPECT_EQ(df->directives.syntax, "docker/dockerfile:1");
  EXPECT_EQ(df->directives.escape, '`');
  ASSERT_TRUE(df->directives.check);
  EXPECT_EQ(df->directives.check->skip, (std::vector<std::string>{"JSONArgsRecommended", "StageNameCasing"}));
  EXPECT_TRUE(df->directives.check->error);
  EXPECT_EQ(Dump(*df), "stage 0: 4:1 FROM \"x\"\n  5:1-6 RUN shell[\"a  b\"]\n");
}

TEST(DockerfileParserTest, DirectivesOnlyAtTop) {
  auto df = Parse("# hello\n# escape=`\nFROM x\nRUN a \\\n b\n");
  ASSERT_TRUE(df);
  EXPECT_EQ(df->directives.escape, '\\');
  EXPECT_EQ(Dump(*df), "stage 0: 3:1 FROM \"x\"\n  4:1-5 RUN shell[\"a  b\"]\n");
}

TEST(DockerfileParserTest, DirectiveErrors) {
  EXPECT_EQ(P("# escape=x\nFROM a\n"),
            "error: Dockerfile:1:1: invalid escape token 'x' does not match ` or \\\n"
            " 1 | # escape=x\n"
            "   | ^\n");
  EXPECT_EQ(P("# syntax=a\n# syntax=b\nFROM a\n"),
            "error: Dockerfile:2:1: only one syntax parser directive can be used\n"
            " 2 | # syntax=b\n"
            "   | ^\n");
}

TEST(DockerfileParserTest, UnknownInstructionSuggests) {
  EXPECT_EQ(P("FROM alpine\n\nRUNN echo hi\n"),
            "error: Dockerfile:3:1: unknown instruction \"RUNN\" (did you mean \"RUN\"?)\n"
            " 3 | RUNN echo hi\n"
            "   | ^\n");
  EXPECT_EQ(P("FROM alpine\n  xyzzy\n"),
            "error: Dockerfile:2:3: unknown instruction \"XYZZY\"\n"
            " 2 |   xyzzy\n"
            "   |   ^\n");
}

TEST(DockerfileParserTest, InstructionBeforeFrom) {
  EXPECT_EQ(P("ARG A=1\nRUN x\n"),
            "error: Dockerfile:2:1: RUN must come after a FROM instruction: no build stage in current context\n"
            " 2 | RUN x\n"
            "   | ^\n");
  EXPECT_EQ(P("\n# only comments\n"), "error: Dockerfile: file with no instructions\n");
  EXPECT_EQ(P("ARG A\n"), "error: Dockerfile: dockerfile contains no stages to build\n");
}

TEST(DockerfileParserTest, FromForms) {
  EXPECT_EQ(P("ARG BASE=alpine\nFROM --platform=$BUILDPLATFORM ${BASE} AS b-1.x_y\n"),
            "1:1 ARG \"BASE\"=\"alpine\"\n"
            "stage 0: 2:1 FROM \"${BASE}\" as=\"b-1.x_y\" platform=\"$BUILDPLATFORM\"\n");
  EXPECT_EQ(P("FROM a b\n"),
            "error: Dockerfile:1:1: FROM requires either one or three arguments\n"
            " 1 | FROM a b\n"
            "   | ^\n");
  EXPECT_EQ(P("FROM a AS 1x\n"),
            "error: Dockerfile:1:11: invalid name for build stage: \"1x\", name can't start with a number "
            "or contain symbols\n"
            " 1 | FROM a AS 1x\n"
            "   |           ^\n");
}

TEST(DockerfileParserTest, ExecAndShellForms) {
  EXPECT_EQ(P("FROM a\nCMD [\"/bin/sh\", \"-c\", \"echo \\\"hi\\\" \\u00e9\"]\nENTRYPOINT echo $HOME\n"
              "RUN [\"a\" ,\"b\"] \nCMD [not json\nRUN [\"a\"] trailing\n"),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1 CMD exec[\"/bin/sh\" \"-c\" \"echo \\\"hi\\\" \xC3\xA9\"]\n"
            "  3:1 ENTRYPOINT shell[\"echo $HOME\"]\n"
            "  4:1 RUN exec[\"a\" \"b\"]\n"
            "  5:1 CMD shell[\"[not json\"]\n"
            "  6:1 RUN shell[\"[\\\"a\\\"] trailing\"]\n");
  EXPECT_EQ(P("FROM a\nCMD [\"a\", 1]\n"),
            "error: Dockerfile:2:1: when using JSON array syntax, arrays must be comprised of strings only\n"
            " 2 | CMD [\"a\", 1]\n"
            "   | ^\n");
}

TEST(DockerfileParserTest, EnvAndLabelForms) {
  EXPECT_EQ(P("FROM a\nENV A=1 B=\"two words\" C=x\\ y\nENV D legacy value  here\n"
              "LABEL \"com.x\"=\"v\" b=c\nLABEL k v\n"),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1 ENV \"A\"=\"1\" \"B\"=\"\\\"two words\\\"\" \"C\"=\"x\\\\ y\"\n"
            "  3:1 ENV \"D\"=\"legacy value  here\" legacy\n"
            "  4:1 LABEL \"\\\"com.x\\\"\"=\"\\\"v\\\"\" \"b\"=\"c\"\n"
            "  5:1 LABEL \"k\"=\"v\" legacy\n");
  EXPECT_EQ(P("FROM a\nENV A=1 B\n"),
            "error: Dockerfile:2:1: Syntax error - can't find = in \"B\". Must be of the form: name=value\n"
            " 2 | ENV A=1 B\n"
            "   | ^\n");
  EXPECT_EQ(P("FROM a\nENV A\n"),
            "error: Dockerfile:2:1: ENV must have two arguments\n"
            " 2 | ENV A\n"
            "   | ^\n");
  EXPECT_EQ(P("FROM a\nLABEL =x\n"),
            "error: Dockerfile:2:1: LABEL names can not be blank\n"
            " 2 | LABEL =x\n"
            "   | ^\n");
  EXPECT_EQ(P("FROM a\nENV\n"),
            "error: Dockerfile:2:1: ENV requires at least one argument\n"
            " 2 | ENV\n"
            "   | ^\n");
}

TEST(DockerfileParserTest, ArgForms) {
  EXPECT_EQ(P("ARG A B=2 C=\"x y\"\nFROM a\nARG D=\n"),
            "1:1 ARG \"A\" \"B\"=\"2\" \"C\"=\"\\\"x y\\\"\"\n"
            "stage 0: 2:1 FROM \"a\"\n"
            "  3:1 ARG \"D\"=\"\"\n");
  EXPECT_EQ(P("FROM a\nARG =1\n"),
            "error: Dockerfile:2:1: ARG names can not be blank\n"
            " 2 | ARG =1\n"
            "   | ^\n");
}

TEST(DockerfileParserTest, CopyAndAddFlags) {
  EXPECT_EQ(P("FROM a\n"
              "COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /dst/\n"
              "ADD --checksum=sha256:abc --keep-git-dir=true --link=false https://x/y.git /src\n"
              "COPY [\"a b\", \"/c\"]\n"),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1 COPY [\"a\" \"b\"] -> \"/dst/\" from=\"build\" chown=\"1:2\" chmod=\"755\" link parents "
            "exclude=[\"*.md\" \"x\"]\n"
            "  3:1 ADD [\"https://x/y.git\"] -> \"/src\" checksum=\"sha256:abc\" keep-git-dir\n"
            "  4:1 COPY [\"a b\"] -> \"/c\" json\n");
}

TEST(DockerfileParserTest, FlagErrors) {
  EXPECT_EQ(P("FROM a\nCOPY --form=x a b\n"),
            "error: Dockerfile:2:6: unknown flag \"--form\" for COPY (did you mean \"--from\"?)\n"
            " 2 | COPY --form=x a b\n"
            "   |      ^\n");
  EXPECT_EQ(P("FROM a\nADD --from=x a b\n"),
            "error: Dockerfile:2:5: unknown flag \"--from\" for ADD\n"
            " 2 | ADD --from=x a b\n"
            "   |     ^\n");
  EXPECT_EQ(P("FROM a\nWORKDIR --x /a\n"),
            "error: Dockerfile:2:9: unknown flag \"--x\" (WORKDIR takes no flags)\n"
            " 2 | WORKDIR --x /a\n"
            "   |         ^\n");
  EXPECT_EQ(P("FROM a\nCOPY --chown=a --chown=b x y\n"),
            "error: Dockerfile:2:16: duplicate flag specified: --chown\n"
            " 2 | COPY --chown=a --chown=b x y\n"
            "   |                ^\n");
  EXPECT_EQ(P("FROM a\nCOPY --link=maybe x y\n"),
            "error: Dockerfile:2:6: expecting boolean value for flag --link, not: maybe\n"
            " 2 | COPY --link=maybe x y\n"
            "   |      ^\n");
  EXPECT_EQ(P("FROM a\nCOPY --from x y\n"),
            "error: Dockerfile:2:6: missing a value on flag: --from\n"
            " 2 | COPY --from x y\n"
            "   |      ^\n");
  EXPECT_EQ(P("FROM a\nCOPY x\n"),
            "error: Dockerfile:2:1: COPY requires at least two arguments, but only one was provided. "
            "Destination could not be determined.\n"
            " 2 | COPY x\n"
            "   | ^\n");
}

TEST(DockerfileParserTest, FlagOnContinuationLinePointsAtIt) {
  EXPECT_EQ(P("FROM a\nRUN --network=none \\\n    --mount=type=cach,target=/x true\n"),
            "error: Dockerfile:3:5: unsupported mount type \"cach\" (did you mean \"cache\"?)\n"
            " 3 |     --mount=type=cach,target=/x true\n"
            "   |     ^\n");
}

TEST(DockerfileParserTest, RunMounts) {
  EXPECT_EQ(
      P("FROM a\n"
        "RUN --mount=type=cache,target=/root/.cache,sharing=locked,mode=0700,uid=1000,gid=1000 "
        "--mount=type=bind,from=build,source=/out,target=/in,rw "
        "--mount=type=tmpfs,dst=/tmp,size=64m "
        "--mount=type=secret,id=npmrc,required "
        "--mount=type=secret,src=tok,env=TOKEN "
        "--mount=type=secret,target=/etc/key "
        "--mount=type=ssh "
        "--mount=target=/ctx "
        "--network=host --security=insecure make\n"),
      "stage 0: 1:1 FROM \"a\"\n"
      "  2:1 RUN shell[\"make\"]"
      " mount={cache target=\"/root/.cache\" id=\"/root/.cache\" rw sharing=locked mode=700 uid=1000 gid=1000}"
      " mount={bind target=\"/in\" source=\"/out\" from=\"build\" rw}"
      " mount={tmpfs target=\"/tmp\" rw size=67108864}"
      " mount={secret target=\"/run/secrets/npmrc\" id=\"npmrc\" ro required}"
      " mount={secret target=\"\" source=\"tok\" id=\"tok\" ro env=\"TOKEN\"}"
      " mount={secret target=\"/etc/key\" id=\"key\" ro}"
      " mount={ssh target=\"\" id=\"default\" ro}"
      " mount={bind target=\"/ctx\" ro}"
      " network=host security=insecure\n");
}

// Today's BuildKit (runmount.go parseMount) refuses a variable in from=, as
// it does in COPY --from; a trailing '$' is not a variable.
TEST(DockerfileParserTest, MountFromRefusesVariables) {
  EXPECT_EQ(P("FROM a\nARG S=b\nRUN --mount=type=bind,from=$S,target=/x true\n"),
            "error: Dockerfile:3:5: 'from' doesn't support variable expansion, define alias stage instead\n"
            " 3 | RUN --mount=type=bind,from=$S,target=/x true\n"
            "   |     ^\n");
  EXPECT_EQ(P("FROM a\nRUN --mount=type=bind,from=b$,target=/x true\n"),
            "stage 0: 1:1 FROM \"a\"\n  2:1 RUN shell[\"true\"] mount={bind target=\"/x\" from=\"b$\" ro}\n");
}

TEST(DockerfileParserTest, MountErrors) {
  SourceLoc loc{"Dockerfile", 2, 5, "RUN --mount=... x"};
  auto msg = [&](std::string_view spec) {
    auto m = ParseMount(spec, loc);
    return m ? std::string("ok") : m.error().message();
  };
  EXPECT_EQ(msg("type=cache,target=/x,sharing=wild"), "unsupported sharing value \"wild\"");
  EXPECT_EQ(msg("type=bind,target=/x,sharing=shared"), "invalid cache sharing set for bind mount");
  EXPECT_EQ(msg("type=cache,traget=/x"), "unexpected key 'traget' in 'traget=/x' (did you mean \"target\"?)");
  EXPECT_EQ(msg("type=cache,target=/x,required"), "unexpected key 'required' for mount type 'cache'");
  EXPECT_EQ(msg("type=bind,target=/x,size=1m"), "unexpected key 'size' for mount type 'bind'");
  EXPECT_EQ(msg("type=cache,target=/x,mode=9"), "invalid value 9 for mode");
  EXPECT_EQ(msg("type=cache,target=/x,uid=-1"), "invalid value -1 for uid");
  EXPECT_EQ(msg("type=bind,target=/x,ro=maybe"), "invalid value for ro: maybe");
  EXPECT_EQ(msg("type=secret,id=a,from=b"), "secret mount should not have a from");
  EXPECT_EQ(msg("type=secret"), "invalid secret mount. one of source, target required");
  EXPECT_EQ(msg("type=secret,id=a,source=b"), "both source and id can't be set");
  EXPECT_EQ(msg("type=cache"), "mount type cache requires a target");
  EXPECT_EQ(msg("type=bind,target"), "invalid field 'target' must be a key=value pair");
  EXPECT_EQ(msg("type=tmpfs,target=/t,size=lots"), "invalid value for size: lots");
  EXPECT_EQ(msg("type=bind,\"target=/a,b\",rw"), "ok");
  EXPECT_EQ(ParseMount("type=bind,\"target=/a,b\",rw", loc)->target, "/a,b");
  EXPECT_EQ(msg("type=bind,target=/a\"b"), "invalid mount \"type=bind,target=/a\\\"b\": bare \" in non-quoted-field");
  auto e = ParseMount("type=bind", loc);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().Summary(), "Dockerfile:2:5: mount type bind requires a target");
}

TEST(DockerfileParserTest, NetworkAndSecurityErrors) {
  EXPECT_EQ(P("FROM a\nRUN --network=bridge x\n"),
            "error: Dockerfile:2:5: unsupported network mode \"bridge\"\n"
            " 2 | RUN --network=bridge x\n"
            "   |     ^\n");
  EXPECT_EQ(P("FROM a\nRUN --security=x y\n"),
            "error: Dockerfile:2:5: unsupported security mode \"x\"\n"
            " 2 | RUN --security=x y\n"
            "   |     ^\n");
}

TEST(DockerfileParserTest, Heredocs) {
  EXPECT_EQ(P("FROM a\n"
              "RUN <<EOF\n"
              "echo $HOME\n"
              "EOF\n"
              "RUN <<-'SCRIPT' python3 && cat 3<<\"X\"\n"
              "\t\tprint('hi')\n"
              "\tSCRIPT\n"
              "raw \"q\"\n"
              "X\n"
              "COPY <<one <<two /dst/\n"
              "1\n"
              "one\n"
              "2\n"
              "two\n"
              "CMD <<EOF\n"),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1-4 RUN shell[\"<<EOF\"] heredoc=\"EOF\":\"echo $HOME\\n\"\n"
            "  5:1-9 RUN shell[\"<<-'SCRIPT' python3 && cat 3<<\\\"X\\\"\"] "
            "heredoc=\"SCRIPT\",noexpand,chomp:\"print('hi')\\n\" heredoc=\"X\",noexpand,fd=3:\"raw \\\"q\\\"\\n\"\n"
            "  10:1-14 COPY [\"<<one\" \"<<two\"] -> \"/dst/\" heredoc=\"one\":\"1\\n\" heredoc=\"two\":\"2\\n\"\n"
            "  15:1 CMD shell[\"<<EOF\"]\n");
}

TEST(DockerfileParserTest, OnbuildHeredocConsumesBody) {
  auto df = Parse("FROM a\nONBUILD RUN <<EOF\necho hi\nEOF\nCMD x\n");
  ASSERT_TRUE(df) << df.error().Render();
  EXPECT_EQ(Dump(*df),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1-4 ONBUILD RUN \"RUN <<EOF\" heredoc=\"EOF\":\"echo hi\\n\"\n"
            "  5:1 CMD shell[\"x\"]\n");
}

TEST(DockerfileParserTest, HeredocErrors) {
  EXPECT_EQ(P("FROM a\nRUN <<EOF\necho\n"),
            "error: Dockerfile:2:1: unterminated heredoc \"EOF\"\n"
            " 2 | RUN <<EOF\n"
            "   | ^\n");
  EXPECT_EQ(P("FROM a\nCOPY x <<EOF\nEOF\n"),
            "error: Dockerfile:2:1: COPY cannot accept a heredoc as a destination\n"
            " 2 | COPY x <<EOF\n"
            "   | ^\n");
}

TEST(DockerfileParserTest, SimpleInstructions) {
  EXPECT_EQ(P("FROM a\nMAINTAINER Jane <j@x>\nEXPOSE 80/tcp  443 $P\nVOLUME /a /b\nVOLUME [\"/c\"]\n"
              "USER app:app\nWORKDIR \"/my dir\"\nSTOPSIGNAL SIGTERM\nSHELL [\"/bin/bash\", \"-c\"]\n"
              "ONBUILD RUN make\nonbuild copy . /x\n"),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1 MAINTAINER \"Jane <j@x>\"\n"
            "  3:1 EXPOSE [\"80/tcp\" \"443\" \"$P\"]\n"
            "  4:1 VOLUME [\"/a\" \"/b\"]\n"
            "  5:1 VOLUME [\"/c\"]\n"
            "  6:1 USER \"app:app\"\n"
            "  7:1 WORKDIR \"\\\"/my dir\\\"\"\n"
            "  8:1 STOPSIGNAL \"SIGTERM\"\n"
            "  9:1 SHELL [\"/bin/bash\" \"-c\"]\n"
            "  10:1 ONBUILD RUN \"RUN make\"\n"
            "  11:1 ONBUILD COPY \"copy . /x\"\n");
}

TEST(DockerfileParserTest, SimpleInstructionErrors) {
  auto first_line = [](const std::string& s) { return s.substr(0, s.find('\n')); };
  EXPECT_EQ(first_line(P("FROM a\nSHELL /bin/sh -c\n")),
            "error: Dockerfile:2:1: SHELL requires the arguments to be in JSON form");
  EXPECT_EQ(first_line(P("FROM a\nSHELL []\n")), "error: Dockerfile:2:1: SHELL requires at least one argument");
  EXPECT_EQ(first_line(P("FROM a\nWORKDIR\n")), "error: Dockerfile:2:1: WORKDIR requires exactly one argument");
  EXPECT_EQ(first_line(P("FROM a\nUSER\n")), "error: Dockerfile:2:1: USER requires exactly one argument");
  EXPECT_EQ(first_line(P("FROM a\nEXPOSE\n")), "error: Dockerfile:2:1: EXPOSE requires at least one argument");
  EXPECT_EQ(first_line(P("FROM a\nVOLUME [\"\"]\n")),
            "error: Dockerfile:2:1: VOLUME specified can not be an empty string");
  EXPECT_EQ(first_line(P("FROM a\nRUN\n")), "error: Dockerfile:2:1: RUN requires at least one argument");
  EXPECT_EQ(first_line(P("FROM a\nONBUILD ONBUILD RUN x\n")), "error: Dockerfile:2:9: ONBUILD ONBUILD isn't allowed");
  EXPECT_EQ(first_line(P("FROM a\nONBUILD FROM x\n")),
            "error: Dockerfile:2:9: FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(first_line(P("FROM a\nONBUILD MAINTAINER x\n")),
            "error: Dockerfile:2:9: MAINTAINER isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(first_line(P("FROM a\nONBUILD CPY x y\n")),
            "error: Dockerfile:2:9: unknown instruction \"CPY\" (did you mean \"COPY\"?)");
  EXPECT_EQ(first_line(P("FROM a\nONBUILD COPY x\n")),
            "error: Dockerfile:2:9: COPY requires at least two arguments, but only one was provided. "
            "Destination could not be determined.");
}

TEST(DockerfileParserTest, Healthcheck) {
  EXPECT_EQ(P("FROM a\nHEALTHCHECK NONE\n"
              "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=1.5s --start-interval=5ms --retries=3 "
              "CMD curl -f http://localhost/\n"
              "healthcheck cmd [\"true\"]\n"),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1 HEALTHCHECK NONE\n"
            "  3:1 HEALTHCHECK shell[\"curl -f http://localhost/\"] interval=30000000000 "
            "timeout=90000000000 start-period=1500000000 start-interval=5000000 retries=3\n"
            "  4:1 HEALTHCHECK exec[\"true\"]\n");
  auto first_line = [](const std::string& s) { return s.substr(0, s.find('\n')); };
  EXPECT_EQ(first_line(P("FROM a\nHEALTHCHECK NONE x\n")),
            "error: Dockerfile:2:1: HEALTHCHECK NONE takes no arguments");
  EXPECT_EQ(first_line(P("FROM a\nHEALTHCHECK RUN x\n")),
            "error: Dockerfile:2:1: Unknown type \"RUN\" in HEALTHCHECK (try CMD)");
  EXPECT_EQ(first_line(P("FROM a\nHEALTHCHECK CMD\n")),
            "error: Dockerfile:2:1: Missing command after HEALTHCHECK CMD");
  EXPECT_EQ(first_line(P("FROM a\nHEALTHCHECK --interval=1us CMD x\n")),
            "error: Dockerfile:2:13: Interval \"interval\" cannot be less than 1ms");
  EXPECT_EQ(first_line(P("FROM a\nHEALTHCHECK --timeout=5 CMD x\n")),
            "error: Dockerfile:2:13: time: missing unit in duration \"5\"");
  EXPECT_EQ(first_line(P("FROM a\nHEALTHCHECK --retries=-1 CMD x\n")),
            "error: Dockerfile:2:13: --retries cannot be negative (-1)");
}

TEST(DockerfileParserTest, ParseDuration) {
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_EQ(*ParseDuration("1h2m3s4ms5us6ns"), 3723004005006);
  EXPECT_EQ(*ParseDuration("-1.5s"), -1500000000);
  EXPECT_EQ(ParseDuration("1x").error().message(), "time: unknown unit \"x\" in duration \"1x\"");
  EXPECT_EQ(ParseDuration("").error().message(), "time: invalid duration \"\"");
  EXPECT_EQ(ParseDuration("s").error().message(), "time: invalid duration \"s\"");
}

TEST(DockerfileParserTest, CrlfAndBom) {
  EXPECT_EQ(P("\xEF\xBB\xBF" "FROM a\r\nRUN x \\\r\n y\r\n"),
            "stage 0: 1:1 FROM \"a\"\n  2:1-3 RUN shell[\"x  y\"]\n");
}

TEST(DockerfileParserTest, FlagQuotingAndDoubleDash) {
  auto df = Parse("FROM a\nCOPY --chown=\"a b\" x y\nRUN -- --not-a-flag\n");
  ASSERT_TRUE(df) << df.error().Render();
  EXPECT_EQ(Dump(*df),
            "stage 0: 1:1 FROM \"a\"\n"
            "  2:1 COPY [\"x\"] -> \"y\" chown=\"a b\"\n"
            "  3:1 RUN shell[\"--not-a-flag\"]\n");
}

}  // namespace
}  // namespace kiln::dockerfile
