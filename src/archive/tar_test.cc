#include "archive/tar.h"

#include <archive.h>
#include <archive_entry.h>

#include <cstring>

#include <gtest/gtest.h>

#include "archive/testing_util.h"

namespace kiln::archive {
namespace {

using testing::Dir;
using testing::File;
using testing::Link;
using testing::MakeTar;
using testing::Member;
using testing::ReadTar;

// Recomputes a header's checksum after a test edits it.
void FixChecksum(std::string& tar, size_t offset = 0) {
  char* b = tar.data() + offset;
  std::memset(b + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(b[i]);
  std::string s = fmt::format("{:06o}", sum);
  std::memcpy(b + 148, s.data(), 6);
  b[154] = '\0';
  b[155] = ' ';
}

std::string ErrorOf(std::string_view tar) {
  auto r = ReadTar(tar);
  if (r) return "no error";
  return r.error().message();
}

std::vector<Member> AllTypes() {
  TarEntry f = File("dir/file.txt", "hello\n", 04755);
  f.uid = 1000;
  f.gid = 2000;
  f.xattrs["security.capability"] = std::string("\x01\x00\x00\x02\x00\x04\x00\x00", 8);
  f.xattrs["user.note"] = "a=b\nc";
  TarEntry big_ids = File("ids", "x");
  big_ids.uid = 3000000;
  big_ids.gid = 4000000000;
  TarEntry old = File("old", "");
  old.mtime = -1;
  TarEntry chr;
  chr.path = "dev/null";
  chr.type = TarType::kCharDevice;
  chr.mode = 0666;
  chr.dev_major = 1;
  chr.dev_minor = 3;
  chr.mtime = 1700000000;
  TarEntry blk = chr;
  blk.path = "dev/sda";
  blk.type = TarType::kBlockDevice;
  blk.dev_major = 8;
  blk.dev_minor = 0;
  TarEntry fifo;
  fifo.path = "dev/fifo";
  fifo.type = TarType::kFifo;
  fifo.mode = 0600;
  fifo.mtime = 5;
  std::string long_dir(120, 'd');
  std::string long_name = long_dir + "/" + std::string(150, 'n');
  return {
      {Dir("dir", 0750), ""},
      {f, "hello\n"},
      {Link("dir/hard", TarType::kHardLink, "dir/file.txt"), ""},
      {Link("dir/sym", TarType::kSymlink, "../" + std::string(200, 't')), ""},
      {big_ids, "x"},
      {old, ""},
      {chr, ""},
      {blk, ""},
      {fifo, ""},
      {Dir(long_dir), ""},
      {File(long_name, "long"), "long"},
  };
}

TEST(TarWriterTest, UstarHeaderBytes) {
  TarEntry e = File("hello.txt", "hi\n");
  e.uid = 1000;
  e.gid = 1000;
  std::string tar = MakeTar({{e, "hi\n"}});
  ASSERT_EQ(tar.size(), 2048u);
  std::string h = tar.substr(0, 512);
  EXPECT_EQ(h.substr(0, 100), "hello.txt" + std::string(91, '\0'));
  EXPECT_EQ(h.substr(100, 8), std::string("0000644\0", 8));
  EXPECT_EQ(h.substr(108, 8), std::string("0001750\0", 8));
  EXPECT_EQ(h.substr(116, 8), std::string("0001750\0", 8));
  EXPECT_EQ(h.substr(124, 12), std::string("00000000003\0", 12));
  EXPECT_EQ(h.substr(136, 12), std::string("14524770400\0", 12));
  EXPECT_EQ(h[156], '0');
  EXPECT_EQ(h.substr(157, 100), std::string(100, '\0'));
  EXPECT_EQ(h.substr(257, 8), std::string("ustar\0" "00", 8));
  // uname/gname stay empty: numeric ids only.
  EXPECT_EQ(h.substr(265, 64), std::string(64, '\0'));
  std::string copy = tar;
  FixChecksum(copy);
  EXPECT_EQ(copy.substr(148, 8), h.substr(148, 8));
  EXPECT_EQ(tar.substr(512, 512), "hi\n" + std::string(509, '\0'));
  EXPECT_EQ(tar.substr(1024), std::string(1024, '\0'));
}

TEST(TarWriterTest, DirectoryGetsTrailingSlash) {
  std::string tar = MakeTar({{Dir("a/b"), ""}});
  EXPECT_EQ(tar.substr(0, 5), std::string("a/b/\0", 5));
  EXPECT_EQ(tar[156], '5');
}

TEST(TarWriterTest, PaxRecordsForWhatUstarCannotHold) {
  TarEntry e = File(std::string(101, 'p'), "");
  e.uid = 3000000;
  e.xattrs["user.a"] = "1";
  std::string tar = MakeTar({{e, ""}});
  EXPECT_EQ(tar[156], 'x');
  std::string expected = "111 path=" + std::string(101, 'p') + "\n" + "15 uid=3000000\n" +
                         "25 SCHILY.xattr.user.a=1\n";
  EXPECT_EQ(tar.substr(512, expected.size()), expected);
  EXPECT_EQ(tar.substr(512 + expected.size(), 1), std::string(1, '\0'));
  // The ustar header that follows has an empty name and uid 0.
  EXPECT_EQ(tar.substr(1024, 1), std::string(1, '\0'));
  EXPECT_EQ(tar.substr(1024 + 108, 8), std::string("0000000\0", 8));
}

TEST(TarWriterTest, LargeFileSizeGoesToPax) {
  std::string out;
  StringSink sink(out);
  TarWriter w(sink);
  TarEntry e = File("big", "");
  e.size = int64_t{9} << 30;
  ASSERT_TRUE(w.WriteHeader(e));
  auto r = w.Finish();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "tar entry \"big\": 9663676416 bytes of data missing");
  // Write enough data to force the buffered headers out, then read them.
  std::string tar;
  StringSink sink2(tar);
  TarWriter w2(sink2);
  ASSERT_TRUE(w2.WriteHeader(e));
  ASSERT_TRUE(w2.WriteData(std::string(300 * 1024, 'x')));
  ASSERT_GE(tar.size(), 1536u);
  EXPECT_NE(tar.find("19 size=9663676416\n"), std::string::npos);
  StringSource src(tar);
  TarReader reader(src, "test");
  auto next = reader.Next();
  ASSERT_TRUE(next) << next.error().message();
  EXPECT_EQ((*next)->size, int64_t{9} << 30);
}

TEST(TarWriterTest, RejectsDataBeyondDeclaredSize) {
  std::string out;
  StringSink sink(out);
  TarWriter w(sink);
  ASSERT_TRUE(w.WriteHeader(File("a", "12")));
  auto r = w.WriteData("123");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "tar entry \"a\": more data than its declared size");
  ASSERT_TRUE(w.WriteData("1"));
  auto h = w.WriteHeader(File("b", ""));
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().message(), "tar entry \"a\": 1 bytes of data missing");
}

