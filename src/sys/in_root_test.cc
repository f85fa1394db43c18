#include "sys/in_root.h"

#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include <gtest/gtest.h>

namespace kiln::sys {
namespace {

class InRootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("kiln-in-root-test");
    ASSERT_TRUE(t);
    dir_.emplace(std::move(*t));
    ASSERT_TRUE(MakeDirs(R("etc")));
    ASSERT_TRUE(MakeDirs(R("var/run")));
    ASSERT_TRUE(MakeDirs(P("host")));
    ASSERT_TRUE(WriteFile(R("etc/passwd"), "root:x:0:0::/root:/bin/sh\n"));
    // Hostile links, as a layer could plant them.
    Link("/etc", "tmp-x");                 // absolute: the container's /etc
    Link(P("host"), "hostlink");           // absolute host path
    Link("../../../../../../..", "up");     // relative escape
    Link("var/run", "run");                // relative, inside
    Link("/missing/dir", "dangling");      // dangling
    Link("loop2", "loop1");
    Link("loop1", "loop2");
    ASSERT_TRUE(WriteFile(R("file"), "x"));
    auto fd = OpenFile(R(""), O_PATH | O_DIRECTORY);
    ASSERT_TRUE(fd);
    root_ = std::move(*fd);
  }
  void Link(const std::string& target, const std::string& name) {
    ASSERT_EQ(symlink(target.c_str(), R(name).c_str()), 0);
  }
  std::string P(std::string_view s) const { return JoinPath(dir_->path(), s); }
  std::string R(std::string_view s) const { return JoinPath(P("root"), s); }
  std::optional<TempDir> dir_;
  Fd root_;
};

TEST_F(InRootTest, CanonicalResolvesInsideRoot) {
  struct Case {
    const char* in;
    std::string want;
  } cases[] = {
      {"/", "/"},
      {"etc/passwd", "/etc/passwd"},
      {"/tmp-x/shadow", "/etc/shadow"},
      {"/hostlink/secrets", P("host") + "/secrets"},
      {"/up/etc", "/etc"},
      {"/up/../../x", "/x"},
      {"/run/secrets/x", "/var/run/secrets/x"},
      {"/dangling/a", "/missing/dir/a"},
      {"/new/../other", "/other"},
  };
  for (const auto& c : cases) {
    auto got = CanonicalInRoot(root_.get(), c.in);
    ASSERT_TRUE(got) << c.in << ": " << got.error().Render();
    EXPECT_EQ(*got, c.want) << c.in;
  }
  auto loop = CanonicalInRoot(root_.get(), "/loop1/x");
  ASSERT_FALSE(loop);
  EXPECT_EQ(loop.error().message(), "resolve /loop1/x: Too many levels of symbolic links");
  auto notdir = CanonicalInRoot(root_.get(), "/file/x");
  ASSERT_FALSE(notdir);
  EXPECT_EQ(notdir.error().message(), "resolve /file/x: Not a directory");
}

TEST_F(InRootTest, MkdirInRootNeverTouchesHost) {
  auto a = MkdirInRoot(root_.get(), "/hostlink/secrets/a", 1000, 1000);
  ASSERT_TRUE(a) << a.error().Render();
  // Every component of the host path is created inside the rootfs.
  std::string h = P("host");
  std::vector<std::string> want;
  for (std::string p = h + "/secrets/a"; p != "/"; p = Dirname(p)) want.insert(want.begin(), p);
  EXPECT_EQ(*a, want);
  EXPECT_FALSE(PathExists(P("host/secrets")));
  EXPECT_TRUE(PathExists(R(h.substr(1) + "/secrets/a")));
  struct stat st;
  ASSERT_EQ(stat(R(h.substr(1) + "/secrets/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_mode & 07777, 0755u);

  auto b = MkdirInRoot(root_.get(), "/up/opt/x", 0, 0);
  ASSERT_TRUE(b) << b.error().Render();
  EXPECT_EQ(*b, (std::vector<std::string>{"/opt", "/opt/x"}));

  auto c = MkdirInRoot(root_.get(), "/run/foo");
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, (std::vector<std::string>{"/var/run/foo"}));
  auto again = MkdirInRoot(root_.get(), "/run/foo");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, std::vector<std::string>{});

  auto bad = MkdirInRoot(root_.get(), "/etc/passwd/x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "resolve /etc/passwd/x: Not a directory");
}

TEST_F(InRootTest, TouchAndReadInRoot) {
  auto t = TouchInRoot(root_.get(), "/tmp-x/hosts");
  ASSERT_TRUE(t) << t.error().Render();
  EXPECT_EQ(*t, (std::vector<std::string>{"/etc/hosts"}));
  EXPECT_EQ(*ReadFile(R("etc/hosts")), "");
  auto again = TouchInRoot(root_.get(), "/etc/hosts");
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, std::vector<std::string>{});
  auto passwd = ReadFileInRoot(root_.get(), "/up/tmp-x/passwd");
  ASSERT_TRUE(passwd);
  EXPECT_EQ(*passwd, "root:x:0:0::/root:/bin/sh\n");
  auto missing = ReadFileInRoot(root_.get(), "/etc/group");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().message(), "open /etc/group: No such file or directory");
  auto dir = ReadFileInRoot(root_.get(), "/etc");
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().message(), "/etc is not a regular file");
}

