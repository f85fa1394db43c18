#include "store/blob_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "store/store_internal.h"
#include "store/testing/fault_file_ops.h"
#include "store/testing/test_store.h"

namespace kiln::store {
namespace {

using testing::StoreTest;

constexpr std::string_view kHelloHex =
    "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

class BlobStoreTest : public StoreTest {
 protected:
  std::vector<std::string> TmpFiles() {
    auto names = ListDirectoryIfExists(JoinPath(root_, "tmp/" + store_->TEST_session()));
    EXPECT_TRUE(names);
    return names ? *names : std::vector<std::string>{};
  }
};

TEST_F(BlobStoreTest, PutStoresContentUnderItsDigest) {
  Digest d = PutBlob("hello");
  EXPECT_EQ(d.str(), fmt::format("sha256:{}", kHelloHex));
  EXPECT_EQ(store_->blobs().Path(d), fmt::format("{}/blobs/sha256/{}", root_, kHelloHex));
  EXPECT_TRUE(store_->blobs().Has(d));
  auto size = store_->blobs().Size(d);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 5);
  auto data = store_->blobs().Read(d);
  ASSERT_TRUE(data) << data.error().Render();
  EXPECT_EQ(*data, "hello");
  auto file = ReadFile(store_->blobs().Path(d));
  ASSERT_TRUE(file);
  EXPECT_EQ(*file, "hello");
  EXPECT_TRUE(TmpFiles().empty());
}

TEST_F(BlobStoreTest, StreamingWriterHashesAcrossChunks) {
  auto w = store_->blobs().Create();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->Write("hel"));
  ASSERT_TRUE(w->Write(""));
  ASSERT_TRUE(w->Write("lo"));
  EXPECT_EQ(w->bytes_written(), 5u);
  auto d = w->Commit(Digest::Of("hello"), 5);
  ASSERT_TRUE(d) << d.error().Render();
  EXPECT_EQ(d->hex(), kHelloHex);
}

TEST_F(BlobStoreTest, WrongDigestIsMismatchAndStoresNothing) {
  Digest other = Digest::Of("other");
  auto w = store_->blobs().Create();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->Write("hello"));
  auto d = w->Commit(other);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(d.error().message(),
            fmt::format("blob digest mismatch: expected {}, got sha256:{}", other.str(), kHelloHex));
  EXPECT_FALSE(store_->blobs().Has(Digest::Of("hello")));
  EXPECT_FALSE(store_->blobs().Has(other));
  EXPECT_TRUE(TmpFiles().empty());
  auto again = w->Commit();
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message(), "commit of a finished blob writer");
}

TEST_F(BlobStoreTest, WrongSizeIsMismatch) {
  auto w = store_->blobs().Create();
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->Write("hello"));
  auto d = w->Commit(std::nullopt, 6);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(d.error().message(),
            fmt::format("blob size mismatch for sha256:{}: expected 6 bytes, got 5", kHelloHex));
  EXPECT_FALSE(store_->blobs().Has(Digest::Of("hello")));
}

TEST_F(BlobStoreTest, Sha512ExpectedDigestIsUnsupported) {
  auto sha512 = Digest::Parse("sha512:" + std::string(128, 'a'));
  ASSERT_TRUE(sha512);
  auto d = store_->blobs().Put("x", *sha512);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(d.error().message(), fmt::format("cannot store blob {}: only sha256 blobs can be written",
                                             sha512->str()));
}

TEST_F(BlobStoreTest, AbandonedWriterLeavesNoFile) {
  {
    auto w = store_->blobs().Create();
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->Write("half"));
    EXPECT_EQ(TmpFiles().size(), 1u);
  }
  EXPECT_TRUE(TmpFiles().empty());
}

TEST_F(BlobStoreTest, MissingBlobIsNotFound) {
  Digest d = Digest::Of("nope");
  auto r = store_->blobs().Open(d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(r.error().message(), fmt::format("blob {} not found", d.str()));
  auto s = store_->blobs().Size(d);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message(), fmt::format("blob {} not found", d.str()));
  auto v = store_->blobs().Verify(d);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(store_->blobs().Delete(d));
}

TEST_F(BlobStoreTest, FlippedByteIsDetectedByVerifyAndRead) {
  std::string data(100000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  Digest d = PutBlob(data);
  ASSERT_TRUE(store_->blobs().Verify(d));
  // Flip one byte at a known offset, as leveldb's log_test IncrementByte.
  std::string corrupt = data;
  corrupt[70000] ^= 0x01;
  std::string path = store_->blobs().Path(d);
  ASSERT_TRUE(WriteFile(path, corrupt));
  std::string want = fmt::format("blob digest mismatch: expected {}, got {}", d.str(),
                                 Digest::Of(corrupt).str());
  auto v = store_->blobs().Verify(d);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(v.error().Render(), want + "\nwhile reading " + path + "\n");
  auto r = store_->blobs().Read(d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kDigestMismatch);
  EXPECT_EQ(r.error().message(), want);
  // A reader hands out all bytes before it can know; the final Read fails.
  auto reader = store_->blobs().Open(d);
  ASSERT_TRUE(reader);
  EXPECT_EQ(reader->size(), 100000);
  std::string got;
  char buf[4096];
  Result<size_t> n = size_t{0};
  while ((n = reader->Read(buf, sizeof buf)) && *n > 0) got.append(buf, *n);
  ASSERT_FALSE(n);
  EXPECT_EQ(got, corrupt);
}

TEST_F(BlobStoreTest, TruncatedBlobIsMismatch) {
  Digest d = PutBlob("hello world");
  ASSERT_EQ(::truncate(store_->blobs().Path(d).c_str(), 5), 0);
  auto v = store_->blobs().Verify(d);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().message(), fmt::format("blob digest mismatch: expected {}, got sha256:{}",
                                             d.str(), kHelloHex));
}

