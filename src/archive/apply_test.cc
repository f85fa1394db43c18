#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "archive/layer.h"
#include "archive/testing_util.h"

namespace kiln::archive {
namespace {

using testing::Check;
using testing::Dir;
using testing::File;
using testing::Link;
using testing::MakeTar;
using testing::Member;
using testing::SetTime;
using testing::Snapshot;
using testing::Write;

// Hostile layers are applied to <tmp>/outside/a/b/target, with a sentinel
// file in <tmp>/outside; after every test nothing but the target may have
// changed.
class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("kiln-apply-test");
    ASSERT_TRUE(t);
    tmp_ = std::make_unique<TempDir>(std::move(*t));
    outside_ = tmp_->path() + "/outside";
    target_ = outside_ + "/a/b/target";
    ASSERT_TRUE(MakeDirs(target_));
    Write(outside_ + "/sentinel", "untouched");
    before_ = OutsideSnapshot();
  }

  void TearDown() override { EXPECT_EQ(OutsideSnapshot(), before_) << "something was written outside"; }

  // Everything under `outside_` except the target's contents.
  std::string OutsideSnapshot() {
    std::string s = Snapshot(outside_, /*with_dir_mtime=*/false);
    std::string out;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl - pos + 1);
      pos = nl + 1;
      if (!line.starts_with("a/b/target/")) out += line;
    }
    return out;
  }

  Result<ApplyInfo> Apply(std::string_view layer, WhiteoutMode mode = WhiteoutMode::kApply) {
    StringSource src(layer);
    ApplyOptions o;
    o.whiteout_mode = mode;
    o.label = "layer sha256:test";
    return ApplyLayer(src, target_, o);
  }

  std::string ApplyError(std::string_view layer) {
    auto r = Apply(layer);
    if (r) return "no error";
    return r.error().message();
  }

  std::string T(std::string_view rel) const { return JoinPath(target_, rel); }

  std::unique_ptr<TempDir> tmp_;
  std::string outside_;
  std::string target_;
  std::string before_;
};

