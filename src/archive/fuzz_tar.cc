// libFuzzer target: the tar reader and ApplyLayer on arbitrary bytes
// (plain, gzip or zstd, sniffed). Besides crashes and sanitizer reports it
// checks the apply invariant: nothing is ever written outside the target.

#include <fcntl.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "archive/layer.h"
#include "base/fs.h"

namespace {

using kiln::archive::ApplyLayer;
using kiln::archive::ApplyOptions;
using kiln::archive::StringSource;
using kiln::archive::TarReader;
using kiln::archive::WhiteoutMode;

struct Dirs {
  std::string base;
  std::string target;
};

const Dirs& GetDirs() {
  // Removed when the process exits.
  static std::optional<kiln::TempDir> keep;
  static const Dirs dirs = [] {
    auto t = kiln::TempDir::Create("kiln-fuzz-tar");
    if (!t) std::abort();
    keep.emplace(std::move(*t));
    Dirs d{keep->path(), keep->path() + "/x/y/target"};
    (void)kiln::WriteFile(d.base + "/sentinel", "s");
    return d;
  }();
  return dirs;
}

// The only entries allowed outside the target: base/{sentinel,x}, x/y, x/y/target.
void CheckOutside(const Dirs& d) {
  auto count = [](const std::string& dir) -> size_t {
    auto fd = kiln::OpenFile(dir, O_RDONLY | O_DIRECTORY);
    if (!fd) std::abort();
    auto names = kiln::ListDirectory(fd->get(), dir);
    if (!names) std::abort();
    return names->size();
  };
  if (count(d.base) != 2 || count(d.base + "/x") != 1 || count(d.base + "/x/y") != 1 ||
      kiln::ReadFile(d.base + "/sentinel").value_or("") != "s") {
    std::fprintf(stderr, "layer wrote outside the target\n");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  {
    // Reader alone: read every entry's data.
    StringSource src(input);
    TarReader reader(src, "fuzz");
    char buf[4096];
    for (int i = 0; i < 10000; ++i) {
      auto e = reader.Next();
      if (!e || !*e) break;
      bool ok = true;
      while (ok) {
        auto n = reader.ReadData(std::span<char>(buf, sizeof buf));
        ok = n && *n > 0;
      }
    }
  }
  const Dirs& d = GetDirs();
  (void)kiln::RemoveAll(d.target);
  if (!kiln::MakeDirs(d.target)) std::abort();
  for (WhiteoutMode mode : {WhiteoutMode::kOverlay, WhiteoutMode::kApply}) {
    StringSource src(input);
    ApplyOptions o;
    o.whiteout_mode = mode;
    (void)ApplyLayer(src, d.target, o);
    CheckOutside(d);
  }
  return 0;
}
