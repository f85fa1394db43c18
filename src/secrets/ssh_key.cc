#include "secrets/ssh_key.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "base/digest.h"
#include "base/fs.h"
#include "base/strings.h"
#include "secrets/secret_value.h"
#include "secrets/ssh_wire_internal.h"

namespace kiln::secrets {

using internal::MpintMagnitude;
using internal::PutMpint;
using internal::PutString;
using internal::WireReader;

struct SshKey::Impl {
  SshKeyType type;
  std::string blob;
  std::string comment;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey{nullptr, &EVP_PKEY_free};
};

namespace {

constexpr std::string_view kOpensshBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kOpensshEnd = "-----END OPENSSH PRIVATE KEY-----";
constexpr std::string_view kMagic{"openssh-key-v1\0", 15};

struct BnFree {
  void operator()(BIGNUM* b) const { BN_clear_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

Bn BnFrom(std::string_view mag) {
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(mag.data()),
                      static_cast<int>(mag.size()), nullptr));
}

std::string BnBytes(const BIGNUM* b) {
  std::string out(BN_num_bytes(b), '\0');
  BN_bn2bin(b, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string Ed25519Blob(std::string_view pub) {
  std::string blob;
  PutString(&blob, "ssh-ed25519");
  PutString(&blob, pub);
  return blob;
}

std::string RsaBlob(std::string_view e, std::string_view n) {
  std::string blob;
  PutString(&blob, "ssh-rsa");
  PutMpint(&blob, e);
  PutMpint(&blob, n);
  return blob;
}

Result<std::unique_ptr<SshKey::Impl>> RsaFromParts(std::string_view n, std::string_view e,
                                                   std::string_view d, std::string_view iqmp,
                                                   std::string_view p, std::string_view q) {
  Bn bn_n = BnFrom(n), bn_e = BnFrom(e), bn_d = BnFrom(d), bn_iqmp = BnFrom(iqmp),
     bn_p = BnFrom(p), bn_q = BnFrom(q), dmp1(BN_new()), dmq1(BN_new()), tmp(BN_new());
  std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)> ctx(BN_CTX_new(), &BN_CTX_free);
  if (!bn_n || !bn_e || !bn_d || !bn_iqmp || !bn_p || !bn_q || !dmp1 || !dmq1 || !tmp || !ctx)
    return Fail(Error::Invalid("out of memory loading RSA key"));
  // OpenSSH stores no CRT exponents; derive d mod (p-1) and d mod (q-1).
  if (!BN_sub(tmp.get(), bn_p.get(), BN_value_one()) ||
      !BN_mod(dmp1.get(), bn_d.get(), tmp.get(), ctx.get()) ||
      !BN_sub(tmp.get(), bn_q.get(), BN_value_one()) ||
      !BN_mod(dmq1.get(), bn_d.get(), tmp.get(), ctx.get()))
    return Fail(Error::Invalid("invalid RSA key parameters"));
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(),
                                                                      &OSSL_PARAM_BLD_free);
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, bn_d.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, bn_p.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, bn_q.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, bn_iqmp.get()))
    return Fail(Error::Invalid("invalid RSA key parameters"));
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(OSSL_PARAM_BLD_to_param(bld.get()),
                                                                 &OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> pctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr), &EVP_PKEY_CTX_free);
  EVP_PKEY* pkey = nullptr;
  if (!params || !pctx || EVP_PKEY_fromdata_init(pctx.get()) <= 0 ||
      EVP_PKEY_fromdata(pctx.get(), &pkey, EVP_PKEY_KEYPAIR, params.get()) <= 0)
    return Fail(Error::Invalid("invalid RSA key parameters"));
  auto impl = std::make_unique<SshKey::Impl>();
  impl->type = SshKeyType::kRsa;
  impl->pkey.reset(pkey);
  impl->blob = RsaBlob(e, n);
  return impl;
}

