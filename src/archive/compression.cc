#include "archive/compression.h"

#include <fcntl.h>
#include <libdeflate.h>
#include <zlib.h>
#include <unistd.h>
#include <zstd.h>

#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/strings.h"

namespace kiln::archive {
namespace {

constexpr size_t kInputBuffer = 64 * 1024;
// zstd frames may ask for windows up to 2 GiB; a layer has no business
// needing more than 32 MiB, and the cap keeps hostile blobs from using
// unbounded memory.
constexpr int kZstdMaxWindowLog = 25;

// Per-thread compressor state: libdeflate and zstd contexts are not
// thread-safe, so every worker owns one.
class ChunkCompressor {
 public:
  ChunkCompressor(Compression c, int level) : compression_(c), level_(level) {}
  ~ChunkCompressor() {
    if (deflate_) libdeflate_free_compressor(deflate_);
    if (zstd_) ZSTD_freeCCtx(zstd_);
  }
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;

  Result<std::string> Compress(std::string_view in) {
    std::string out;
    if (compression_ == Compression::kGzip) {
      if (!deflate_) deflate_ = libdeflate_alloc_compressor(level_);
      if (!deflate_) return Fail(Error::Errno("allocating gzip compressor", ENOMEM));
      out.resize(libdeflate_gzip_compress_bound(deflate_, in.size()));
      size_t n = libdeflate_gzip_compress(deflate_, in.data(), in.size(), out.data(), out.size());
      if (n == 0) return Fail(Error::Invalid("gzip: compression failed"));
      out.resize(n);
    } else {
      if (!zstd_) zstd_ = ZSTD_createCCtx();
      if (!zstd_) return Fail(Error::Errno("allocating zstd compressor", ENOMEM));
      out.resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compressCCtx(zstd_, out.data(), out.size(), in.data(), in.size(), level_);
      if (ZSTD_isError(n))
        return Fail(Error::Invalid(fmt::format("zstd: {}", ZSTD_getErrorName(n))));
      out.resize(n);
    }
    return out;
  }

 private:
  Compression compression_;
  int level_;
  libdeflate_compressor* deflate_ = nullptr;
  ZSTD_CCtx* zstd_ = nullptr;
};

}  // namespace

std::string_view CompressionName(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kGzip: return "gzip";
    case Compression::kZstd: return "zstd";
  }
  return "unknown";
}

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "none" || name == "uncompressed") return Compression::kNone;
  if (name == "gzip") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  return Fail(Error::Invalid(fmt::format("unknown compression {} (want gzip, zstd or none)", Quote(name))));
}

Compression SniffCompression(std::string_view p) {
  if (p.size() >= 2 && p[0] == '\x1f' && p[1] == '\x8b') return Compression::kGzip;
  if (p.size() >= 4 && p.substr(0, 4) == std::string_view("\x28\xb5\x2f\xfd", 4)) return Compression::kZstd;
  return Compression::kNone;
}

// ------------------------------------------------------- compressing sink

struct CompressingSink::Impl {
  using Job = std::packaged_task<Result<std::string>(ChunkCompressor&)>;

