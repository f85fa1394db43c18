#pragma once

// Opt-in, change-aware cache keys for steps that mount secrets. By default a
// secret's value does not enter the cache key (BuildKit's behaviour): a
// changed token does not re-run the step. With the option on, the key gets
// SecretCacheToken(), an HMAC-SHA256 of the value under a random key that
// stays in the local store, so the cache key changes with the value while a
// copy of the exported cache alone does not let anyone test guesses offline.
// Design and limits: docs/secrets.md, "Change-aware cache".

#include <string>
#include <string_view>

#include "base/error.h"
#include "secrets/secret_value.h"

namespace kiln::secrets {

inline constexpr size_t kCacheKeyKeySize = 32;

// 32 bytes from the kernel's CSPRNG. kIo if getrandom(2) fails.
Result<SecretValue> GenerateCacheKeyKey();

// Reads the key at `path` (inside the store, e.g. <root>/secrets/cache.key),
// creating it with mode 0600 if missing. kInvalid if the file exists with a
// size other than 32 bytes or is accessible to group/other; kIo otherwise.
Result<SecretValue> LoadOrCreateCacheKeyKey(const std::string& path);

// "hmac-sha256:<64 hex>" of `value` under `key`. kInvalid unless `key` is
// exactly kCacheKeyKeySize bytes. Deterministic and thread-safe.
Result<std::string> SecretCacheToken(const SecretValue& key, std::string_view value);

}  // namespace kiln::secrets
