#pragma once

// Streams what an archive writer produces (a layer tar, its gzip) into a
// new store blob.

#include <string_view>

#include "archive/stream.h"
#include "base/error.h"
#include "store/blob_store.h"

namespace kiln::worker {

class BlobSink : public archive::ByteSink {
 public:
  explicit BlobSink(store::BlobWriter& writer) : writer_(writer) {}
  Result<void> Write(std::string_view data) override { return writer_.Write(data); }

 private:
  store::BlobWriter& writer_;
};

}  // namespace kiln::worker
