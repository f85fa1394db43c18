// libFuzzer target: decodes the input as a sequence of store operations
// (blobs, images, tags, snapshots, cache entries, prune, name resolution) and
// after each input requires Store::Check to find nothing wrong and every tag
// to resolve. One store (in /dev/shm when present, for cheap fsyncs) is kept
// across inputs so state accumulates.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "base/fs.h"
#include "store/store.h"

namespace {

using kiln::Digest;
using namespace kiln::store;

struct Input {
  const uint8_t* data;
  size_t size;
  uint8_t Byte() {
    if (size == 0) return 0;
    --size;
    return *data++;
  }
  std::string Bytes(size_t max) {
    size_t n = Byte() % (max + 1);
    if (n > size) n = size;
    std::string s(reinterpret_cast<const char*>(data), n);
    data += n;
    size -= n;
    return s;
  }
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "store invariant broken: %s\n", what.c_str());
  std::abort();
}

std::string& Root() {
  static std::string root;
  return root;
}

Store& TheStore() {
  static bool init = [] {
    const char* base = kiln::PathExists("/dev/shm") ? "/dev/shm" : "/tmp";
    Root() = kiln::JoinPath(base, "kiln-fuzz-store-" + kiln::RandomHex(6));
    // Registered before the Store exists, so it runs after the Store closes.
    std::atexit([] { (void)kiln::RemoveAll(Root()); });
    return true;
  }();
  (void)init;
  static std::unique_ptr<Store> store = [] {
    auto s = Store::Open(Root());
    if (!s) Die(s.error().Render());
    return std::move(*s);
  }();
  return *store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Store& s = TheStore();
  Input in{data, size};
  // A small pool of blob contents so operations collide on purpose.
  auto pool_blob = [&](uint8_t b) { return std::string("blob ") + static_cast<char>('a' + b % 8); };
  for (int ops = 0; in.size > 0 && ops < 16; ++ops) {
    switch (in.Byte() % 8) {
      case 0: {
        (void)s.blobs().Put(in.Bytes(64));
        break;
      }
      case 1: {  // image with two pool blobs, tagged
        auto config = s.blobs().Put(pool_blob(in.Byte()));
        auto manifest = s.blobs().Put(pool_blob(in.Byte()) + " manifest");
        if (!config || !manifest) Die("blob put failed");
        ImageRecord img{*manifest, *config, "m", in.Byte(), in.Byte(), {}};
        if (!s.PutImage(img, {{RefKind::kBlob, *config}})) Die("PutImage failed");
        if (!s.SetTag("t" + std::to_string(in.Byte() % 4), *manifest)) Die("SetTag failed");
        break;
      }
      case 2:
        (void)s.RemoveTag("t" + std::to_string(in.Byte() % 4));
        break;
      case 3: {  // snapshot, maybe on top of another one
        std::string id = "snap " + std::to_string(in.Byte() % 6);
        std::optional<Digest> parent;
        if (uint8_t p = in.Byte() % 7; p < 6) parent = Digest::Of("snap " + std::to_string(p));
        if (s.GetSnapshot(Digest::Of(id))) break;
        auto st = s.PrepareSnapshot(Digest::Of(id), parent);
        if (!st) Die(st.error().Render());
        if (!kiln::WriteFile(kiln::JoinPath(st->path, "f"), in.Bytes(32))) Die("write failed");
        if (in.Byte() % 4 == 0) {
          if (!s.AbortSnapshot(*st)) Die("abort failed");
        } else if (auto r = s.CommitSnapshot(*st); !r) {
          Die(r.error().Render());
        }
        break;
      }
      case 4: {
        std::string key = "k" + std::to_string(in.Byte() % 4);
        Digest snap = Digest::Of("snap " + std::to_string(in.Byte() % 6));
        std::vector<Ref> refs;
        if (s.GetSnapshot(snap)) refs.push_back({RefKind::kSnapshot, snap});
        if (!s.PutCacheEntry(key, in.Bytes(16), refs)) Die("PutCacheEntry failed");
        break;
      }
      case 5: {
        PruneOptions opts;
        uint8_t b = in.Byte();
        opts.images = static_cast<PruneImages>(b % 3);
        opts.build_cache = (b / 3) % 2;
        if (auto r = s.Prune(opts); !r) Die(r.error().Render());
        break;
      }
      case 6: {  // arbitrary names and ID prefixes must resolve or fail cleanly
        auto r = s.ResolveImage(in.Bytes(70));
        if (!r && r.error().code() != kiln::ErrorCode::kNotFound &&
            r.error().code() != kiln::ErrorCode::kInvalid)
          Die(r.error().Render());
        break;
      }
      case 7: {
        auto tag = s.ResolveTag("t" + std::to_string(in.Byte() % 4));
        if (tag && !s.RemoveImage(*tag)) Die("RemoveImage failed");
        break;
      }
    }
  }
  auto check = s.Check(CheckMode::kReport);
  if (!check) Die(check.error().Render());
  if (!check->problems.empty()) Die(check->problems.front());
  auto tags = s.ListTags();
  if (!tags) Die(tags.error().Render());
  for (const auto& [name, manifest] : *tags)
    if (!s.GetImage(manifest)) Die("tag " + name + " names a missing image");
  auto snaps = s.ListSnapshots();
  if (!snaps) Die(snaps.error().Render());
  for (const auto& snap : *snaps)
    if (!kiln::PathExists(snap.path)) Die("snapshot dir missing: " + snap.path);
  return 0;
}
