#include "dockerfile/expand.h"

#include <gtest/gtest.h>

#include "dockerfile/parser.h"
#include "dockerfile/testing/dump.h"

namespace kiln::dockerfile {
namespace {

using testing::DumpInstruction;

const Scope& TestScope() {
  static const Scope s = [] {
    Scope s;
    s.SetEnv("PWD", "/home");
    s.SetEnv("NULL", "");
    s.SetEnv("V", "/usr/local/bin");
    s.SetEnv("WORDS", "a b  c");
    s.SetEnv("F", "file.tar.gz");
    s.SetEnv("LONG", std::string(20000, 'a'));
    s.SetArg("ARGONLY", "argval");
    return s;
  }();
  return s;
}

std::string W(std::string_view word, char escape = '\\') {
  Lookup lookup = [](std::string_view n) { return TestScope().Lookup(n); };
  ExpandOptions opts;
  opts.escape = escape;
  auto r = ExpandWord(word, lookup, opts);
  return r ? *r : "error: " + r.error().message();
}

std::string Ws(std::string_view word) {
  Lookup lookup = [](std::string_view n) { return TestScope().Lookup(n); };
  auto r = ExpandWords(word, lookup);
  return r ? testing::DumpList(*r) : "error: " + r.error().message();
}

TEST(DockerfileExpandTest, QuotesAndEscapes) {
  EXPECT_EQ(W("hello"), "hello");
  EXPECT_EQ(W("he'll'o"), "hello");
  EXPECT_EQ(W("he\\'llo"), "he'llo");
  EXPECT_EQ(W("\"abc\\\"def\""), "abc\"def");
  EXPECT_EQ(W("'abc\\\"def'"), "abc\\\"def");
  EXPECT_EQ(W("\"a\\b\""), "a\\b");
  EXPECT_EQ(W("a\\b"), "ab");
  EXPECT_EQ(W("a\\"), "a");
  EXPECT_EQ(W("'$PWD'"), "$PWD");
  EXPECT_EQ(W("\"$PWD\""), "/home");
  EXPECT_EQ(W("\\$PWD"), "$PWD");
  EXPECT_EQ(W("\"\\$PWD\""), "$PWD");
  EXPECT_EQ(W("a`$PWD", '`'), "a$PWD");
  EXPECT_EQ(W("a\\$PWD", '`'), "a\\/home");
  EXPECT_EQ(W("he'llo"),
            "error: failed to process \"he'llo\": unexpected end of statement while looking for matching "
            "single-quote");
  EXPECT_EQ(W("\"hello"),
            "error: failed to process \"\\\"hello\": unexpected end of statement while looking for matching "
            "double-quote");
}

TEST(DockerfileExpandTest, Variables) {
  EXPECT_EQ(W("$PWD"), "/home");
  EXPECT_EQ(W("${PWD}x"), "/homex");
  EXPECT_EQ(W("$PWDx"), "");
  EXPECT_EQ(W("$ARGONLY"), "argval");
  EXPECT_EQ(W("$"), "$");
  EXPECT_EQ(W("a$ b"), "a$ b");
  EXPECT_EQ(W("$1x"), "x");
  EXPECT_EQ(W("$$"), "");
  EXPECT_EQ(W("${UNSET}"), "");
}

TEST(DockerfileExpandTest, Modifiers) {
  EXPECT_EQ(W("${UNSET:-def}"), "def");
  EXPECT_EQ(W("${NULL:-def}"), "def");
  EXPECT_EQ(W("${NULL-def}"), "");
  EXPECT_EQ(W("${UNSET-def}"), "def");
  EXPECT_EQ(W("${PWD:-def}"), "/home");
  EXPECT_EQ(W("${UNSET:-$PWD/x}"), "/home/x");
  EXPECT_EQ(W("${PWD:+x}"), "x");
  EXPECT_EQ(W("${UNSET+x}"), "");
  EXPECT_EQ(W("${NULL+x}"), "x");
  EXPECT_EQ(W("${NULL:+x}"), "");
  EXPECT_EQ(W("${PWD:?msg}"), "/home");
  EXPECT_EQ(W("${NULL?msg}"), "");
  EXPECT_EQ(W("${UNSET:?must be set}"), "error: failed to process \"${UNSET:?must be set}\": UNSET: must be set");
  EXPECT_EQ(W("${UNSET?}"), "error: failed to process \"${UNSET?}\": UNSET: is not allowed to be unset");
  EXPECT_EQ(W("${NULL:?}"), "error: failed to process \"${NULL:?}\": NULL: is not allowed to be empty");
}

TEST(DockerfileExpandTest, PatternModifiers) {
  EXPECT_EQ(W("${V#*/}"), "usr/local/bin");
  EXPECT_EQ(W("${V##*/}"), "bin");
  EXPECT_EQ(W("${V%/*}"), "/usr/local");
  EXPECT_EQ(W("${V%%/*}"), "");
  EXPECT_EQ(W("${V#/usr}"), "/local/bin");
  EXPECT_EQ(W("${V#nomatch}"), "/usr/local/bin");
  EXPECT_EQ(W("${V%?in}"), "/usr/local/");
  EXPECT_EQ(W("${V#\\*}"), "/usr/local/bin");
  EXPECT_EQ(W("${V/local/opt}"), "/usr/opt/bin");
  EXPECT_EQ(W("${V//\\//:}"), ":usr:local:bin");
  EXPECT_EQ(W("${V/\\//}"), "usr/local/bin");
  EXPECT_EQ(W("${V/l*l/L}"), "/usr/L/bin");
  EXPECT_EQ(W("${UNSET/a/b}"), "");
  EXPECT_EQ(W("${F%.*}"), "file.tar");
  EXPECT_EQ(W("${F%%.*}"), "file");
  EXPECT_EQ(W("${F#*.}"), "tar.gz");
  EXPECT_EQ(W("${F##*.}"), "gz");
  EXPECT_EQ(W("${F/.*/}"), "file");
  EXPECT_EQ(W("${F/?/X}"), "Xile.tar.gz");
  EXPECT_EQ(W("${F//[.]/_}"), "file.tar.gz");
  EXPECT_EQ(W("${V#\\x}"), "error: failed to process \"${V#\\\\x}\": invalid pattern (\\x) in substitution: invalid escape '\\x'");
}

TEST(DockerfileExpandTest, LongValuesStayFast) {
  EXPECT_EQ(W("${LONG//a/b}"), std::string(20000, 'b'));
  EXPECT_EQ(W("${LONG%%a*a}"), "");
  EXPECT_EQ(W("${LONG#*a*a}").size(), 19998u);
}

TEST(DockerfileExpandTest, SyntaxErrors) {
  EXPECT_EQ(W("${}"), "error: failed to process \"${}\": syntax error: bad substitution");
  EXPECT_EQ(W("${:x}"), "error: failed to process \"${:x}\": syntax error: bad substitution");
  EXPECT_EQ(W("${V"), "error: failed to process \"${V\": syntax error: missing '}'");
  EXPECT_EQ(W("${"), "error: failed to process \"${\": syntax error: missing '}'");
  EXPECT_EQ(W("${V:-x"), "error: failed to process \"${V:-x\": syntax error: missing '}'");
  EXPECT_EQ(W("${V:#x}"), "error: failed to process \"${V:#x}\": unsupported modifier (:#) in substitution");
  EXPECT_EQ(W("${V:x}"), "error: failed to process \"${V:x}\": unsupported modifier (:x) in substitution");
  EXPECT_EQ(W("${V^}"), "error: failed to process \"${V^}\": unsupported modifier (^) in substitution");
}

TEST(DockerfileExpandTest, WordSplitting) {
  EXPECT_EQ(Ws("$WORDS"), "[\"a\" \"b\" \"c\"]");
  EXPECT_EQ(Ws("\"$WORDS\""), "[\"a b  c\"]");
  EXPECT_EQ(Ws("x$WORDS"), "[\"xa\" \"b\" \"c\"]");
  EXPECT_EQ(Ws("'a b' c\\ d"), "[\"a b\" \"c d\"]");
  EXPECT_EQ(Ws("\"\""), "[]");
}

// Evaluates every stage in order (children start from their parent's
// final scope) and dumps the expanded instructions.
std::string Eval(std::string_view text, const EvalOptions& opts, std::vector<std::string>* run_env = nullptr) {
  auto df = Parse(text);
  if (!df) return "parse error: " + df.error().Render();
  auto global = GlobalScope(*df, opts);
  if (!global) return "error: " + global.error().Render();
  std::string out;
  std::vector<Scope> finals;
  for (const Stage& st : df->stages) {
    auto from = Expand(st.from, *global);
    if (!from) return out + "error: " + from.error().Render();
    out += DumpInstruction(*from) + "\n";
    Scope start;
    for (const Stage& prev : df->stages) {
      if (prev.index < st.index && !prev.name.empty() && prev.name == from->As<FromArgs>().image)
        start = finals[prev.index];
    }
    StageEvaluator ev(*global, opts, start);
    for (const Instruction& in : st.instructions) {
      auto ex = ev.Step(in);
      if (!ex) return out + "error: " + ex.error().Render();
      out += "  " + DumpInstruction(*ex) + "\n";
    }
    finals.push_back(ev.scope());
    if (run_env) *run_env = ev.RunEnv();
  }
  return out;
}

TEST(DockerfileExpandTest, InstructionsAndScoping) {
  EvalOptions opts;
  opts.build_args = {{"VERSION", "3.19"}, {"PORTS", "80 443"}, {"HTTP_PROXY", "http://proxy"}, {"UNUSED", "x"}};
  std::vector<std::string> env;
  EXPECT_EQ(Eval("ARG VERSION=latest\n"
                 "ARG BASE=busybox\n"
                 "FROM ${BASE}:${VERSION} AS base\n"
                 "ARG VERSION\n"
                 "ARG PORTS\n"
                 "ENV CONT=v1\n"
                 "ARG CONT=argval\n"
                 "RUN echo $VERSION\n"
                 "COPY --chown=${UID:-1000} --from=build src${CONT} \"/dst/$VERSION\"\n"
                 "ENV A=1 B=$A\n"
                 "ENV A=2 C=$A\n"
                 "LABEL \"k\"=\"v $A\"\n"
                 "EXPOSE $PORTS 22/udp\n"
                 "WORKDIR /app/$A\n"
                 "USER ${USER:-root}\n"
                 "VOLUME [\"/data/$A\"]\n"
                 "STOPSIGNAL $SIG\n"
                 "CMD echo $A\n"
                 "ONBUILD RUN echo $A\n"
                 "MAINTAINER $A\n",
                 opts, &env),
            "3:1 FROM \"busybox:3.19\" as=\"base\"\n"
            "  4:1 ARG \"VERSION\"\n"
            "  5:1 ARG \"PORTS\"\n"
            "  6:1 ENV \"CONT\"=\"v1\"\n"
            "  7:1 ARG \"CONT\"=\"argval\"\n"
            "  8:1 RUN shell[\"echo $VERSION\"]\n"
            "  9:1 COPY [\"srcargval\"] -> \"/dst/3.19\" from=\"build\" chown=\"1000\"\n"
            "  10:1 ENV \"A\"=\"1\" \"B\"=\"\"\n"
            "  11:1 ENV \"A\"=\"2\" \"C\"=\"1\"\n"
            "  12:1 LABEL \"k\"=\"v 2\"\n"
            "  13:1 EXPOSE [\"80\" \"443\" \"22/udp\"]\n"
            "  14:1 WORKDIR \"/app/2\"\n"
            "  15:1 USER \"root\"\n"
            "  16:1 VOLUME [\"/data/2\"]\n"
            "  17:1 STOPSIGNAL \"\"\n"
            "  18:1 CMD shell[\"echo $A\"]\n"
            "  19:1 ONBUILD RUN \"RUN echo $A\"\n"
            "  20:1 MAINTAINER \"$A\"\n");
  // `ARG CONT=argval` after `ENV CONT=v1` shadows it (see buildkit_compat_test).
  EXPECT_EQ(env, (std::vector<std::string>{"CONT=argval", "A=2", "B=", "C=1", "VERSION=3.19", "PORTS=80 443",
                                           "HTTP_PROXY=http://proxy"}));
}

TEST(DockerfileExpandTest, GlobalArgsNeedRedeclaration) {
  EvalOptions opts;
  EXPECT_EQ(Eval("ARG G=global\nARG H=$G-2\nFROM x:$H\nRUN true\nCOPY $G a\nARG G\nCOPY $G b\nARG H=local\nCOPY $H c\n", opts),
            "3:1 FROM \"x:global-2\"\n"
            "  4:1 RUN shell[\"true\"]\n"
            "  5:1 COPY [\"\"] -> \"a\"\n"
            "  6:1 ARG \"G\"\n"
            "  7:1 COPY [\"global\"] -> \"b\"\n"
            "  8:1 ARG \"H\"=\"local\"\n"
            "  9:1 COPY [\"local\"] -> \"c\"\n");
}

TEST(DockerfileExpandTest, BuildArgOverridesDefaultAndGlobal) {
  EvalOptions opts;
  opts.build_args = {{"A", "cli"}};
  EXPECT_EQ(Eval("ARG A=g\nFROM x:$A\nARG A=stage\nCOPY $A y\n", opts),
            "2:1 FROM \"x:cli\"\n  3:1 ARG \"A\"=\"stage\"\n  4:1 COPY [\"cli\"] -> \"y\"\n");
}

TEST(DockerfileExpandTest, ChildStageInheritsArgsAndEnv) {
  EvalOptions opts;
  EXPECT_EQ(Eval("FROM scratch AS base\nARG X=1\nENV Y=2\nFROM base AS child\nCOPY $X$Y /z\n", opts),
            "1:1 FROM \"scratch\" as=\"base\"\n"
            "  2:1 ARG \"X\"=\"1\"\n"
            "  3:1 ENV \"Y\"=\"2\"\n"
            "4:1 FROM \"base\" as=\"child\"\n"
            "  5:1 COPY [\"12\"] -> \"/z\"\n");
}

TEST(DockerfileExpandTest, PlatformArgs) {
  EvalOptions opts;
  opts.build_platform = {"linux", "amd64", ""};
  opts.target_platform = {"linux", "arm", "v7"};
  EXPECT_EQ(Eval("FROM --platform=$BUILDPLATFORM golang AS build\n"
                 "COPY $TARGETARCH a\n"
                 "ARG TARGETARCH TARGETVARIANT TARGETPLATFORM BUILDOS\n"
                 "COPY $TARGETARCH-$TARGETVARIANT $TARGETPLATFORM $BUILDOS\n",
                 opts),
            "1:1 FROM \"golang\" as=\"build\" platform=\"linux/amd64\"\n"
            "  2:1 COPY [\"\"] -> \"a\"\n"
            "  3:1 ARG \"TARGETARCH\" \"TARGETVARIANT\" \"TARGETPLATFORM\" \"BUILDOS\"\n"
            "  4:1 COPY [\"arm-v7\" \"linux/arm/v7\"] -> \"linux\"\n");
}

// Heredoc bodies expand as BuildKit's ExpandRaw does (moby/buildkit#2442):
// quotes stay and do not stop expansion, backslash escapes are applied.
TEST(DockerfileExpandTest, MountsAndHeredocs) {
  EvalOptions opts;
  EXPECT_EQ(Eval("FROM x\n"
                 "ARG CACHE=/root/.cache FOO=bar\n"
                 "RUN --mount=type=cache,target=$CACHE,id=${CACHE}-x --mount=type=secret,id=$FOO make $CACHE\n"
                 "COPY <<EOT /script.sh\n"
                 "echo \"hello ${FOO}\" '$FOO' \\$y\n"
                 "EOT\n"
                 "COPY <<'EOT' /b\n"
                 "$FOO\n"
                 "EOT\n"
                 "RUN <<EOF\n"
                 "echo $FOO\n"
                 "EOF\n",
                 opts),
            "1:1 FROM \"x\"\n"
            "  2:1 ARG \"CACHE\"=\"/root/.cache\" \"FOO\"=\"bar\"\n"
            "  3:1 RUN shell[\"make $CACHE\"] mount={cache target=\"/root/.cache\" id=\"/root/.cache-x\" rw "
            "sharing=shared} mount={secret target=\"/run/secrets/bar\" id=\"bar\" ro}\n"
            "  4:1-6 COPY [\"<<EOT\"] -> \"/script.sh\" heredoc=\"EOT\":\"echo \\\"hello bar\\\" 'bar' $y\\n\"\n"
            "  7:1-9 COPY [\"<<EOT\"] -> \"/b\" heredoc=\"EOT\",noexpand:\"$FOO\\n\"\n"
            "  10:1-12 RUN shell[\"<<EOF\"] heredoc=\"EOF\":\"echo $FOO\\n\"\n");
}

TEST(DockerfileExpandTest, ErrorsPointAtInstruction) {
  EvalOptions opts;
  EXPECT_EQ(Eval("FROM x\nCOPY ${X:?need_X} /\n", opts),
            "1:1 FROM \"x\"\n"
            "error: Dockerfile:2:1: failed to process \"${X:?need_X}\": X: need_X\n"
            " 2 | COPY ${X:?need_X} /\n"
            "   | ^\n");
  // Whitespace splits FROM's words before expansion, as in BuildKit.
  EXPECT_EQ(Eval("FROM ${B:?base image}\n", opts),
            "parse error: Dockerfile:1:1: FROM requires either one or three arguments\n"
            " 1 | FROM ${B:?base image}\n"
            "   | ^\n");
  EXPECT_EQ(Eval("FROM ${B:?required}\n", opts),
            "error: Dockerfile:1:1: failed to process \"${B:?required}\": B: required\n"
            " 1 | FROM ${B:?required}\n"
            "   | ^\n");
}

TEST(DockerfileExpandTest, EscapeDirectiveAppliesToExpansion) {
  EvalOptions opts;
  EXPECT_EQ(Eval("# escape=`\nFROM x\nARG B=b\nWORKDIR C:\\Users\\$B\nCOPY a`$B c\n", opts),
            "2:1 FROM \"x\"\n"
            "  3:1 ARG \"B\"=\"b\"\n"
            "  4:1 WORKDIR \"C:\\\\Users\\\\b\"\n"
            "  5:1 COPY [\"a$B\"] -> \"c\"\n");
}

TEST(DockerfileExpandTest, UnsetNamesAreReported) {
  auto df = Parse("FROM x\nENV A=1\nCOPY $A $B ${C:-x} /d\n");
  ASSERT_TRUE(df);
  Scope s;
  s.SetEnv("A", "1");
  std::vector<std::string> unset;
  auto ex = Expand(df->stages[0].instructions[1], s, &unset);
  ASSERT_TRUE(ex);
  // ${C:-x} handles the unset case itself, so only B is reported.
  EXPECT_EQ(unset, (std::vector<std::string>{"B"}));
}

TEST(DockerfileExpandTest, UnusedBuildArgs) {
  auto df = Parse("ARG A\nFROM x\nARG B=1 C\n");
  ASSERT_TRUE(df);
  EvalOptions opts;
  opts.build_args = {{"A", "1"}, {"C", "2"}, {"Z", "3"}, {"HTTP_PROXY", "p"}, {"D", "4"}};
  EXPECT_EQ(UnusedBuildArgs(*df, opts), (std::vector<std::string>{"D", "Z"}));
}

TEST(DockerfileExpandTest, StartScopeFromImageEnv) {
  Scope s = StageEvaluator::StartScope({"PATH=/usr/bin:/bin", "EMPTY=", "EQ=a=b"});
  EXPECT_EQ(s.env, (std::vector<KeyValue>{{"PATH", "/usr/bin:/bin"}, {"EMPTY", ""}, {"EQ", "a=b"}}));
}

}  // namespace
}  // namespace kiln::dockerfile