TEST_F(ApplyTest, RoundTripKeepsEverything) {
  std::string src = tmp_->path() + "/src";
  ASSERT_TRUE(MakeDirs(src + "/usr/bin"));
  ASSERT_TRUE(MakeDirs(src + "/empty"));
  Write(src + "/usr/bin/sudo", "binary", 04755);
  Write(src + "/usr/bin/sgid", "binary2", 02711);
  Check(::link((src + "/usr/bin/sudo").c_str(), (src + "/usr/bin/sudo2").c_str()), "link");
  Check(::symlink("bin/sudo", (src + "/usr/sudo-link").c_str()), "symlink");
  Check(::symlink("/nonexistent/abs", (src + "/dangling").c_str()), "symlink");
  Check(::mknod((src + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), "mknod");
  Check(::mknod((src + "/sda").c_str(), S_IFBLK | 0600, makedev(8, 0)), "mknod");
  Check(::mkfifo((src + "/fifo").c_str(), 0640), "mkfifo");
  Check(::chown((src + "/usr/bin/sgid").c_str(), 1234, 5678), "chown");
  Check(::chmod((src + "/usr/bin/sgid").c_str(), 02711), "chmod");
  Check(::lchown((src + "/usr/sudo-link").c_str(), 42, 43), "lchown");
  Check(::chown((src + "/empty").c_str(), 7, 8), "chown");
  Check(::chmod((src + "/empty").c_str(), 01777), "chmod");
  std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
  Check(::setxattr((src + "/usr/bin/sudo").c_str(), "security.capability", cap.data(), cap.size(), 0),
        "xattr");
  Check(::setxattr((src + "/empty").c_str(), "user.dir", "yes", 3, 0), "xattr");
  Write(src + "/big", std::string(3 * 1024 * 1024 + 17, 'z'));
  int64_t t = 1600000000;
  for (const char* p : {"/usr/bin/sudo", "/usr/bin/sgid", "/usr/sudo-link", "/dangling", "/null", "/sda",
                        "/fifo", "/big", "/usr/bin", "/usr", "/empty"})
    SetTime(src + p, t++);

  for (Compression c : {Compression::kGzip, Compression::kZstd, Compression::kNone}) {
    std::string layer;
    StringSink sink(layer);
    LayerWriteOptions o;
    o.compression.compression = c;
    auto written = WriteLayerFromDir(src, sink, o);
    ASSERT_TRUE(written) << written.error().Render();
    ASSERT_TRUE(RemoveAll(target_));
    ASSERT_TRUE(MakeDirs(target_));
    auto applied = Apply(layer);
    ASSERT_TRUE(applied) << applied.error().Render();
    EXPECT_EQ(applied->diff_id, written->diff_id);
    EXPECT_EQ(applied->digest, written->digest);
    EXPECT_EQ(applied->size, written->size);
    EXPECT_EQ(applied->entries, written->entries);
    EXPECT_EQ(Snapshot(target_), Snapshot(src)) << CompressionName(c);
  }
}

TEST_F(ApplyTest, OverlayModeStoresOverlayWhiteouts) {
  std::string layer = MakeTar({
      {Dir("d"), ""},
      {File("d/.wh..wh..opq", ""), ""},
      {File("d/new", "n"), "n"},
      {File(".wh.gone", ""), ""},
      {File("x/y/.wh.z", ""), ""},
  });
  auto r = Apply(layer, WhiteoutMode::kOverlay);
  ASSERT_TRUE(r) << r.error().Render();
  struct stat st;
  ASSERT_EQ(::lstat(T("gone").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  EXPECT_EQ(st.st_rdev, makedev(0, 0));
  ASSERT_EQ(::lstat(T("x/y/z").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  char v[8];
  ssize_t n = ::getxattr(T("d").c_str(), "trusted.overlay.opaque", v, sizeof v);
  ASSERT_EQ(n, 1);
  EXPECT_EQ(v[0], 'y');
  EXPECT_FALSE(PathExists(T("d/.wh..wh..opq")));
  EXPECT_EQ(*ReadFile(T("d/new")), "n");
}

TEST_F(ApplyTest, ApplyModeDeletesAndClearsOpaqueDirs) {
  ASSERT_TRUE(Apply(MakeTar({
      {Dir("d"), ""},
      {File("d/old1", "1"), "1"},
      {Dir("d/olddir"), ""},
      {File("d/olddir/f", "f"), "f"},
      {File("keep", "k"), "k"},
      {File("gone", "g"), "g"},
      {Dir("gonedir"), ""},
      {File("gonedir/f", "f"), "f"},
  })));
  auto r = Apply(MakeTar({
      {Dir("d"), ""},
      {File("d/-early", "e"), "e"},  // sorts before the opaque marker
      {File("d/.wh..wh..opq", ""), ""},
      {File("d/new", "n"), "n"},
      {File(".wh.gone", ""), ""},
      {File(".wh.gonedir", ""), ""},
      {File(".wh.never-existed", ""), ""},
      {File("nodir/.wh.x", ""), ""},
  }));
  ASSERT_TRUE(r) << r.error().Render();
  std::string snap = Snapshot(target_, false);
  EXPECT_EQ(snap,
            "d 40755 0:0\n"
            "d/-early 100644 0:0 t=1700000000 data=e\n"
            "d/new 100644 0:0 t=1700000000 data=n\n"
            "keep 100644 0:0 t=1700000000 data=k\n");
}

TEST_F(ApplyTest, ReplacesExistingEntriesWithoutFollowingSymlinks) {
  // A symlink pointing outside, then a file of the same name: the file
  // replaces the link; the sentinel is not written through it.
  std::string layer = MakeTar({
      {Link("evil", TarType::kSymlink, outside_ + "/sentinel"), ""},
      {File("evil", "payload"), "payload"},
      {Link("d", TarType::kSymlink, outside_), ""},
      {Dir("d"), ""},
      {File("d/sentinel", "payload"), "payload"},
  });
  auto r = Apply(layer);
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*ReadFile(T("evil")), "payload");
  struct stat st;
  ASSERT_EQ(::lstat(T("d").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(ApplyTest, OwnershipIgnoredKeepsCurrentUser) {
  TarEntry f = File("f", "x", 04755);
  f.uid = 1000;
  f.gid = 1000;
  std::string tar = MakeTar({{f, "x"}});
  StringSource src(tar);
  ApplyOptions o;
  o.ownership = OwnershipMode::kIgnore;
  auto first = ApplyLayer(src, target_, o);
  ASSERT_TRUE(first) << first.error().Render();
  struct stat st;
  ASSERT_EQ(::lstat(T("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, ::getuid());
  EXPECT_EQ(st.st_mode & 07777, 04755u);

  StringSource src2(tar);
  o.ownership = OwnershipMode::kPreserve;
  auto r = ApplyLayer(src2, target_, o);
  ASSERT_TRUE(r) << r.error().Render();
  ASSERT_EQ(::lstat(T("f").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_mode & 07777, 04755u);  // setuid survives the chown
}

TEST_F(ApplyTest, RefusesOutOfRangeIds) {
  TarEntry f = File("f", "");
  f.uid = 4294967296 + 5;
  EXPECT_EQ(ApplyError(MakeTar({{f, ""}})),
            "layer sha256:test: entry 1 \"f\": uid/gid 4294967301:0 out of range");
}

TEST_F(ApplyTest, DropsOverlayAndKilnXattrsFromLayers) {
  TarEntry d = Dir("d");
  d.xattrs["trusted.overlay.redirect"] = "/etc";
  d.xattrs["trusted.overlay.opaque"] = "y";
  d.xattrs["user.ok"] = "1";
  // Nor may it plant a content digest that COPY would trust.
  d.xattrs[kContentDigestXattr] = std::string(32, 'x');
  ASSERT_TRUE(Apply(MakeTar({{d, ""}}), WhiteoutMode::kOverlay));
  char buf[64];
  EXPECT_EQ(::getxattr(T("d").c_str(), kContentDigestXattr, buf, sizeof buf), -1);
  EXPECT_EQ(::getxattr(T("d").c_str(), "trusted.overlay.redirect", buf, sizeof buf), -1);
  EXPECT_EQ(::getxattr(T("d").c_str(), "trusted.overlay.opaque", buf, sizeof buf), -1);
  EXPECT_EQ(::getxattr(T("d").c_str(), "user.ok", buf, sizeof buf), 1);
}

TEST_F(ApplyTest, DirectoryReplacedLaterInTheSameLayer) {
  auto r = Apply(MakeTar({
      {Dir("d"), ""},
      {File("d/f", ""), ""},
      {File(".wh.d", ""), ""},
      {Dir("e"), ""},
      {File("e", "now a file"), "now a file"},
  }));
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(Snapshot(target_), "e 100644 0:0 t=1700000000 data=now a file\n");
}

TEST_F(ApplyTest, AbsoluteNamesStayInside) {
  auto r = Apply(MakeTar({{File("/../../etc/x", "a"), "a"}, {File("/abs", "b"), "b"}}));
  ASSERT_TRUE(r) << r.error().Render();
  EXPECT_EQ(*ReadFile(T("etc/x")), "a");
  EXPECT_EQ(*ReadFile(T("abs")), "b");
}

TEST_F(ApplyTest, RefusesRelativeTraversal) {
  EXPECT_EQ(ApplyError(MakeTar({{File("../../x", "a"), "a"}})),
            "layer sha256:test: entry 1 \"../../x\": path \"../../x\" escapes the layer root");
  EXPECT_EQ(ApplyError(MakeTar({{File("ok/../../../x", "a"), "a"}})),
            "layer sha256:test: entry 1 \"ok/../../../x\": path \"ok/../../../x\" escapes the layer root");
  EXPECT_FALSE(PathExists(outside_ + "/a/x"));
  EXPECT_FALSE(PathExists(outside_ + "/x"));
}

TEST_F(ApplyTest, RefusesWritingThroughSymlinkParent) {
  std::string layer = MakeTar({
      {Link("a", TarType::kSymlink, outside_), ""},
      {File("a/evil", "x"), "x"},
  });
  auto r = Apply(layer);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "layer sha256:test: entry 2 \"a/evil\": parent \"a\" is a symlink");
  EXPECT_EQ(r.error().context(), std::vector<std::string>{"applying layer sha256:test to " + target_});
  // Also a relative symlink climbing out, and one deeper in the path.
  EXPECT_EQ(ApplyError(MakeTar({
                {Dir("p"), ""},
                {Link("p/up", TarType::kSymlink, "../../../.."), ""},
                {File("p/up/sentinel", "x"), "x"},
            })),
            "layer sha256:test: entry 3 \"p/up/sentinel\": parent \"p/up\" is a symlink");
}

TEST_F(ApplyTest, RefusesEscapingHardLinks) {
  EXPECT_EQ(ApplyError(MakeTar({{Link("h", TarType::kHardLink, "/etc/passwd"), ""}})),
            "layer sha256:test: entry 1 \"h\": hard link target \"/etc/passwd\" not found");
  EXPECT_EQ(ApplyError(MakeTar({{Link("h", TarType::kHardLink, "../../../sentinel"), ""}})),
            "layer sha256:test: entry 1 \"h\": hard link target \"../../../sentinel\" escapes the "
            "layer root");
  // Through a symlink to a directory outside.
  EXPECT_EQ(ApplyError(MakeTar({
                {Link("out", TarType::kSymlink, outside_), ""},
                {Link("h", TarType::kHardLink, "out/sentinel"), ""},
            })),
            "layer sha256:test: entry 2 \"h\": parent \"out\" is a symlink");
  EXPECT_FALSE(PathExists(T("h")));
}

TEST_F(ApplyTest, HardLinkToSymlinkLinksTheSymlinkItself) {
  auto r = Apply(MakeTar({
      {Link("s", TarType::kSymlink, outside_ + "/sentinel"), ""},
      {Link("h", TarType::kHardLink, "s"), ""},
  }));
  ASSERT_TRUE(r) << r.error().Render();
  struct stat st;
  ASSERT_EQ(::lstat(T("h").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(ApplyTest, RefusesEscapingWhiteouts) {
  EXPECT_EQ(ApplyError(MakeTar({{File("../.wh.sentinel", ""), ""}})),
            "layer sha256:test: entry 1 \"../.wh.sentinel\": path \"../.wh.sentinel\" escapes the "
            "layer root");
  EXPECT_EQ(ApplyError(MakeTar({{File(".wh..", ""), ""}})),
            "layer sha256:test: entry 1 \".wh..\": invalid whiteout \".wh..\"");
  EXPECT_EQ(ApplyError(MakeTar({
                {Link("l", TarType::kSymlink, outside_), ""},
                {File("l/.wh.sentinel", ""), ""},
            })),
            "layer sha256:test: entry 2 \"l/.wh.sentinel\": parent \"l\" is a symlink");
}

TEST_F(ApplyTest, RefusesCorruptStreams) {
  std::string good = MakeTar({{File("a", "hello"), "hello"}, {File("b", "world"), "world"}});
  EXPECT_EQ(ApplyError(good.substr(0, 1024 + 514)), "layer sha256:test: entry 2 \"b\": truncated data");
  std::string bad = good;
  bad[1024 + 148] ^= 1;  // checksum of the second header
  EXPECT_EQ(ApplyError(bad), "layer sha256:test: entry 2 \"b\": header checksum mismatch");
  std::string huge = good;
  std::string field(12, '\0');
  field[0] = '\x80';
  field[5] = '\x04';  // 2^50
  huge.replace(124, 12, field);
  char* b = huge.data();
  std::memset(b + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(b[i]);
  std::string s = fmt::format("{:06o}", sum);
  std::memcpy(b + 148, s.data(), 6);
  b[154] = '\0';
  EXPECT_EQ(ApplyError(huge), "layer sha256:test: entry 1 \"a\": absurd size 1125899906842624");
}

TEST_F(ApplyTest, TruncatedGzipLayer) {
  std::string src = tmp_->path() + "/src";
  ASSERT_TRUE(MakeDirs(src));
  std::string noise;
  uint32_t x = 1;
  for (int i = 0; i < 200000; ++i) noise += static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  Write(src + "/f", noise);
  std::string layer;
  StringSink sink(layer);
  ASSERT_TRUE(WriteLayerFromDir(src, sink, LayerWriteOptions{}));
  EXPECT_EQ(ApplyError(layer.substr(0, layer.size() / 2)),
            "layer sha256:test: entry 1 \"f\": gzip: truncated stream");
}

}  // namespace
}  // namespace kiln::archive
