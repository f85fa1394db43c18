// Layer speed and memory benchmark; see run.sh.
//
//   kiln_bench_layer gen DIR MIB          make a ~MIB MiB tree of mixed files
//   kiln_bench_layer write DIR OUT [gzip|zstd|none]
//                                         write DIR as a layer, print time/digests
//   kiln_bench_layer apply LAYER DIR      apply LAYER into DIR, print time/peak RSS

#include <fcntl.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "archive/layer.h"
#include "base/fs.h"

namespace {

using namespace kiln;
using namespace kiln::archive;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

long PeakRssKiB() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

int Die(const Error& e) {
  std::fprintf(stderr, "error: %s", e.Render().c_str());
  return 1;
}

// Content mix like a distro image: text (source, configs), binaries
// (partly compressible), and already-compressed data.
std::string Content(uint64_t& seed, size_t size, int kind) {
  static const char* kWords[] = {"the ", "int ", "return ", "static ", "config ", "value ", "= ", "{\n",
                                 "}\n", "if (", ") ", "0x1f ", "path/to/", "lib", ".so ", "\n"};
  std::string s;
  s.reserve(size);
  auto next = [&] { return seed = seed * 6364136223846793005ULL + 1442695040888963407ULL; };
  while (s.size() < size) {
    uint64_t r = next();
    if (kind == 0) {
      s += kWords[(r >> 33) % 16];
      if ((r & 7) == 0) s += std::to_string((r >> 40) % 1000);
    } else if (kind == 1) {
      // Binary: short random runs mixed with zeros and repeated opcodes.
      for (int i = 0; i < 8; ++i) s += static_cast<char>((r >> (i * 8)) & ((r & 3) ? 0x0f : 0xff));
    } else {
      for (int i = 0; i < 8; ++i) s += static_cast<char>(r >> (i * 8));
    }
  }
  s.resize(size);
  return s;
}

int Gen(const std::string& dir, long mib) {
  uint64_t seed = 42;
  uint64_t total = 0, target = static_cast<uint64_t>(mib) << 20;
  int n = 0;
  while (total < target) {
    std::string sub = fmt::format("{}/d{:03}/s{:02}", dir, n / 400, (n / 20) % 20);
    if (auto r = MakeDirs(sub); !r) return Die(r.error());
    // Mostly small files, some medium, a few large.
    size_t size = n % 97 == 0 ? (8 << 20) : n % 11 == 0 ? (256 << 10) : 2000 + (n * 7919) % 30000;
    std::string data = Content(seed, size, n % 4 == 3 ? 2 : n % 4 == 2 ? 1 : 0);
    if (auto r = WriteFile(fmt::format("{}/f{}", sub, n), data); !r) return Die(r.error());
    total += size;
    ++n;
  }
  std::printf("generated %d files, %.1f MiB in %s\n", n, total / 1048576.0, dir.c_str());
  return 0;
}

int Write(const std::string& dir, const std::string& out, const std::string& comp) {
  LayerWriteOptions o;
  auto c = ParseCompression(comp);
  if (!c) return Die(c.error());
  o.compression.compression = *c;
  auto fd = OpenFile(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (!fd) return Die(fd.error());
  FdSink sink(fd->get(), out);
  auto start = std::chrono::steady_clock::now();
  auto info = WriteLayerFromDir(dir, sink, o);
  if (!info) return Die(info.error());
  double s = Seconds(start);
  std::printf("kiln write (%s): %.2f s, %.0f MiB/s, tar %.1f MiB -> %.1f MiB, %ld entries\n",
              comp.c_str(), s, info->uncompressed_size / 1048576.0 / s,
              info->uncompressed_size / 1048576.0, info->size / 1048576.0, static_cast<long>(info->entries));
  std::printf("  diff_id %s\n  digest  %s\n", info->diff_id.str().c_str(), info->digest.str().c_str());
  return 0;
}

int Apply(const std::string& layer, const std::string& dir) {
  if (auto r = MakeDirs(dir); !r) return Die(r.error());
  auto fd = OpenFile(layer, O_RDONLY);
  if (!fd) return Die(fd.error());
  FdSource src(fd->get(), layer);
  long rss_before = PeakRssKiB();
  auto start = std::chrono::steady_clock::now();
  ApplyOptions o;
  o.whiteout_mode = WhiteoutMode::kApply;
  auto info = ApplyLayer(src, dir, o);
  if (!info) return Die(info.error());
  std::printf("kiln apply: %.2f s, %.1f MiB tar, peak RSS %.1f MiB (%.1f MiB before applying)\n",
              Seconds(start), info->uncompressed_size / 1048576.0, PeakRssKiB() / 1024.0,
              rss_before / 1024.0);
  std::printf("  diff_id %s\n", info->diff_id.str().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "gen" && argc == 4) return Gen(argv[2], std::atol(argv[3]));
  if (cmd == "write" && (argc == 4 || argc == 5)) return Write(argv[2], argv[3], argc == 5 ? argv[4] : "gzip");
  if (cmd == "apply" && argc == 4) return Apply(argv[2], argv[3]);
  std::fprintf(stderr,
               "usage: kiln_bench_layer gen DIR MIB | write DIR OUT [gzip|zstd|none] | apply LAYER DIR\n");
  return 2;
}
