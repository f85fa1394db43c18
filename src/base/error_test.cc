#include "base/error.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "base/strings.h"

namespace kiln {
namespace {

Result<int> Parse(std::string_view s) {
  if (s.empty()) return Fail(Error::Invalid("empty"));
  return static_cast<int>(s.size());
}

Result<int> Twice(std::string_view s) {
  KILN_TRY_ASSIGN(int n, Parse(s));
  return n * 2;
}

Result<void> Outer(std::string_view s) {
  auto r = Twice(s);
  if (!r) return Fail(std::move(r).error().Wrap("parsing {}", Quote(s)));
  return Ok();
}

TEST(ErrorTest, TryAssignPropagatesValueAndError) {
  EXPECT_EQ(*Twice("abc"), 6);
  auto r = Twice("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
}

TEST(ErrorTest, RenderShowsExcerptCaretContextAndHint) {
  Error e = Error::Syntax({"Dockerfile", 12, 3, "  RUNN echo hi"},
                          "unknown instruction \"RUNN\" (did you mean \"RUN\"?)");
  e.Wrap("building stage {}", "\"app\"").WithHint("see the Dockerfile reference");
  EXPECT_EQ(e.Render(),
            "Dockerfile:12:3: unknown instruction \"RUNN\" (did you mean \"RUN\"?)\n"
            " 12 |   RUNN echo hi\n"
            "    |   ^\n"
            "while building stage \"app\"\n"
            "hint: see the Dockerfile reference\n");
}

TEST(ErrorTest, RenderRedactsUrlPasswordsInTheQuotedLine) {
  Error e = Error::Syntax({"Dockerfile", 2, 1, "ADD https://alice:hunter2@example.com/f /f"}, "checksum mismatch");
  EXPECT_EQ(e.Render(),
            "Dockerfile:2:1: checksum mismatch\n"
            " 2 | ADD https://alice:xxxxx@example.com/f /f\n"
            "   | ^\n");
}

TEST(ErrorTest, IoErrorNamesPathAndMapsEnoent) {
  Error e = Error::Io("/no/such", ENOENT, "open");
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.Summary(), "open /no/such: No such file or directory");
  EXPECT_EQ(Error::Io("/x", EACCES).code(), ErrorCode::kIo);
}

TEST(ErrorTest, WrapChainsInnermostFirst) {
  auto r = Outer("");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().Render(), "empty\nwhile parsing \"\"\n");
}

TEST(ErrorTest, ReassigningFromItselfKeepsEverything) {
  // Regression: a parallel build failing with an errno-carrying error (a
  // busy umount) printed a bare "error: " after a self-move like this one.
  Error e = Error::Io("/run/x/rootfs", EBUSY, "umount");
  e.Wrap("running step {}", 3).WithHint("retry");
  e = std::move(e).WithErrno(EBUSY);
  EXPECT_EQ(e.code(), ErrorCode::kIo);
  EXPECT_EQ(e.sys_errno(), EBUSY);
  EXPECT_EQ(e.Render(),
            "umount /run/x/rootfs: Device or resource busy\n"
            "while running step 3\n"
            "hint: retry\n");
  Error moved = std::move(e);
  EXPECT_EQ(moved.message(), "umount /run/x/rootfs: Device or resource busy");
}

}  // namespace
}  // namespace kiln
