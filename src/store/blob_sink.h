#pragma once

// Streams what an archive writer produces (a layer tar, its gzip) into a
// new store blob.

#include <string_view>

#include "archive/stream.h"
#include "base/error.h"
#include "store/blob_store.h"

namespace kiln::store {

// An archive::ByteSink over a caller-owned BlobWriter, which must outlive
// it. Committing the blob stays the caller's job. Not thread-safe.
class BlobSink : public archive::ByteSink {
 public:
  explicit BlobSink(BlobWriter& writer) : writer_(writer) {}
  Result<void> Write(std::string_view data) override { return writer_.Write(data); }

 private:
  BlobWriter& writer_;
};

}  // namespace kiln::store