Result<std::unique_ptr<SshKey::Impl>> ParseOpenssh(std::string_view text) {
  size_t b = text.find(kOpensshBegin), e = text.find(kOpensshEnd);
  if (e == std::string_view::npos || e < b)
    return Fail(Error::Invalid("missing \"-----END OPENSSH PRIVATE KEY-----\""));
  std::string body;
  for (char c : text.substr(b + kOpensshBegin.size(), e - b - kOpensshBegin.size()))
    if (!std::isspace(static_cast<unsigned char>(c))) body += c;
  auto decoded_r = Base64Decode(body);
  SecureZero(body.data(), body.size());
  if (!decoded_r) return Fail(Error::Invalid("bad base64 in OpenSSH private key"));
  // Held in a SecretValue so the decoded private key is wiped on every path.
  SecretValue decoded(*decoded_r);
  SecureZero(decoded_r->data(), decoded_r->size());
  std::string_view data = decoded.view();
  if (data.substr(0, kMagic.size()) != kMagic)
    return Fail(Error::Invalid("not an openssh-key-v1 private key"));
  WireReader r(data.substr(kMagic.size()));
  KILN_TRY_ASSIGN(auto cipher, r.String("cipher name"));
  KILN_TRY_ASSIGN(auto kdf, r.String("kdf name"));
  KILN_TRY(r.String("kdf options"));
  KILN_TRY_ASSIGN(uint32_t nkeys, r.U32("key count"));
  if (cipher != "none" || kdf != "none")
    return Fail(Error::Unsupported("the key is encrypted with a passphrase")
                    .WithHint("add it to ssh-agent with ssh-add and pass --ssh ID=$SSH_AUTH_SOCK"));
  if (nkeys != 1)
    return Fail(Error::Unsupported(fmt::format("the file holds {} keys; want exactly 1", nkeys)));
  KILN_TRY(r.String("public key"));
  KILN_TRY_ASSIGN(auto priv, r.String("private section"));
  WireReader p(priv);
  KILN_TRY_ASSIGN(uint32_t check1, p.U32("check bytes"));
  KILN_TRY_ASSIGN(uint32_t check2, p.U32("check bytes"));
  if (check1 != check2) return Fail(Error::Invalid("private section check bytes differ"));
  KILN_TRY_ASSIGN(auto type, p.String("key type"));
  std::unique_ptr<SshKey::Impl> impl;
  if (type == "ssh-ed25519") {
    KILN_TRY_ASSIGN(auto pub, p.String("ed25519 public key"));
    KILN_TRY_ASSIGN(auto sk, p.String("ed25519 private key"));
    if (pub.size() != 32 || sk.size() != 64 || sk.substr(32) != pub)
      return Fail(Error::Invalid("malformed ed25519 key"));
    EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(
        EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(sk.data()), 32);
    if (!pkey) return Fail(Error::Invalid("malformed ed25519 key"));
    impl = std::make_unique<SshKey::Impl>();
    impl->type = SshKeyType::kEd25519;
    impl->pkey.reset(pkey);
    impl->blob = Ed25519Blob(pub);
  } else if (type == "ssh-rsa") {
    KILN_TRY_ASSIGN(auto n, p.String("rsa n"));
    KILN_TRY_ASSIGN(auto e, p.String("rsa e"));
    KILN_TRY_ASSIGN(auto d, p.String("rsa d"));
    KILN_TRY_ASSIGN(auto iqmp, p.String("rsa iqmp"));
    KILN_TRY_ASSIGN(auto pp, p.String("rsa p"));
    KILN_TRY_ASSIGN(auto q, p.String("rsa q"));
    KILN_TRY_ASSIGN(impl, RsaFromParts(MpintMagnitude(n), MpintMagnitude(e), MpintMagnitude(d),
                                       MpintMagnitude(iqmp), MpintMagnitude(pp),
                                       MpintMagnitude(q)));
  } else {
    return Fail(Error::Unsupported(
        fmt::format("key type {} is not supported (ed25519 and RSA are)", Quote(type))));
  }
  KILN_TRY_ASSIGN(auto comment, p.String("comment"));
  impl->comment = std::string(comment);
  return impl;
}

