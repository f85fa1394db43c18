#include "secrets/cache_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/digest.h"
#include "base/fs.h"

namespace kiln::secrets {

Result<SecretValue> GenerateCacheKeyKey() {
  SecretValue key = SecretValue::WithSize(kCacheKeyKeySize);
  size_t got = 0;
  while (got < key.size()) {
    ssize_t n = getrandom(key.data() + got, key.size() - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(Error::Errno("getrandom", errno));
    }
    got += n;
  }
  return key;
}

Result<SecretValue> LoadOrCreateCacheKeyKey(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0 && errno == ENOENT) {
    KILN_TRY_ASSIGN(auto key, GenerateCacheKeyKey());
    KILN_TRY(WriteFileAtomic(path, key.view(), Durability::kFsync, 0600));
    return key;
  }
  if (fd < 0) return Fail(Error::Io(path, errno, "open"));
  Fd owned(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return Fail(Error::Io(path, errno, "stat"));
  if ((st.st_mode & 077) != 0)
    return Fail(Error::Invalid(fmt::format("{}: cache key file must not be accessible to group or "
                                           "others (mode {:04o})",
                                           path, st.st_mode & 07777)));
  if (st.st_size != static_cast<off_t>(kCacheKeyKeySize))
    return Fail(Error::Invalid(fmt::format("{}: cache key file is {} bytes, want {}", path,
                                           st.st_size, kCacheKeyKeySize)));
  SecretValue key = SecretValue::WithSize(kCacheKeyKeySize);
  size_t got = 0;
  while (got < key.size()) {
    ssize_t n = read(fd, key.data() + got, key.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(Error::Io(path, errno, "read"));
    if (n == 0) return Fail(Error::Invalid(fmt::format("{}: cache key file is truncated", path)));
    got += n;
  }
  return key;
}

Result<std::string> SecretCacheToken(const SecretValue& key, std::string_view value) {
  if (key.size() != kCacheKeyKeySize)
    return Fail(Error::Invalid(
        fmt::format("secret cache key is {} bytes, want {}", key.size(), kCacheKeyKeySize)));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.view().data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(value.data()), value.size(), mac, &len) ==
      nullptr)
    return Fail(Error::Invalid("HMAC-SHA256 failed"));
  return "hmac-sha256:" + HexEncode(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace kiln::secrets
