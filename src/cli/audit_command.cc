// kiln audit IMAGE|ARCHIVE [--secret ...]: scans every layer, the config,
// the history and the annotations of an image for secret values and for
// secret-looking ARG/ENV names. Exits non-zero on any finding.

#include "cli/audit_command.h"

#include <sys/stat.h>

#include <cstdio>

#include "archive/compression.h"
#include "archive/stream.h"
#include "base/fs.h"
#include "base/strings.h"
#include "cli/env.h"
#include "cli/flags.h"
#include "image/layout.h"
#include "secrets/audit.h"
#include "secrets/scanner.h"
#include "secrets/source.h"

namespace kiln::cli {

namespace {

const std::vector<FlagSpec> kAuditFlags = {
    {"secret", 0, FlagKind::kRepeated, "A secret to look for (id=ID,src=PATH or id=ID,env=VAR)", "SPEC"},
    {"quiet", 'q', FlagKind::kBool, "Print nothing; the exit status tells"},
    {"help", 'h', FlagKind::kBool, "Print usage"},
};

// Reads a stored blob, decompressing it, as the scanner's ReadFn.
class BlobByteSource : public archive::ByteSource {
 public:
  explicit BlobByteSource(store::BlobReader r) : r_(std::move(r)) {}
  Result<size_t> Read(std::span<char> buf) override { return r_.Read(buf.data(), buf.size()); }

 private:
  store::BlobReader r_;
};

struct LayerStream {
  std::unique_ptr<archive::ByteSource> raw;
  std::unique_ptr<archive::ByteSource> plain;
};

secrets::ReadFn ReadFnOf(std::shared_ptr<LayerStream> s) {
  return [s](char* buf, size_t cap) -> Result<size_t> { return s->plain->Read(std::span<char>(buf, cap)); };
}

Result<std::vector<secrets::AuditFinding>> AuditStored(Env& env, const worker::StoredImage& img,
                                                       const secrets::LeakScanner& scanner) {
  secrets::AuditInput input;
  input.config_json = img.config_json;
  input.annotations = img.manifest.annotations;
  for (const auto& l : img.manifest.layers) {
    Digest d = l.digest;
    Env* e = &env;
    input.layers.push_back({d.str(), [e, d]() -> Result<secrets::ReadFn> {
                              KILN_TRY_ASSIGN(store::BlobReader r, e->store->OpenBlob(d));
                              auto s = std::make_shared<LayerStream>();
                              s->raw = std::make_unique<BlobByteSource>(std::move(r));
                              KILN_TRY_ASSIGN(s->plain, archive::OpenDecompressor(*s->raw));
                              return ReadFnOf(s);
                            }});
  }
  return secrets::AuditImage(input, scanner);
}

}  // namespace

Result<void> RunAudit(const GlobalOptions& global, const std::vector<std::string>& argv) {
  KILN_TRY_ASSIGN(ParsedFlags flags, ParseFlags(kAuditFlags, argv, "kiln audit"));
  if (flags.Bool("help")) {
    std::fputs(("Usage: kiln audit [OPTIONS] IMAGE|ARCHIVE\n\nScan an image for leaked secrets\n\nOptions:\n" +
                FlagHelp(kAuditFlags))
                   .c_str(),
               stdout);
    return Ok();
  }
  if (flags.args().size() != 1)
    return Fail(Error::Usage("\"kiln audit\" requires exactly 1 argument").WithHint("usage: kiln audit [OPTIONS] IMAGE|ARCHIVE"));
  std::vector<secrets::SecretSpec> specs;
  for (const auto& s : flags.All("secret")) {
    KILN_TRY_ASSIGN(secrets::SecretSpec spec, secrets::ParseSecretFlag(s));
    specs.push_back(spec);
  }
  KILN_TRY_ASSIGN(secrets::SecretStore store, secrets::LoadSecrets(specs, secrets::ProcessEnv()));
  CollectingDiagnostics diags;
  auto scanner = secrets::LeakScanner::Create(store, diags);

  KILN_TRY_ASSIGN(auto env, OpenEnv(global));
  std::string target = flags.args()[0];
  std::vector<std::string> shown;
  struct stat st;
  if (::stat(target.c_str(), &st) == 0) {
    // An archive or OCI layout: load into a scratch store first, so layers
    // are read the same way.
    KILN_TRY_ASSIGN(TempDir tmp, TempDir::Create("kiln-audit"));
    KILN_TRY_ASSIGN(auto scratch, store::Store::Open(tmp.path() + "/store"));
    worker::ImageStore images(*scratch);
    Env scratch_env;
    std::vector<worker::StoredImage> loaded;
    auto visit = [&](const image::LoadedImage& li, image::BlobReader& blobs) -> Result<void> {
      std::vector<Digest> digests = {li.manifest.config.digest};
      for (const auto& l : li.manifest.layers) digests.push_back(l.digest);
      for (const auto& d : digests) {
        if (scratch->HasBlob(d)) continue;
        KILN_TRY_ASSIGN(store::BlobWriter w, scratch->blobs().Create());
        KILN_TRY(blobs.ReadBlob(d, [&w](std::string_view c) { return w.Write(c); }));
        KILN_TRY(w.Commit(d));
      }
      KILN_TRY_ASSIGN(worker::StoredImage img, images.Register(li.manifest_json, {}));
      loaded.push_back(std::move(img));
      return Ok();
    };
    KILN_TRY(image::ReadImageArchive(target, visit));
    Env view;
    view.store = std::move(scratch);
    for (const auto& img : loaded) {
      KILN_TRY_ASSIGN(auto findings, AuditStored(view, img, *scanner));
      for (const auto& f : findings) shown.push_back(secrets::DescribeAuditFinding(f));
    }
  } else {
    KILN_TRY_ASSIGN(worker::StoredImage img, env->images->Find(target));
    KILN_TRY_ASSIGN(auto findings, AuditStored(*env, img, *scanner));
    for (const auto& f : findings) shown.push_back(secrets::DescribeAuditFinding(f));
  }
  for (const auto& w : diags.warnings()) std::fprintf(stderr, "warning: %s\n", w.message.c_str());
  if (shown.empty()) {
    if (!flags.Bool("quiet"))
      std::printf("%s: no secrets found (%zu secret%s checked, plus secret-looking ARG/ENV names)\n", target.c_str(),
                  store.size(), store.size() == 1 ? "" : "s");
    return Ok();
  }
  if (!flags.Bool("quiet"))
    for (const auto& s : shown) std::printf("%s\n", s.c_str());
  return Fail(Error::Invalid(fmt::format("{}: {} finding{}", target, shown.size(), shown.size() == 1 ? "" : "s"))
                  .WithHint("rebuild without writing secrets into layers, ENV, ARG or labels"));
}

}  // namespace kiln::cli