TEST(TarRoundTripTest, AllTypesSurviveWriteAndRead) {
  std::vector<Member> in = AllTypes();
  auto out = ReadTar(MakeTar(in));
  ASSERT_TRUE(out) << out.error().Render();
  ASSERT_EQ(out->size(), in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    TarEntry want = in[i].entry;
    if (want.type != TarType::kFile) want.size = 0;
    EXPECT_EQ((*out)[i].entry, want) << "entry " << i << " " << want.path;
    EXPECT_EQ((*out)[i].data, in[i].data) << want.path;
  }
}

TEST(TarRoundTripTest, OutputIsDeterministic) {
  EXPECT_EQ(Digest::Of(MakeTar(AllTypes())), Digest::Of(MakeTar(AllTypes())));
  EXPECT_EQ(Digest::Of(MakeTar(AllTypes())).str(),
            "sha256:40b316d16ee4bb547f4e35f68b815b9eb9fea6820faf32cca90ce09a4fc632fd");
}

// libarchive is an independent reader: what we write must mean the same
// to it.
TEST(TarInteropTest, LibarchiveReadsOurOutput) {
  std::string tar = MakeTar(AllTypes());
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  std::vector<std::string> seen;
  struct archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string line = fmt::format("{} {:o} {}:{} {} t={}", archive_entry_pathname(e),
                                   archive_entry_mode(e), archive_entry_uid(e),
                                   archive_entry_gid(e), archive_entry_size(e), archive_entry_mtime(e));
    if (archive_entry_symlink(e)) line += fmt::format(" sym={}", strlen(archive_entry_symlink(e)));
    if (archive_entry_hardlink(e)) line += fmt::format(" hard={}", archive_entry_hardlink(e));
    if (archive_entry_filetype(e) == AE_IFCHR || archive_entry_filetype(e) == AE_IFBLK)
      line += fmt::format(" dev={}:{}", archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    const char* name;
    const void* value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
      line += fmt::format(" {}={}", name, HexEncode(std::string_view(static_cast<const char*>(value), size)));
    seen.push_back(line);
  }
  archive_read_free(a);
  std::string long_dir(120, 'd');
  std::vector<std::string> want = {
      "dir/ 40750 0:0 0 t=1700000000",
      // (libarchive lists xattrs in its own order.)
      "dir/file.txt 104755 1000:2000 6 t=1700000000 user.note=613d620a63 "
      "security.capability=0100000200040000",
      // libarchive reports no file type for hard links.
      "dir/hard 777 0:0 0 t=1700000000 hard=dir/file.txt",
      "dir/sym 120777 0:0 0 t=1700000000 sym=203",
      "ids 100644 3000000:4000000000 1 t=1700000000",
      "old 100644 0:0 0 t=-1",
      "dev/null 20666 0:0 0 t=1700000000 dev=1:3",
      "dev/sda 60666 0:0 0 t=1700000000 dev=8:0",
      "dev/fifo 10600 0:0 0 t=5",
      long_dir + "/ 40755 0:0 0 t=1700000000",
      long_dir + "/" + std::string(150, 'n') + " 100644 0:0 4 t=1700000000",
  };
  EXPECT_EQ(seen, want);
}

