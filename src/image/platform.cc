#include "image/platform.h"

#include <sys/utsname.h>

#include <fmt/format.h>

#include "base/strings.h"

namespace kiln::image {
namespace {

// The numeric level of a "vN" variant; `default_level` for "".
int VariantLevel(std::string_view variant, int default_level) {
  if (variant.empty()) return default_level;
  if (variant.size() < 2 || variant[0] != 'v') return -1;
  int level = 0;
  for (char c : variant.substr(1)) {
    if (c < '0' || c > '9' || level > 1000) return -1;
    level = level * 10 + (c - '0');
  }
  return level;
}

}  // namespace

Platform NormalizePlatform(Platform p) {
  p.os = ToLower(p.os);
  if (p.os == "macos") p.os = "darwin";
  std::string arch = ToLower(p.architecture);
  std::string variant = ToLower(p.variant);
  if (arch == "i386") {
    arch = "386";
    variant.clear();
  } else if (arch == "x86_64" || arch == "x86-64" || arch == "amd64") {
    arch = "amd64";
    if (variant == "v1") variant.clear();
  } else if (arch == "aarch64" || arch == "arm64") {
    arch = "arm64";
    if (variant == "8" || variant == "v8" || variant == "v8.0") variant.clear();
    if (variant == "9" || variant == "9.0" || variant == "v9.0") variant = "v9";
  } else if (arch == "armhf") {
    arch = "arm";
    variant = "v7";
  } else if (arch == "armel") {
    arch = "arm";
    variant = "v6";
  } else if (arch == "arm") {
    if (variant.empty() || variant == "7") variant = "v7";
    else if (variant == "5" || variant == "6" || variant == "8") variant = "v" + variant;
  }
  p.architecture = std::move(arch);
  p.variant = std::move(variant);
  return p;
}

Result<Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts = Split(text, '/');
  auto fail = [&](std::string_view why) {
    return Fail(Error::Invalid(fmt::format("invalid platform {}: {}", Quote(text), why)));
  };
  if (parts.size() > 3) return fail("want os/arch[/variant]");
  static const char* const kNames[] = {"os", "architecture", "variant"};
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) return fail(fmt::format("empty {}", kNames[i]));
  }
  Platform p;
  if (parts.size() == 1) {
    // A lone word is an OS if it is a known one, else an architecture.
    std::string word = ToLower(parts[0]);
    if (word == "linux" || word == "windows" || word == "darwin" || word == "freebsd" || word == "macos") {
      p.os = word;
      p.architecture = HostPlatform().architecture;
    } else {
      p.os = "linux";
      p.architecture = parts[0];
    }
  } else {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) p.variant = parts[2];
  }
  return NormalizePlatform(std::move(p));
}

std::string FormatPlatform(const Platform& p) {
  std::string out = p.os + "/" + p.architecture;
  if (!p.variant.empty()) out += "/" + p.variant;
  return out;
}

Platform HostPlatform() {
  Platform p;
  p.os = "linux";
  struct utsname u;
  if (uname(&u) != 0) {
    p.architecture = "amd64";
    return p;
  }
  std::string machine = u.machine;
  if (machine.starts_with("armv") && machine.size() >= 5) {
    p.architecture = "arm";
    p.variant = std::string("v") + machine[4];
  } else {
    p.architecture = machine;
  }
  return NormalizePlatform(std::move(p));
}

int PlatformMatchScore(const Platform& want_in, const Platform& have_in) {
  Platform want = NormalizePlatform(want_in), have = NormalizePlatform(have_in);
  if (want.os != have.os || want.architecture != have.architecture) return 0;
  if (!want.os_version.empty() && !have.os_version.empty() && want.os_version != have.os_version) return 0;
  if (want.variant == have.variant) return 1000;
  if (want.architecture == "amd64" || want.architecture == "arm" || want.architecture == "arm64") {
    int default_level = want.architecture == "amd64" ? 1 : want.architecture == "arm64" ? 8 : 7;
    int w = VariantLevel(want.variant, default_level), h = VariantLevel(have.variant, default_level);
    if (!want.variant.empty() && w >= 0 && h >= 0 && h <= w) return 500 - (w - h);
  }
  if (want.variant.empty()) return 10;
  return 0;
}

Result<Descriptor> SelectManifest(const Index& index, const Platform& want) {
  const Descriptor* best = nullptr;
  int best_score = 0;
  std::vector<std::string> available;
  for (const Descriptor& d : index.manifests) {
    auto type = d.annotations.find("vnd.docker.reference.type");
    if (type != d.annotations.end() && type->second == "attestation-manifest") continue;
    int score = 1;  // no platform: matches anything, below explicit matches
    if (d.platform) {
      available.push_back(FormatPlatform(NormalizePlatform(*d.platform)));
      score = PlatformMatchScore(want, *d.platform) * 2;
    }
    if (score > best_score) {
      best = &d;
      best_score = score;
    }
  }
  if (!best) {
    return Fail(Error::NotFound(fmt::format("no matching manifest for {} in the manifest list entries",
                                            FormatPlatform(NormalizePlatform(want))))
                    .WithHint(available.empty() ? "the index lists no manifests"
                                                : "available platforms: " + Join(available, ", ")));
  }
  return *best;
}

}  // namespace kiln::image