  Impl(ByteSink& out, CompressionOptions o) : out(out), options(o) {}
  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
  }

  void WorkerLoop() {
    ChunkCompressor compressor(options.compression, options.level);
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return stop || !queue.empty(); });
        if (queue.empty()) return;
        job = std::move(queue.front());
        queue.pop_front();
      }
      job(compressor);
    }
  }

  Result<void> WriteCompressed(std::string_view data) {
    // Uncompressed, the blob digest is the diff id: hash once.
    if (options.compression != Compression::kNone) compressed_hasher.Update(data);
    return out.Write(data);
  }

  // Hands the buffered chunk to a worker (or compresses it inline), then
  // writes finished chunks in order while too many are in flight.
  Result<void> SubmitChunk() {
    if (options.compression == Compression::kNone && workers.empty()) {
      KILN_TRY(WriteCompressed(chunk));
      chunk.clear();
      return Ok();
    }
    if (workers.empty()) {
      KILN_TRY_ASSIGN(std::string c, inline_compressor->Compress(chunk));
      chunk.clear();
      return WriteCompressed(c);
    }
    auto input = std::make_shared<std::string>(std::move(chunk));
    chunk = std::string();
    chunk.reserve(options.chunk_size);
    if (options.compression == Compression::kNone) {
      return Submit(Job([this, input](ChunkCompressor&) -> Result<std::string> {
        diff_hasher.Update(*input);
        KILN_TRY(out.Write(*input));
        return std::string();
      }));
    }
    return Submit(Job([input](ChunkCompressor& c) { return c.Compress(*input); }));
  }

  // Uncompressed with a worker, the worker hashes (SHA-256 is the cost
  // here) and writes everything, in order, while the caller walks on; a
  // file's data it reads itself, so a big file holds no buffer.
  bool worker_writes() const { return options.compression == Compression::kNone && !workers.empty(); }

  Result<void> SubmitFile(int fd, int64_t size, const std::string& shown) {
    if (!chunk.empty()) KILN_TRY(SubmitChunk());
    auto file = std::make_shared<Fd>(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!file->valid()) return Fail(Error::Io(shown, errno, "dup"));
    return Submit(Job([this, file, size, shown](ChunkCompressor&) -> Result<std::string> {
      KILN_TRY(ReadPieces(file->get(), size, shown, options.chunk_size, [this](std::string_view piece) {
        diff_hasher.Update(piece);
        return out.Write(piece);
      }));
      return std::string();
    }));
  }

  Result<void> Submit(Job job) {
    pending.push_back(job.get_future());
    {
      std::lock_guard<std::mutex> lock(mu);
      queue.push_back(std::move(job));
    }
    cv.notify_one();
    // Uncompressed jobs are cheap to queue and the worker catches up in
    // bursts: let the caller run further ahead (at most this many chunks
    // of memory).
    return DrainPending(worker_writes() ? 32 : 2 * workers.size());
  }

  Result<void> DrainPending(size_t keep) {
    while (pending.size() > keep) {
      Result<std::string> c = pending.front().get();
      pending.pop_front();
      if (!c) return Fail(std::move(c).error());
      if (!worker_writes()) KILN_TRY(WriteCompressed(*c));
    }
    return Ok();
  }

  ByteSink& out;
  CompressionOptions options;
  std::string chunk;
  Sha256 diff_hasher;
  Sha256 compressed_hasher;
  bool wrote_chunk = false;
  bool closed = false;
  std::unique_ptr<ChunkCompressor> inline_compressor;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job> queue;  // guarded by mu
  bool stop = false;      // guarded by mu
  std::vector<std::thread> workers;
  std::deque<std::future<Result<std::string>>> pending;
};