Result<std::unique_ptr<SshKey::Impl>> ParsePem(std::string_view text) {
  if (text.find("ENCRYPTED") != std::string_view::npos)
    return Fail(Error::Unsupported("the key is encrypted with a passphrase")
                    .WithHint("add it to ssh-agent with ssh-add and pass --ssh ID=$SSH_AUTH_SOCK"));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(text.data(), static_cast<int>(text.size())), &BIO_free);
  // A null password callback that refuses: never prompt on the terminal.
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (!pkey) return Fail(Error::Invalid("not a PEM private key OpenSSL can read"));
  auto impl = std::make_unique<SshKey::Impl>();
  impl->pkey.reset(pkey);
  int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_ED25519) {
    unsigned char pub[32];
    size_t len = sizeof pub;
    if (EVP_PKEY_get_raw_public_key(pkey, pub, &len) != 1 || len != 32)
      return Fail(Error::Invalid("malformed ed25519 key"));
    impl->type = SshKeyType::kEd25519;
    impl->blob = Ed25519Blob(std::string_view(reinterpret_cast<char*>(pub), len));
  } else if (id == EVP_PKEY_RSA) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      BN_free(e);
      return Fail(Error::Invalid("malformed RSA key"));
    }
    Bn nn(n), ee(e);
    impl->type = SshKeyType::kRsa;
    impl->blob = RsaBlob(BnBytes(ee.get()), BnBytes(nn.get()));
  } else {
    return Fail(Error::Unsupported(fmt::format("key type {} is not supported (ed25519 and RSA are)",
                                               OBJ_nid2sn(id))));
  }
  return impl;
}

}  // namespace

Result<SshKey> SshKey::Parse(std::string_view text, std::string_view name) {
  Result<std::unique_ptr<Impl>> impl =
      text.find(kOpensshBegin) != std::string_view::npos ? ParseOpenssh(text) : ParsePem(text);
  if (!impl) {
    Error e = std::move(impl).error();
    return Fail(Error(e.code(), fmt::format("ssh key {}: {}", name, e.message()))
                    .WithHint(e.hint()));
  }
  if ((*impl)->comment.empty()) (*impl)->comment = std::string(name);
  return SshKey(std::shared_ptr<const Impl>(std::move(*impl)));
}

Result<SshKey> SshKey::FromFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text) {
    Error e = std::move(text).error();
    if (e.sys_errno() != 0) e = Error::Io(path, e.sys_errno());
    return Fail(Error(e.code(), "ssh key " + e.message()).WithErrno(e.sys_errno()));
  }
  auto key = Parse(*text, path);
  SecureZero(text->data(), text->size());
  return key;
}

SshKeyType SshKey::type() const { return impl_->type; }
const std::string& SshKey::public_blob() const { return impl_->blob; }
const std::string& SshKey::comment() const { return impl_->comment; }

std::string SshKey::AuthorizedKey() const {
  std::string algo = impl_->type == SshKeyType::kEd25519 ? "ssh-ed25519" : "ssh-rsa";
  return fmt::format("{} {} {}", algo, Base64Encode(impl_->blob), impl_->comment);
}

std::string SshKey::Fingerprint() const {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(impl_->blob.data()), impl_->blob.size(), md);
  std::string b64 = Base64Encode(std::string_view(reinterpret_cast<char*>(md), sizeof md));
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  return "SHA256:" + b64;
}

Result<std::string> SshKey::Sign(std::string_view data, uint32_t flags) const {
  const EVP_MD* md = nullptr;
  std::string algo = "ssh-ed25519";
  if (impl_->type == SshKeyType::kRsa) {
    if (flags & kSshAgentRsaSha2_512) {
      md = EVP_sha512();
      algo = "rsa-sha2-512";
    } else if (flags & kSshAgentRsaSha2_256) {
      md = EVP_sha256();
      algo = "rsa-sha2-256";
    } else {
      md = EVP_sha1();
      algo = "ssh-rsa";
    }
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, impl_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, data.size()) != 1)
    return Fail(Error::Invalid(fmt::format("signing with {} failed", algo)));
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                     data.size()) != 1)
    return Fail(Error::Invalid(fmt::format("signing with {} failed", algo)));
  sig.resize(len);
  std::string blob;
  PutString(&blob, algo);
  PutString(&blob, sig);
  return blob;
}

}  // namespace kiln::secrets
