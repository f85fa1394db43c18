#include "archive/compression.h"

#include <zlib.h>

#include <gtest/gtest.h>

namespace kiln::archive {
namespace {

// Deterministic, partly compressible test data.
std::string Data(size_t n) {
  std::string s;
  s.reserve(n);
  uint32_t x = 12345;
  while (s.size() < n) {
    x = x * 1103515245 + 12345;
    if (x & 0x10000) s += fmt::format("line {} of the test data\n", x % 1000);
    else s += static_cast<char>(x >> 24);
  }
  s.resize(n);
  return s;
}

struct Compressed {
  std::string bytes;
  BlobDigests digests;
};

Compressed Compress(std::string_view in, CompressionOptions o, size_t write_size = 1000) {
  Compressed c;
  StringSink sink(c.bytes);
  auto s = CompressingSink::Create(sink, o);
  EXPECT_TRUE(s) << s.error().message();
  for (size_t i = 0; i < in.size(); i += write_size) {
    auto r = (*s)->Write(in.substr(i, write_size));
    EXPECT_TRUE(r) << r.error().message();
  }
  auto d = (*s)->Close();
  EXPECT_TRUE(d) << d.error().message();
  c.digests = *d;
  return c;
}

Result<std::string> Decompress(std::string_view in, size_t read_size = 777) {
  StringSource src(in);
  KILN_TRY_ASSIGN(auto d, OpenDecompressor(src));
  std::string out, buf(read_size, '\0');
  while (true) {
    KILN_TRY_ASSIGN(size_t n, d->Read(std::span<char>(buf.data(), buf.size())));
    if (n == 0) return out;
    out.append(buf.data(), n);
  }
}

// zlib's own gunzip, as an independent decoder of multi-member gzip.
std::string ZlibGunzip(std::string_view in) {
  std::string out;
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = in.size();
  char buf[65536];
  while (true) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof buf;
    int rc = inflate(&z, Z_NO_FLUSH);
    out.append(buf, sizeof buf - z.avail_out);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0) break;
      inflateReset(&z);
    } else if (rc != Z_OK) {
      ADD_FAILURE() << "inflate: " << rc;
      break;
    }
  }
  inflateEnd(&z);
  return out;
}

TEST(CompressionTest, GzipRoundTripWithDigests) {
  std::string in = Data(300000);
  CompressionOptions o{Compression::kGzip, 0, 64 * 1024, 2};
  Compressed c = Compress(in, o);
  EXPECT_EQ(c.bytes.substr(0, 3), "\x1f\x8b\x08");
  EXPECT_LT(c.bytes.size(), in.size());
  EXPECT_EQ(c.digests.diff_id, Digest::Of(in));
  EXPECT_EQ(c.digests.uncompressed_size, in.size());
  EXPECT_EQ(c.digests.digest, Digest::Of(c.bytes));
  EXPECT_EQ(c.digests.size, c.bytes.size());
  auto out = Decompress(c.bytes);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, in);
  EXPECT_EQ(ZlibGunzip(c.bytes), in);
}

TEST(CompressionTest, OutputDoesNotDependOnThreadsOrWriteSizes) {
  std::string in = Data(200000);
  for (Compression comp : {Compression::kGzip, Compression::kZstd}) {
    Compressed a = Compress(in, {comp, 0, 50000, 0}, 1);
    Compressed b = Compress(in, {comp, 0, 50000, 3}, 65536);
    EXPECT_EQ(a.digests.digest, b.digests.digest) << CompressionName(comp);
    EXPECT_EQ(a.bytes, b.bytes);
  }
}

TEST(CompressionTest, ZstdRoundTrip) {
  std::string in = Data(250000);
  Compressed c = Compress(in, {Compression::kZstd, 0, 100000, 2});
  EXPECT_EQ(c.bytes.substr(0, 4), "\x28\xb5\x2f\xfd");
  auto out = Decompress(c.bytes, 4096);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, in);
  EXPECT_EQ(c.digests.diff_id, Digest::Of(in));
  EXPECT_EQ(c.digests.digest, Digest::Of(c.bytes));
}

TEST(CompressionTest, NonePassesThrough) {
  std::string in = Data(10000);
  Compressed c = Compress(in, {Compression::kNone, 0, 4096, 2});
  EXPECT_EQ(c.bytes, in);
  EXPECT_EQ(c.digests.digest, c.digests.diff_id);
  auto out = Decompress(in);
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, in);
}

TEST(CompressionTest, EmptyInputIsStillValidGzipAndZstd) {
  for (Compression comp : {Compression::kGzip, Compression::kZstd}) {
    Compressed c = Compress("", {comp, 0, 1024, 2});
    EXPECT_FALSE(c.bytes.empty());
    EXPECT_EQ(SniffCompression(c.bytes), comp);
    auto out = Decompress(c.bytes);
    ASSERT_TRUE(out) << out.error().message();
    EXPECT_EQ(*out, "");
  }
  auto empty = Decompress("");
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, "");
}

TEST(CompressionTest, TruncatedStreamsAreErrors) {
  std::string in = Data(100000);
  Compressed gz = Compress(in, {Compression::kGzip, 0, 1 << 20, 0});
  auto r = Decompress(gz.bytes.substr(0, gz.bytes.size() / 2));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "gzip: truncated stream");
  // Missing only the trailer (CRC and size).
  r = Decompress(gz.bytes.substr(0, gz.bytes.size() - 4));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "gzip: truncated stream");

  Compressed zs = Compress(in, {Compression::kZstd, 0, 1 << 20, 0});
  r = Decompress(zs.bytes.substr(0, zs.bytes.size() - 10));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "zstd: truncated stream");
}

TEST(CompressionTest, CorruptStreamsAreErrors) {
  std::string in = Data(100000);
  Compressed gz = Compress(in, {Compression::kGzip, 0, 1 << 20, 0});
  gz.bytes[gz.bytes.size() - 6] ^= 0x55;  // CRC32
  auto r = Decompress(gz.bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "gzip: incorrect data check");
  Compressed gz2 = Compress(in, {Compression::kGzip, 0, 1 << 20, 0});
  r = Decompress(gz2.bytes + "garbage!");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "gzip: incorrect header check");
}

TEST(CompressionTest, ParseAndBadLevels) {
  EXPECT_EQ(*ParseCompression("zstd"), Compression::kZstd);
  EXPECT_EQ(*ParseCompression("uncompressed"), Compression::kNone);
  auto p = ParseCompression("lz4");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message(), "unknown compression \"lz4\" (want gzip, zstd or none)");
  std::string out;
  StringSink sink(out);
  auto s = CompressingSink::Create(sink, {Compression::kGzip, 13, 1024, 0});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), "gzip level 13 out of range 1..12");
}

}  // namespace
}  // namespace kiln::archive