TEST_F(InRootTest, OpenInRootFollowsLinksInsideTheRootOnly) {
  // "/tmp-x/passwd" is the container's /etc/passwd; "." and "" are the root.
  auto passwd = OpenInRoot(root_.get(), "tmp-x/passwd", O_RDONLY);
  ASSERT_TRUE(passwd) << passwd.error().Render();
  char buf[64] = {};
  ASSERT_EQ(read(passwd->get(), buf, sizeof buf - 1), 26);
  EXPECT_STREQ(buf, "root:x:0:0::/root:/bin/sh\n");
  struct stat st;
  auto root = OpenInRoot(root_.get(), ".", O_RDONLY | O_DIRECTORY);
  ASSERT_TRUE(root);
  ASSERT_EQ(fstat(root->get(), &st), 0);
  struct stat want;
  ASSERT_EQ(stat(R("").c_str(), &want), 0);
  EXPECT_EQ(st.st_ino, want.st_ino);
  // An escaping link lands on the root's own /etc, not the host's.
  auto up = OpenInRoot(root_.get(), "/up/etc/passwd", O_RDONLY);
  ASSERT_TRUE(up);
  ASSERT_EQ(fstat(up->get(), &st), 0);
  ASSERT_EQ(stat(R("etc/passwd").c_str(), &want), 0);
  EXPECT_EQ(st.st_ino, want.st_ino);
  auto hostdir = OpenInRoot(root_.get(), "/hostlink", O_RDONLY | O_DIRECTORY);
  ASSERT_FALSE(hostdir);
  EXPECT_EQ(hostdir.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(hostdir.error().message(), "open /hostlink: No such file or directory");
}

TEST_F(InRootTest, OpenInRootWithoutFollowingTheLastLink) {
  auto link = OpenInRoot(root_.get(), "/tmp-x", O_PATH, FollowLast::kNo);
  ASSERT_TRUE(link) << link.error().Render();
  struct stat st;
  ASSERT_EQ(fstatat(link->get(), "", &st, AT_EMPTY_PATH), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  auto followed = OpenInRoot(root_.get(), "/tmp-x", O_PATH);
  ASSERT_TRUE(followed);
  ASSERT_EQ(fstat(followed->get(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  // Only the last component: links before it are still followed.
  auto inner = OpenInRoot(root_.get(), "/tmp-x/passwd", O_RDONLY, FollowLast::kNo);
  EXPECT_TRUE(inner);
  auto dir = OpenInRoot(root_.get(), "/tmp-x", O_RDONLY | O_DIRECTORY, FollowLast::kNo);
  ASSERT_FALSE(dir);
  EXPECT_EQ(dir.error().sys_errno(), ENOTDIR);
}

TEST_F(InRootTest, OpenInRootCanCreateInsideTheRoot) {
  auto f = OpenInRoot(root_.get(), "/tmp-x/new", O_WRONLY | O_CREAT | O_EXCL);
  ASSERT_TRUE(f) << f.error().Render();
  ASSERT_TRUE(WriteAll(f->get(), "made"));
  EXPECT_EQ(*ReadFile(R("etc/new")), "made");
  struct stat st;
  ASSERT_EQ(stat(R("etc/new").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0600, 0600u);
}

TEST_F(InRootTest, MkdirInRootCreatesADanglingLinksTarget) {
  // Docker's WORKDIR through a dangling link creates the link's target.
  auto made = MkdirInRoot(root_.get(), "/dangling/sub", 7, 8);
  ASSERT_TRUE(made) << made.error().Render();
  EXPECT_EQ(*made, (std::vector<std::string>{"/missing", "/missing/dir", "/missing/dir/sub"}));
  struct stat st;
  ASSERT_EQ(lstat(R("missing/dir/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  ASSERT_EQ(lstat(R("dangling").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

}  // namespace
}  // namespace kiln::sys