TEST_F(BlobStoreTest, DeleteRemovesBlob) {
  Digest d = PutBlob("bye");
  ASSERT_TRUE(store_->blobs().Delete(d));
  EXPECT_FALSE(store_->blobs().Has(d));
}

TEST_F(BlobStoreTest, SameBlobFromThreadsAndProcessesAtOnce) {
  std::string data(1 << 20, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7919 % 251);
  Digest want = Digest::Of(data);
  // SQLite connections must not cross fork(): close ours first.
  store_.reset();
  std::vector<pid_t> kids;
  for (int p = 0; p < 2; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto s = Store::Open(root_);
      int bad = 0;
      for (int i = 0; s && i < 10; ++i) {
        auto d = (*s)->blobs().Put(data, want);
        if (!d) ++bad;
      }
      bool ok = s && bad == 0;
      if (s) s->reset();  // closes the session, removing its tmp/ area
      ::_exit(ok ? 0 : 1);
    }
    kids.push_back(pid);
  }
  store_ = OpenStore();
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 3; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i)
        if (!store_->blobs().Put(data, want)) ++bad;
    });
  for (auto& t : threads) t.join();
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  EXPECT_EQ(bad.load(), 0);
  EXPECT_TRUE(store_->blobs().Verify(want));
  auto blobs = ListDirectoryIfExists(JoinPath(root_, "blobs/sha256"));
  ASSERT_TRUE(blobs);
  EXPECT_EQ(*blobs, std::vector<std::string>{want.hex()});
  auto tmp = ListDirectoryIfExists(JoinPath(root_, "tmp"));
  ASSERT_TRUE(tmp);
  EXPECT_EQ(*tmp, std::vector<std::string>{store_->TEST_session()});
  EXPECT_TRUE(TmpFiles().empty());
}

// I/O faults through FaultFileOps: the error names the file, and the store
// is left as if the write never happened.
class BlobFaultTest : public BlobStoreTest {
 protected:
  void SetUp() override {
    BlobStoreTest::SetUp();
    store_.reset();
    store_ = OpenStore(&faults_);
  }
  void ExpectClean() {
    EXPECT_FALSE(store_->blobs().Has(Digest::Of("payload")));
    EXPECT_TRUE(TmpFiles().empty());
    auto check = store_->Check(CheckMode::kReport);
    ASSERT_TRUE(check);
    EXPECT_THAT(check->problems, ::testing::IsEmpty());
    faults_.Clear();
    auto d = store_->blobs().Put("payload");
    ASSERT_TRUE(d) << d.error().Render();
    EXPECT_TRUE(store_->blobs().Verify(*d));
  }
  testing::FaultFileOps faults_;
};

TEST_F(BlobFaultTest, WriteFailureNamesStagingFile) {
  faults_.FailAfter(testing::FaultOp::kWrite, 0, ENOSPC);
  auto d = store_->blobs().Put("payload");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code(), ErrorCode::kIo);
  EXPECT_THAT(d.error().message(),
              ::testing::MatchesRegex(fmt::format("write {}/tmp/{}/blob-[0-9a-f]{{16}}: No space left on device",
                                                  root_, store_->TEST_session())));
  EXPECT_EQ(d.error().sys_errno(), ENOSPC);
  ExpectClean();
}

TEST_F(BlobFaultTest, FsyncFailureNamesStagingFile) {
  faults_.FailAfter(testing::FaultOp::kFsync, 0);
  auto d = store_->blobs().Put("payload");
  ASSERT_FALSE(d);
  EXPECT_THAT(d.error().message(),
              ::testing::MatchesRegex(fmt::format("fsync {}/tmp/{}/blob-[0-9a-f]{{16}}: Input/output error",
                                                  root_, store_->TEST_session())));
  ExpectClean();
}

TEST_F(BlobFaultTest, RenameFailureNamesBlobPath) {
  faults_.FailAfter(testing::FaultOp::kRename, 0);
  auto d = store_->blobs().Put("payload");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), fmt::format("rename {}/blobs/sha256/{}: Input/output error", root_,
                                             Digest::Of("payload").hex()));
  ExpectClean();
}

TEST_F(BlobFaultTest, DirectoryFsyncFailureAfterRenameKeepsValidBlob) {
  // The second fsync is the directory's: the blob is in place and whole, and
  // the caller is told the commit may not be durable.
  faults_.FailAfter(testing::FaultOp::kFsync, 1);
  auto d = store_->blobs().Put("payload");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(),
            fmt::format("fsync {}/blobs/sha256: Input/output error", root_));
  EXPECT_TRUE(store_->blobs().Verify(Digest::Of("payload")));
  EXPECT_TRUE(TmpFiles().empty());
}

}  // namespace
}  // namespace kiln::store