CompressingSink::CompressingSink(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CompressingSink::~CompressingSink() = default;

Result<std::unique_ptr<CompressingSink>> CompressingSink::Create(ByteSink& out,
                                                                 CompressionOptions options) {
  if (options.level == 0) options.level = options.compression == Compression::kZstd ? 3 : 1;
  if (options.compression == Compression::kGzip && (options.level < 1 || options.level > 12))
    return Fail(Error::Invalid(fmt::format("gzip level {} out of range 1..12", options.level)));
  if (options.compression == Compression::kZstd &&
      (options.level < 1 || options.level > ZSTD_maxCLevel()))
    return Fail(Error::Invalid(fmt::format("zstd level {} out of range 1..{}", options.level,
                                           ZSTD_maxCLevel())));
  if (options.chunk_size == 0) options.chunk_size = 1 << 20;
  auto impl = std::make_unique<Impl>(out, options);
  impl->chunk.reserve(options.chunk_size);
  impl->inline_compressor = std::make_unique<ChunkCompressor>(options.compression, options.level);
  // Uncompressed, one worker is enough (and keeps the hash in order).
  int threads = options.compression == Compression::kNone ? std::min(options.threads, 1) : options.threads;
  for (int i = 0; i < threads; ++i) impl->workers.emplace_back([p = impl.get()] { p->WorkerLoop(); });
  return std::unique_ptr<CompressingSink>(new CompressingSink(std::move(impl)));
}

Result<void> CompressingSink::Write(std::string_view data) {
  Impl& s = *impl_;
  if (s.closed) return Fail(Error::Invalid("write to a closed compressing sink"));
  if (!s.worker_writes()) s.diff_hasher.Update(data);
  while (!data.empty()) {
    size_t take = std::min(data.size(), s.options.chunk_size - s.chunk.size());
    s.chunk.append(data.substr(0, take));
    data.remove_prefix(take);
    if (s.chunk.size() == s.options.chunk_size) {
      s.wrote_chunk = true;
      KILN_TRY(s.SubmitChunk());
    }
  }
  return Ok();
}

Result<void> CompressingSink::WriteFrom(int fd, int64_t size, const std::string& shown) {
  Impl& s = *impl_;
  if (s.closed) return Fail(Error::Invalid("write to a closed compressing sink"));
  if (!s.worker_writes()) return ByteSink::WriteFrom(fd, size, shown);
  if (size > 0) s.wrote_chunk = true;
  return s.SubmitFile(fd, size, shown);
}

Result<BlobDigests> CompressingSink::Close() {
  Impl& s = *impl_;
  if (s.closed) return Fail(Error::Invalid("compressing sink closed twice"));
  s.closed = true;
  // An empty input still needs one (empty) gzip member or zstd frame to be
  // a valid compressed blob.
  if (!s.chunk.empty() || (!s.wrote_chunk && s.options.compression != Compression::kNone))
    KILN_TRY(s.SubmitChunk());
  KILN_TRY(s.DrainPending(0));
  BlobDigests d;
  d.uncompressed_size = s.diff_hasher.bytes();
  d.diff_id = s.diff_hasher.Finish();
  if (s.options.compression == Compression::kNone) {
    d.size = d.uncompressed_size;
    d.digest = d.diff_id;
  } else {
    d.size = s.compressed_hasher.bytes();
    d.digest = s.compressed_hasher.Finish();
  }
  return d;
}

// ------------------------------------------------------- decompression

namespace {

// Serves `prefix` first, then the rest of `inner`.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, ByteSource& inner) : prefix_(std::move(prefix)), inner_(inner) {}
  Result<size_t> Read(std::span<char> buf) override {
    if (pos_ < prefix_.size()) {
      size_t n = std::min(buf.size(), prefix_.size() - pos_);
      std::memcpy(buf.data(), prefix_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    return inner_.Read(buf);
  }

 private:
  std::string prefix_;
  size_t pos_ = 0;
  ByteSource& inner_;
};

class GzipSource : public ByteSource {
 public:
  GzipSource(std::string prefix, ByteSource& inner) : in_(std::move(prefix), inner) {
    std::memset(&z_, 0, sizeof z_);
    buf_.resize(kInputBuffer);
  }
  ~GzipSource() override {
    if (init_) inflateEnd(&z_);
  }
  Result<void> Init() {
    if (inflateInit2(&z_, 15 + 16) != Z_OK) return Fail(Error::Errno("gzip: inflateInit", ENOMEM));
    init_ = true;
    return Ok();
  }

  Result<size_t> Read(std::span<char> out) override {
    if (out.empty() || finished_) return size_t{0};
    z_.next_out = reinterpret_cast<Bytef*>(out.data());
    z_.avail_out = static_cast<uInt>(std::min<size_t>(out.size(), UINT32_MAX));
    while (z_.avail_out == out.size()) {
      if (z_.avail_in == 0 && !eof_) {
        KILN_TRY_ASSIGN(size_t n, in_.Read(std::span<char>(buf_.data(), buf_.size())));
        if (n == 0) eof_ = true;
        z_.next_in = reinterpret_cast<Bytef*>(buf_.data());
        z_.avail_in = static_cast<uInt>(n);
      }
      if (member_done_) {
        // Another gzip member follows, or the stream is over.
        if (z_.avail_in == 0) {
          if (eof_) { finished_ = true; break; }
          continue;
        }
        inflateReset(&z_);
        member_done_ = false;
      }
      int rc = inflate(&z_, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) {
        member_done_ = true;
      } else if (rc == Z_BUF_ERROR) {
        if (eof_ && z_.avail_in == 0) return Fail(Error::Invalid("gzip: truncated stream"));
      } else if (rc != Z_OK) {
        return Fail(Error::Invalid(fmt::format("gzip: {}", z_.msg ? z_.msg : "corrupt data")));
      } else if (eof_ && z_.avail_in == 0 && z_.avail_out == out.size()) {
        return Fail(Error::Invalid("gzip: truncated stream"));
      }
    }
    return out.size() - z_.avail_out;
  }

 private:
  PrefixedSource in_;
  std::string buf_;
  z_stream z_;
  bool init_ = false;
  bool eof_ = false;
  bool member_done_ = false;
  bool finished_ = false;
};

class ZstdSource : public ByteSource {
 public:
  ZstdSource(std::string prefix, ByteSource& inner) : in_(std::move(prefix), inner) {
    buf_.resize(kInputBuffer);
  }
  ~ZstdSource() override { ZSTD_freeDCtx(ctx_); }
  Result<void> Init() {
    ctx_ = ZSTD_createDCtx();
    if (!ctx_) return Fail(Error::Errno("zstd: creating context", ENOMEM));
    ZSTD_DCtx_setParameter(ctx_, ZSTD_d_windowLogMax, kZstdMaxWindowLog);
    return Ok();
  }

  Result<size_t> Read(std::span<char> out) override {
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    while (ob.pos == 0 && !out.empty()) {
      if (ib_.pos == ib_.size) {
        if (eof_) {
          if (!frame_done_) return Fail(Error::Invalid("zstd: truncated stream"));
          return size_t{0};
        }
        KILN_TRY_ASSIGN(size_t n, in_.Read(std::span<char>(buf_.data(), buf_.size())));
        if (n == 0) { eof_ = true; continue; }
        ib_ = ZSTD_inBuffer{buf_.data(), n, 0};
      }
      size_t rc = ZSTD_decompressStream(ctx_, &ob, &ib_);
      if (ZSTD_isError(rc)) return Fail(Error::Invalid(fmt::format("zstd: {}", ZSTD_getErrorName(rc))));
      frame_done_ = rc == 0;
    }
    return ob.pos;
  }

 private:
  PrefixedSource in_;
  std::string buf_;
  ZSTD_DCtx* ctx_ = nullptr;
  ZSTD_inBuffer ib_{nullptr, 0, 0};
  bool eof_ = false;
  bool frame_done_ = true;
};

}  // namespace

Result<std::unique_ptr<ByteSource>> OpenDecompressor(ByteSource& source) {
  std::string prefix(4, '\0');
  KILN_TRY_ASSIGN(size_t n, ReadFull(source, std::span<char>(prefix.data(), prefix.size())));
  prefix.resize(n);
  switch (SniffCompression(prefix)) {
    case Compression::kGzip: {
      auto s = std::make_unique<GzipSource>(std::move(prefix), source);
      KILN_TRY(s->Init());
      return std::unique_ptr<ByteSource>(std::move(s));
    }
    case Compression::kZstd: {
      auto s = std::make_unique<ZstdSource>(std::move(prefix), source);
      KILN_TRY(s->Init());
      return std::unique_ptr<ByteSource>(std::move(s));
    }
    case Compression::kNone:
      break;
  }
  return std::unique_ptr<ByteSource>(std::make_unique<PrefixedSource>(std::move(prefix), source));
}

}  // namespace kiln::archive