// Archives written by libarchive in GNU format (././@LongLink entries)
// and restricted PAX format must read back the same.
TEST(TarInteropTest, ReadsGnuAndPaxArchivesFromLibarchive) {
  for (bool gnu : {true, false}) {
    std::vector<char> buf(1 << 20);
    size_t used = 0;
    struct archive* a = archive_write_new();
    if (gnu) archive_write_set_format_gnutar(a);
    else archive_write_set_format_pax_restricted(a);
    ASSERT_EQ(archive_write_open_memory(a, buf.data(), buf.size(), &used), ARCHIVE_OK);
    std::string name = std::string(150, 'a') + "/" + std::string(60, 'b');
    std::string target = std::string(130, 't');
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0640);
    archive_entry_set_uid(e, 7);
    archive_entry_set_gid(e, 8);
    archive_entry_set_size(e, 5);
    archive_entry_set_mtime(e, 1234567890, 0);
    if (!gnu) archive_entry_xattr_add_entry(e, "user.k", "v", 1);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    ASSERT_EQ(archive_write_data(a, "hello", 5), 5);
    archive_entry_clear(e);
    archive_entry_set_pathname(e, "link");
    archive_entry_set_filetype(e, AE_IFLNK);
    archive_entry_set_perm(e, 0777);
    archive_entry_set_symlink(e, target.c_str());
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);

    auto out = ReadTar(std::string_view(buf.data(), used));
    ASSERT_TRUE(out) << out.error().Render();
    ASSERT_EQ(out->size(), 2u) << gnu;
    const TarEntry& f = (*out)[0].entry;
    EXPECT_EQ(f.path, name);
    EXPECT_EQ(f.mode, 0640u);
    EXPECT_EQ(f.uid, 7);
    EXPECT_EQ(f.gid, 8);
    EXPECT_EQ(f.mtime, 1234567890);
    EXPECT_EQ((*out)[0].data, "hello");
    if (!gnu) {
      std::map<std::string, std::string> want{{"user.k", "v"}};
      EXPECT_EQ(f.xattrs, want);
    }
    EXPECT_EQ((*out)[1].entry.type, TarType::kSymlink);
    EXPECT_EQ((*out)[1].entry.link_target, target);
  }
}

TEST(TarReaderTest, SkipsUnreadDataAndAcceptsMissingTrailer) {
  std::string tar = MakeTar({{File("a", "aaaa"), "aaaa"}, {File("b", "bb"), "bb"}});
  tar.resize(tar.size() - 1024);  // no end-of-archive blocks
  StringSource src(tar);
  TarReader r(src, "test");
  auto a = r.Next();
  ASSERT_TRUE(a && *a);
  auto b = r.Next();
  ASSERT_TRUE(b && *b) << (b ? "" : b.error().message());
  EXPECT_EQ((*b)->path, "b");
  EXPECT_EQ(r.entry_index(), 2);
  auto end = r.Next();
  ASSERT_TRUE(end);
  EXPECT_FALSE(*end);
}

TEST(TarReaderTest, StripsDotSlashAndTrailingSlash) {
  std::string tar = MakeTar({{Dir("./x/"), ""}, {File("./x/y", ""), ""}});
  auto out = ReadTar(tar);
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0].entry.path, "x");
  EXPECT_EQ((*out)[1].entry.path, "x/y");
}

TEST(TarReaderTest, GlobalPaxHeaderAppliesToLaterMembersExceptNames) {
  TarEntry e = File(std::string(101, 'p'), "");
  e.xattrs["user.a"] = "1";
  std::string global = MakeTar({{e, ""}}).substr(0, 1024);  // the 'x' header and its records
  global[156] = 'g';
  FixChecksum(global);
  auto out = ReadTar(global + MakeTar({{File("a", "1"), "1"}, {File("b", ""), ""}}));
  ASSERT_TRUE(out) << out.error().Render();
  ASSERT_EQ(out->size(), 2u);
  std::map<std::string, std::string> want{{"user.a", "1"}};
  EXPECT_EQ((*out)[0].entry.path, "a");
  EXPECT_EQ((*out)[0].entry.xattrs, want);
  EXPECT_EQ((*out)[0].data, "1");
  EXPECT_EQ((*out)[1].entry.path, "b");
  EXPECT_EQ((*out)[1].entry.xattrs, want);
}

