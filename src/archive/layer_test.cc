#include "archive/layer.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "archive/testing_util.h"

namespace kiln::archive {
namespace {

using testing::Check;
using testing::Member;
using testing::SetTime;
using testing::Write;

class LayerWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("kiln-layer-test");
    ASSERT_TRUE(t);
    tmp_ = std::make_unique<TempDir>(std::move(*t));
  }

  std::string P(std::string_view rel) const { return JoinPath(tmp_->path(), rel); }

  // A tree exercising every file type kiln archives.
  void MakeTree(const std::string& root) {
    ASSERT_TRUE(MakeDirs(root + "/etc/sub"));
    ASSERT_TRUE(MakeDirs(root + "/bin"));
    Write(root + "/etc/hosts", "127.0.0.1 localhost\n", 0644);
    Write(root + "/etc/sub/secret", "s3cr3t", 0600);
    Write(root + "/bin/su", "#!/bin/sh\n", 04755);
    Check(::link((root + "/bin/su").c_str(), (root + "/bin/su-again").c_str()), "link");
    Check(::symlink("../etc/hosts", (root + "/bin/hosts-link").c_str()), "symlink");
    Check(::mknod((root + "/etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), "mknod");
    Check(::mknod((root + "/etc/loop").c_str(), S_IFBLK | 0660, makedev(7, 0)), "mknod");
    Check(::mkfifo((root + "/etc/fifo").c_str(), 0620), "mkfifo");
    for (auto [p, m] : {std::pair{"/etc/null", 0666}, {"/etc/loop", 0660}, {"/etc/fifo", 0620}})
      Check(::chmod((root + p).c_str(), m), "chmod");
    Check(::chown((root + "/etc/sub/secret").c_str(), 1000, 1001), "chown");
    Check(::lchown((root + "/bin/hosts-link").c_str(), 5, 6), "lchown");
    std::string cap("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);
    Check(::setxattr((root + "/bin/su").c_str(), "security.capability", cap.data(), cap.size(), 0), "setxattr");
    Check(::setxattr((root + "/etc/hosts").c_str(), "user.origin", "test", 4, 0), "setxattr");
    Check(::chmod((root + "/bin").c_str(), 0711), "chmod");
    for (const char* p : {"/etc/hosts", "/etc/sub/secret", "/bin/su", "/bin/hosts-link", "/etc/null",
                          "/etc/loop", "/etc/fifo", "/etc/sub", "/etc", "/bin"})
      SetTime(root + p, 1600000000);
  }

  std::unique_ptr<TempDir> tmp_;
};

std::vector<std::string> Listing(const std::string& tar) {
  auto members = testing::ReadTar(tar);
  EXPECT_TRUE(members) << members.error().Render();
  std::vector<std::string> out;
  for (const Member& m : *members) {
    const TarEntry& e = m.entry;
    std::string line = fmt::format("{} {} {:o} {}:{} t={}", e.path, TarTypeName(e.type), e.mode,
                                   e.uid, e.gid, e.mtime);
    if (e.type == TarType::kFile) line += " data=" + m.data;
    if (!e.link_target.empty()) line += " -> " + e.link_target;
    if (e.type == TarType::kCharDevice || e.type == TarType::kBlockDevice)
      line += fmt::format(" dev={}:{}", e.dev_major, e.dev_minor);
    for (auto& [k, v] : e.xattrs) line += fmt::format(" {}={}", k, HexEncode(v));
    out.push_back(line);
  }
  return out;
}

LayerWriteOptions Uncompressed() {
  LayerWriteOptions o;
  o.compression.compression = Compression::kNone;
  return o;
}

// Uncompressed with a worker thread, big files' data is read and hashed
// on that thread; the bytes and digests are the ones the caller's thread
// alone writes.
TEST_F(LayerWriteTest, WorkerReadBigFilesGiveTheSameLayer) {
  ASSERT_TRUE(MakeDirs(P("big/a")));
  std::string big(3 << 20, 'q');
  big[12345] = 'x';
  Write(P("big/a/one.bin"), big, 0644);
  Write(P("big/a/small.txt"), "small", 0644);
  Write(P("big/two.bin"), std::string((1 << 20) + 7, 'w'), 0600);
  Write(P("big/z.txt"), "last", 0644);
  for (const char* p : {"big/a/one.bin", "big/a/small.txt", "big/two.bin", "big/z.txt", "big/a"})
    SetTime(P(p), 1600000000);
  LayerWriteOptions inline_only = Uncompressed();
  inline_only.compression.threads = 0;
  std::string want, got;
  StringSink want_sink(want), got_sink(got);
  auto w = WriteLayerFromDir(P("big"), want_sink, inline_only);
  auto g = WriteLayerFromDir(P("big"), got_sink, Uncompressed());
  ASSERT_TRUE(w) << w.error().Render();
  ASSERT_TRUE(g) << g.error().Render();
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want);
  EXPECT_EQ(g->diff_id, Digest::Of(want));
  EXPECT_EQ(g->diff_id, w->diff_id);
  EXPECT_EQ(g->size, w->size);
  EXPECT_EQ(g->file_bytes, static_cast<int64_t>(big.size() + 5 + (1 << 20) + 7 + 4));
}

TEST_F(LayerWriteTest, DirTreeEntriesInOrder) {
  MakeTree(P("root"));
  std::string tar;
  StringSink sink(tar);
  auto info = WriteLayerFromDir(P("root"), sink, Uncompressed());
  ASSERT_TRUE(info) << info.error().Render();
  EXPECT_EQ(info->entries, 11);
  // hosts, secret, su and its second name: per path, as a snapshot's size.
  EXPECT_EQ(info->file_bytes, 20 + 6 + 10 + 10);
  EXPECT_EQ(info->diff_id, Digest::Of(tar));
  EXPECT_EQ(info->digest, info->diff_id);
  EXPECT_EQ(info->size, static_cast<int64_t>(tar.size()));
  std::vector<std::string> want = {
      "bin directory 711 0:0 t=1600000000",
      "bin/hosts-link symlink 777 5:6 t=1600000000 -> ../etc/hosts",
      "bin/su file 4755 0:0 t=1600000000 data=#!/bin/sh\n"
      " security.capability=0100000200200000000000000000000000000000",
      "bin/su-again hard link 4755 0:0 t=1600000000 -> bin/su",
      "etc directory 755 0:0 t=1600000000",
      "etc/fifo fifo 620 0:0 t=1600000000",
      "etc/hosts file 644 0:0 t=1600000000 data=127.0.0.1 localhost\n user.origin=74657374",
      "etc/loop block device 660 0:0 t=1600000000 dev=7:0",
      "etc/null char device 666 0:0 t=1600000000 dev=1:3",
      "etc/sub directory 755 0:0 t=1600000000",
      "etc/sub/secret file 600 1000:1001 t=1600000000 data=s3cr3t",
  };
  EXPECT_EQ(Listing(tar), want);
}

TEST_F(LayerWriteTest, SameTreeSameDigestAndGolden) {
  MakeTree(P("a"));
  MakeTree(P("b"));
  std::vector<Digest> digests;
  for (const char* root : {"a", "a", "b"}) {
    NullSink sink;
    LayerWriteOptions o;  // gzip, 2 threads
    auto info = WriteLayerFromDir(P(root), sink, o);
    ASSERT_TRUE(info) << info.error().Render();
    digests.push_back(info->digest);
    // The uncompressed tar is pinned: a change here changes every layer
    // digest kiln produces, which breaks cache hits across versions.
    EXPECT_EQ(info->diff_id.str(),
              "sha256:ed3e606d37adb0ee8ffb7e865be454be4d5c78ecead3b39269bc549bbf6c7ae5");
  }
  EXPECT_EQ(digests[0], digests[1]);
  EXPECT_EQ(digests[0], digests[2]);
}

TEST_F(LayerWriteTest, ExcludeAndClampMtime) {
  MakeTree(P("root"));
  LayerWriteOptions o = Uncompressed();
  o.exclude = ExcludePaths({"/etc/sub", "bin/su-again", "etc/fifo"});
  o.clamp_mtime = 1500000000;
  std::string tar;
  StringSink sink(tar);
  ASSERT_TRUE(WriteLayerFromDir(P("root"), sink, o));
  std::vector<std::string> paths;
  auto members = testing::ReadTar(tar);
  ASSERT_TRUE(members) << members.error().Render();
  for (auto& m : *members) {
    paths.push_back(m.entry.path);
    EXPECT_EQ(m.entry.mtime, 1500000000) << m.entry.path;
  }
  std::vector<std::string> want = {"bin", "bin/hosts-link", "bin/su", "etc", "etc/hosts", "etc/loop",
                                   "etc/null"};
  EXPECT_EQ(paths, want);
}

TEST_F(LayerWriteTest, OverlayUpperDirWhiteouts) {
  std::string up = P("upper");
  ASSERT_TRUE(MakeDirs(up + "/d/inner"));
  Write(up + "/d/keep", "k");
  Check(::mknod((up + "/gone").c_str(), S_IFCHR | 0, makedev(0, 0)), "mknod whiteout");
  Check(::mknod((up + "/d/inner/old").c_str(), S_IFCHR | 0, makedev(0, 0)), "mknod whiteout");
  Check(::setxattr((up + "/d").c_str(), "trusted.overlay.opaque", "y", 1, 0), "setxattr");
  Check(::setxattr((up + "/d").c_str(), "user.keep", "1", 1, 0), "setxattr");
  Check(::setxattr((up + "/d/keep").c_str(), "trusted.overlay.origin", "x", 1, 0), "setxattr");
  // COPY's content digest (solver/copy.h) is kiln's bookkeeping, not the file's.
  Check(::setxattr((up + "/d/keep").c_str(), kContentDigestXattr, "0123456789abcdef0123456789abcdef", 32, 0),
        "setxattr");
  for (const char* p : {"/d/keep", "/gone", "/d/inner/old", "/d/inner", "/d"}) SetTime(up + p, 1600000000);
  std::string tar;
  StringSink sink(tar);
  auto info = WriteLayerFromUpperDir(up, sink, Uncompressed());
  ASSERT_TRUE(info) << info.error().Render();
  std::vector<std::string> want = {
      "d directory 755 0:0 t=1600000000 user.keep=31",
      "d/.wh..wh..opq file 0 0:0 t=1600000000 data=",
      "d/inner directory 755 0:0 t=1600000000",
      "d/inner/.wh.old file 0 0:0 t=1600000000 data=",
      "d/keep file 644 0:0 t=1600000000 data=k",
      ".wh.gone file 0 0:0 t=1600000000 data=",
  };
  EXPECT_EQ(Listing(tar), want);

  // The same dir read as a plain tree keeps the device and drops nothing
  // but overlay and kiln xattrs.
  std::string plain;
  StringSink plain_sink(plain);
  ASSERT_TRUE(WriteLayerFromDir(up, plain_sink, Uncompressed()));
  std::vector<std::string> want_plain = {
      "d directory 755 0:0 t=1600000000 user.keep=31",
      "d/inner directory 755 0:0 t=1600000000",
      "d/inner/old char device 0 0:0 t=1600000000 dev=0:0",
      "d/keep file 644 0:0 t=1600000000 data=k",
      "gone char device 0 0:0 t=1600000000 dev=0:0",
  };
  EXPECT_EQ(Listing(plain), want_plain);
}

TEST_F(LayerWriteTest, RedirectDirIsUnsupported) {
  std::string up = P("upper");
  ASSERT_TRUE(MakeDirs(up + "/moved"));
  Check(::setxattr((up + "/moved").c_str(), "trusted.overlay.redirect", "/orig", 5, 0), "setxattr");
  NullSink sink;
  auto info = WriteLayerFromUpperDir(up, sink, LayerWriteOptions{});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(info.error().message(),
            up + "/moved: overlay trusted.overlay.redirect is not supported (mount without "
                 "redirect_dir/metacopy)");
  EXPECT_EQ(info.error().context(), std::vector<std::string>{"writing a layer from upper dir " + up});
}

TEST_F(LayerWriteTest, MissingDirIsNotFound) {
  NullSink sink;
  auto info = WriteLayerFromDir(P("nope"), sink, LayerWriteOptions{});
  ASSERT_FALSE(info);
  EXPECT_EQ(info.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(info.error().message(), "open " + P("nope") + ": No such file or directory");
}

}  // namespace
}  // namespace kiln::archive
