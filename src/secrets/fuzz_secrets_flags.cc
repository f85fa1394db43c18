// libFuzzer target for the --secret/--ssh flag parsers, the masker, the
// leak scanner, the in-process agent's request parser and the key parser. The first byte picks the target; the rest is its input.
// Masker/scanner inputs are "secret\x01secret...\x00text", and the text is
// fed in chunks whose sizes come from the text itself.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "secrets/masker.h"
#include "secrets/scanner.h"
#include "secrets/source.h"
#include "secrets/ssh_agent.h"
#include "secrets/ssh_key.h"

namespace {

using namespace kiln::secrets;

void Check(bool ok) {
  if (!ok) std::abort();
}

std::vector<size_t> Chunks(std::string_view text) {
  std::vector<size_t> cuts;
  size_t pos = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    pos += 1 + static_cast<unsigned char>(text[i]) % 17;
    if (pos >= text.size()) break;
    cuts.push_back(pos);
  }
  return cuts;
}

void FuzzMasker(std::string_view secrets_part, std::string_view text) {
  std::vector<std::string> secrets = kiln::Split(secrets_part, '\x01');
  std::vector<std::string_view> views(secrets.begin(), secrets.end());
  auto masker = Masker::FromValues(views);
  std::string want = masker->MaskString(text);
  auto stream = masker->NewStream();
  std::string got;
  size_t pos = 0;
  for (size_t cut : Chunks(text)) {
    got += stream->Write(text.substr(pos, cut - pos));
    pos = cut;
  }
  got += stream->Write(text.substr(pos));
  got += stream->Flush();
  Check(got == want);
  // With no '*' in any secret, no maskable pattern survives.
  for (const auto& s : secrets) {
    if (s.find('*') != std::string::npos) return;
  }
  for (const auto& s : secrets)
    for (std::string_view p : MaskPatternsOf(s))
      if (p.size() >= kMinMaskLength) Check(want.find(p) == std::string::npos);
}

void FuzzScanner(std::string_view secrets_part, std::string_view text) {
  std::vector<std::pair<std::string, std::string_view>> values;
  std::vector<std::string> secrets = kiln::Split(secrets_part, '\x01');
  for (size_t i = 0; i < secrets.size(); ++i) values.emplace_back(std::to_string(i), secrets[i]);
  auto scanner = LeakScanner::FromValues(values);
  auto whole = scanner->ScanBytes(text, "f", FoundIn::kContent);
  auto stream = scanner->NewStream("f", FoundIn::kContent);
  size_t pos = 0;
  for (size_t cut : Chunks(text)) {
    stream->Feed(text.substr(pos, cut - pos));
    pos = cut;
  }
  stream->Feed(text.substr(pos));
  Check(stream->Finish() == whole);
  // The text as a tar stream: must fail cleanly or succeed, never crash.
  size_t off = 0;
  (void)scanner->ScanTar([&](char* buf, size_t cap) -> kiln::Result<size_t> {
    size_t n = std::min(cap, text.size() - off);
    std::copy(text.begin() + off, text.begin() + off + n, buf);
    off += n;
    return n;
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: {
      auto spec = ParseSecretFlag(in);
      if (spec) Check(!spec->id.empty());
      break;
    }
    case 1: {
      auto spec = ParseSshFlag(in);
      if (spec) {
        Check(!spec->id.empty());
        for (const auto& p : spec->paths) Check(!p.empty());
      }
      break;
    }
    case 2:
    case 3: {
      size_t nul = in.find('\0');
      std::string_view secrets = nul == std::string_view::npos ? in : in.substr(0, nul);
      std::string_view text = nul == std::string_view::npos ? "" : in.substr(nul + 1);
      if (data[0] % 6 == 2) FuzzMasker(secrets, text);
      else FuzzScanner(secrets, text);
      break;
    }
    case 4: {
      // Agent requests come from inside the container: untrusted.
      static auto agent = KeyAgent({});
      auto conn = agent->Connect();
      if (conn && !in.empty()) {
        auto reply = (*conn)->Roundtrip(in, -1);
        Check(reply && !reply->empty());
      }
      break;
    }
    case 5:
      (void)SshKey::Parse(in, "fuzz");
      break;
  }
  return 0;
}