TEST(TarWriterTest, RejectsNulInNames) {
  std::string out;
  StringSink sink(out);
  TarWriter w(sink);
  auto r = w.WriteHeader(Link("l", TarType::kSymlink, std::string("a\0b", 3)));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "tar entry \"l\": NUL byte in name or link target");
}

TEST(TarReaderTest, BadChecksum) {
  std::string tar = MakeTar({{File("hello.txt", "hi"), "hi"}});
  tar[4] = 'p';
  EXPECT_EQ(ErrorOf(tar), "test: entry 1 \"hellp.txt\": header checksum mismatch");
}

TEST(TarReaderTest, TruncatedData) {
  std::string tar = MakeTar({{File("a/b", "hello"), "hello"}});
  EXPECT_EQ(ErrorOf(tar.substr(0, 514)), "test: entry 1 \"a/b\": truncated data");
  // Data complete but the padding cut off.
  EXPECT_EQ(ErrorOf(tar.substr(0, 600)), "test: entry 1 \"a/b\": truncated data");
}

TEST(TarReaderTest, TruncatedHeader) {
  std::string tar = MakeTar({{File("a", "x"), "x"}, {File("b", "y"), "y"}});
  EXPECT_EQ(ErrorOf(tar.substr(0, 1024 + 100)), "test: entry 2: truncated header");
}

TEST(TarReaderTest, NonOctalSize) {
  std::string tar = MakeTar({{File("hello.txt", "hi"), "hi"}});
  tar[124 + 7] = 'x';
  FixChecksum(tar);
  EXPECT_EQ(ErrorOf(tar),
            "test: entry 1 \"hello.txt\": non-octal size field \"0000000x002\\x00\"");
}

TEST(TarReaderTest, AbsurdBase256Size) {
  std::string tar = MakeTar({{File("hello.txt", ""), ""}});
  std::string field(12, '\0');
  field[0] = '\x80';
  field[5] = '\x04';  // 4 << 48 = 2^50
  tar.replace(124, 12, field);
  FixChecksum(tar);
  EXPECT_EQ(ErrorOf(tar), "test: entry 1 \"hello.txt\": absurd size 1125899906842624");
}

TEST(TarReaderTest, NegativeBase256Size) {
  std::string tar = MakeTar({{File("hello.txt", ""), ""}});
  tar.replace(124, 12, std::string(12, '\xff'));
  FixChecksum(tar);
  EXPECT_EQ(ErrorOf(tar), "test: entry 1 \"hello.txt\": negative size field");
}

TEST(TarReaderTest, UnsupportedType) {
  std::string tar = MakeTar({{File("sparse", ""), ""}});
  tar[156] = 'S';
  FixChecksum(tar);
  auto r = ReadTar(tar);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(r.error().message(), "test: entry 1 \"sparse\": unsupported entry type \"S\"");
}

TEST(TarReaderTest, OversizedPaxHeader) {
  std::string tar = MakeTar({{File("p", ""), ""}});
  tar[156] = 'x';
  tar.replace(124, 12, std::string("00010000000\0", 12));  // 2 MiB
  FixChecksum(tar);
  EXPECT_EQ(ErrorOf(tar), "test: entry 1: PAX header of 2097152 bytes is too large");
}

TEST(TarReaderTest, MalformedPaxRecord) {
  TarEntry e = File("p", "");
  e.xattrs["user.a"] = "1";
  std::string tar = MakeTar({{e, ""}});
  ASSERT_EQ(tar.substr(512, 3), "25 ");
  tar[512] = '9';  // record length past the data
  EXPECT_EQ(ErrorOf(tar), "test: entry 1: malformed PAX record");
}

TEST(TarReaderTest, DataAfterEndOfArchive) {
  std::string tar = MakeTar({{File("a", ""), ""}});
  tar.replace(tar.size() - 512, 1, "x");
  EXPECT_EQ(ErrorOf(tar), "test: entry 2: data after end-of-archive block");
}

TEST(TarReaderTest, ReportsSourceErrorsWithEntry) {
  class FailingSource : public ByteSource {
   public:
    Result<size_t> Read(std::span<char>) override { return Fail(Error::Invalid("gzip: boom")); }
  } src;
  TarReader r(src, "layer sha256:ab");
  auto n = r.Next();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().message(), "layer sha256:ab: entry 1: gzip: boom");
}

}  // namespace
}  // namespace kiln::archive
