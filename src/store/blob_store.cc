#include "store/blob_store.h"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::store {
namespace {

Error Mismatch(const Digest& expected, const Digest& got) {
  return Error(ErrorCode::kDigestMismatch,
               fmt::format("blob digest mismatch: expected {}, got {}", expected.str(), got.str()));
}

}  // namespace

BlobWriter::BlobWriter(const BlobStore* store, Fd fd, std::string tmp_path)
    : store_(store), fd_(std::move(fd)), tmp_path_(std::move(tmp_path)),
      hasher_(std::make_unique<Sha256>()) {}

BlobWriter::~BlobWriter() { Abort(); }

void BlobWriter::Abort() {
  fd_.Reset();
  if (!tmp_path_.empty()) ::unlink(tmp_path_.c_str());
  tmp_path_.clear();
}

Result<void> BlobWriter::Write(std::string_view data) {
  if (tmp_path_.empty()) return Fail(Error::Invalid("write to a finished blob writer"));
  if (auto r = store_->file_ops_.Write(fd_.get(), data, tmp_path_); !r) {
    Abort();
    return r;
  }
  hasher_->Update(data);
  return Ok();
}

Result<Digest> BlobWriter::Commit(const std::optional<Digest>& expected,
                                  std::optional<int64_t> expected_size) {
  if (tmp_path_.empty()) return Fail(Error::Invalid("commit of a finished blob writer"));
  if (expected && expected->algorithm() != "sha256") {
    Abort();
    return Fail(Error::Unsupported(
        fmt::format("cannot store blob {}: only sha256 blobs can be written", expected->str())));
  }
  uint64_t size = hasher_->bytes();
  Digest got = hasher_->Finish();
  if (expected && *expected != got) {
    Abort();
    return Fail(Mismatch(*expected, got));
  }
  if (expected_size && static_cast<uint64_t>(*expected_size) != size) {
    Abort();
    return Fail(Error(ErrorCode::kDigestMismatch,
                      fmt::format("blob size mismatch for {}: expected {} bytes, got {}", got.str(),
                                  *expected_size, size)));
  }
  // A blob that already exists has the same bytes; keep it and skip the
  // fsync and rename (which would also be correct, just slower).
  if (store_->Has(got)) {
    Abort();
    return got;
  }
  if (auto r = store_->file_ops_.Fsync(fd_.get(), tmp_path_); !r) {
    Abort();
    return Fail(std::move(r).error());
  }
  fd_.Reset();
  std::string final_path = store_->Path(got);
  if (auto r = store_->file_ops_.Rename(tmp_path_, final_path); !r) {
    Abort();
    return Fail(std::move(r).error());
  }
  tmp_path_.clear();
  std::string dir = Dirname(final_path);
  KILN_TRY_ASSIGN(Fd dfd, OpenFile(dir, O_RDONLY | O_DIRECTORY));
  KILN_TRY(store_->file_ops_.Fsync(dfd.get(), dir));
  return got;
}

BlobReader::BlobReader(Fd fd, std::string path, Digest digest, int64_t size)
    : fd_(std::move(fd)), path_(std::move(path)), digest_(std::move(digest)), size_(size),
      hasher_(std::make_unique<Sha256>()) {}

Result<size_t> BlobReader::Read(void* buf, size_t size) {
  if (verified_) return size_t{0};
  for (;;) {
    ssize_t n = ::read(fd_.get(), buf, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Io(path_, errno, "read"));
    }
    if (n > 0 || size == 0) {
      hasher_->Update(buf, static_cast<size_t>(n));
      return static_cast<size_t>(n);
    }
    Digest got = hasher_->Finish();
    if (got != digest_) return Fail(Mismatch(digest_, got).Wrap("reading {}", path_));
    verified_ = true;
    return size_t{0};
  }
}

Result<std::string> BlobReader::ReadAll() {
  std::string out;
  if (size_ > 0) out.reserve(static_cast<size_t>(size_));
  char buf[65536];
  for (;;) {
    KILN_TRY_ASSIGN(size_t n, Read(buf, sizeof buf));
    if (n == 0) return out;
    out.append(buf, n);
  }
}

BlobStore::BlobStore(std::string root, std::string tmp_dir, FileOps& file_ops)
    : root_(std::move(root)), tmp_dir_(std::move(tmp_dir)), file_ops_(file_ops) {}

Result<BlobWriter> BlobStore::Create() const {
  std::string tmp = JoinPath(tmp_dir_, "blob-" + RandomHex(8));
  KILN_TRY_ASSIGN(Fd fd, OpenFile(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644));
  return BlobWriter(this, std::move(fd), std::move(tmp));
}

Result<Digest> BlobStore::Put(std::string_view data, const std::optional<Digest>& expected) const {
  KILN_TRY_ASSIGN(BlobWriter w, Create());
  KILN_TRY(w.Write(data));
  return w.Commit(expected);
}

std::string BlobStore::Path(const Digest& digest) const {
  return JoinPath(root_, "blobs/" + digest.algorithm() + "/" + digest.hex());
}

bool BlobStore::Has(const Digest& digest) const {
  struct stat st;
  return ::stat(Path(digest).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<int64_t> BlobStore::Size(const Digest& digest) const {
  struct stat st;
  if (::stat(Path(digest).c_str(), &st) != 0) {
    if (errno == ENOENT) return Fail(Error::NotFound(fmt::format("blob {} not found", digest.str())));
    return Fail(Error::Io(Path(digest), errno, "stat"));
  }
  return static_cast<int64_t>(st.st_size);
}

Result<BlobReader> BlobStore::Open(const Digest& digest) const {
  std::string path = Path(digest);
  auto fd = OpenFile(path, O_RDONLY);
  if (!fd) {
    if (fd.error().code() == ErrorCode::kNotFound)
      return Fail(Error::NotFound(fmt::format("blob {} not found", digest.str())));
    return Fail(std::move(fd).error());
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0) return Fail(Error::Io(path, errno, "stat"));
  return BlobReader(std::move(*fd), path, digest, static_cast<int64_t>(st.st_size));
}

Result<std::string> BlobStore::Read(const Digest& digest) const {
  KILN_TRY_ASSIGN(BlobReader r, Open(digest));
  return r.ReadAll();
}

Result<void> BlobStore::Verify(const Digest& digest) const {
  KILN_TRY_ASSIGN(BlobReader r, Open(digest));
  char buf[65536];
  for (;;) {
    KILN_TRY_ASSIGN(size_t n, r.Read(buf, sizeof buf));
    if (n == 0) return Ok();
  }
}

Result<void> BlobStore::Delete(const Digest& digest) const {
  std::string path = Path(digest);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Fail(Error::Io(path, errno, "unlink"));
  return Ok();
}

}  // namespace kiln::store
