#pragma once

// .dockerignore with Docker's pattern rules (moby/patternmatcher): `**`,
// `!` exceptions (last match wins), leading `/` and `./` cleaned, comments,
// trailing spaces trimmed.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "dockerfile/dockerignore_internal.h"

namespace kiln::dockerfile {

struct IgnorePattern {
  std::string pattern;  // cleaned, without '!'
  bool exclusion = false;  // written with a leading '!'
  int line = 0;
};

// Thread-safe after construction (const methods only).
class Matcher {
 public:
  // Parses .dockerignore text. kSyntax for a malformed pattern
  // ("file:line: bad pattern").
  [[nodiscard]] static Result<Matcher> Parse(std::string_view text, std::string_view file = ".dockerignore");
  Matcher() = default;

  // True if `path` (relative to the context, '/'-separated) is excluded.
  bool Matches(std::string_view path) const;
  // True if nothing under directory `dir` can be included again, so a walk
  // may skip it entirely (it is excluded and no `!` pattern can reach into it).
  bool CanSkipDir(std::string_view dir) const;
  const std::vector<IgnorePattern>& patterns() const { return patterns_; }

 private:
  std::vector<IgnorePattern> patterns_;
  std::vector<internal::IgnoreGlob> globs_;  // compiled patterns_, same order
};

// Reads the ignore file for a build: "<dockerfile>.dockerignore" beside the
// Dockerfile (e.g. "app.Dockerfile.dockerignore" or
// "Dockerfile.dockerignore") if it exists, else "<context>/.dockerignore",
// else an empty Matcher. kIo/kSyntax name the file.
[[nodiscard]] Result<Matcher> LoadIgnoreFile(const std::string& context_dir,
                                             const std::string& dockerfile_path);

}  // namespace kiln::dockerfile
