#include "image/reference.h"

#include <gtest/gtest.h>

#include <string>

namespace kiln::image {
namespace {

const std::string kHex = "a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4";
const std::string kDigest = "sha256:" + kHex;

struct ValidCase {
  std::string input;
  std::string normalized;  // String()
  std::string familiar;    // FamiliarString()
  std::string domain;
  std::string path;
  std::string tag;
};

TEST(ReferenceTest, ValidReferencesNormalizeLikeDocker) {
  const ValidCase cases[] = {
      {"busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox", "latest"},
      {"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36", "docker.io", "library/busybox", "1.36"},
      {"user/repo", "docker.io/user/repo:latest", "user/repo:latest", "docker.io", "user/repo", "latest"},
      {"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io", "library/busybox",
       "latest"},
      {"index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest", "docker.io",
       "library/busybox", "latest"},
      {"docker.io/library/busybox:musl", "docker.io/library/busybox:musl", "busybox:musl", "docker.io",
       "library/busybox", "musl"},
      {"docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest", "docker.io", "library/a/b",
       "latest"},
      {"localhost/x", "localhost/x:latest", "localhost/x:latest", "localhost", "x", "latest"},
      {"localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000/a/b:tag", "localhost:5000", "a/b",
       "tag"},
      {"registry.example.com:443/team/app:v1.2.3-rc_1", "registry.example.com:443/team/app:v1.2.3-rc_1",
       "registry.example.com:443/team/app:v1.2.3-rc_1", "registry.example.com:443", "team/app", "v1.2.3-rc_1"},
      {"ghcr.io/a/b", "ghcr.io/a/b:latest", "ghcr.io/a/b:latest", "ghcr.io", "a/b", "latest"},
      // "host" has no '.' or ':' and is not localhost, so it is a path component.
      {"host/a@" + kDigest, "docker.io/host/a@" + kDigest, "host/a@" + kDigest, "docker.io", "host/a", ""},
      {"host.io/a@" + kDigest, "host.io/a@" + kDigest, "host.io/a@" + kDigest, "host.io", "a", ""},
      {"a:tag@" + kDigest, "docker.io/library/a:tag@" + kDigest, "a:tag@" + kDigest, "docker.io", "library/a",
       "tag"},
      {"Foo/bar", "Foo/bar:latest", "Foo/bar:latest", "Foo", "bar", "latest"},
      // The familiar form keeps docker.io when the path starts like a domain.
      {"docker.io/foo.bar/x", "docker.io/foo.bar/x:latest", "docker.io/foo.bar/x:latest", "docker.io", "foo.bar/x",
       "latest"},
      {"docker.io/localhost/x", "docker.io/localhost/x:latest", "docker.io/localhost/x:latest", "docker.io",
       "localhost/x", "latest"},
      {"[::1]:5000/x", "[::1]:5000/x:latest", "[::1]:5000/x:latest", "[::1]:5000", "x", "latest"},
      {"localhost:5000", "docker.io/library/localhost:5000", "localhost:5000", "docker.io", "library/localhost",
       "5000"},
      {"a.b-c.d/g", "a.b-c.d/g:latest", "a.b-c.d/g:latest", "a.b-c.d", "g", "latest"},
      {"x/a.b_c__d-e---f", "docker.io/x/a.b_c__d-e---f:latest", "x/a.b_c__d-e---f:latest", "docker.io",
       "x/a.b_c__d-e---f", "latest"},
      {"x:_T.a-" + std::string(121, 'z'), "docker.io/library/x:_T.a-" + std::string(121, 'z'),
       "x:_T.a-" + std::string(121, 'z'), "docker.io", "library/x", "_T.a-" + std::string(121, 'z')},
  };
  for (const ValidCase& c : cases) {
    SCOPED_TRACE(c.input);
    auto ref = Reference::Parse(c.input);
    ASSERT_TRUE(ref) << ref.error().message();
    EXPECT_EQ(ref->String(), c.normalized);
    EXPECT_EQ(ref->FamiliarString(), c.familiar);
    EXPECT_EQ(ref->domain(), c.domain);
    EXPECT_EQ(ref->path(), c.path);
    EXPECT_EQ(ref->tag(), c.tag);
    // Normalized output parses back to itself.
    auto again = Reference::Parse(ref->String());
    ASSERT_TRUE(again) << again.error().message();
    EXPECT_EQ(*again, *ref);
    auto familiar = Reference::Parse(ref->FamiliarString());
    ASSERT_TRUE(familiar) << familiar.error().message();
    EXPECT_EQ(*familiar, *ref);
  }
}

TEST(ReferenceTest, DigestIsKept) {
  auto ref = Reference::Parse("a:tag@" + kDigest);
  ASSERT_TRUE(ref);
  ASSERT_TRUE(ref->digest().has_value());
  EXPECT_EQ(ref->digest()->str(), kDigest);
  EXPECT_EQ(ref->Name(), "docker.io/library/a");
  EXPECT_EQ(ref->FamiliarName(), "a");
}

TEST(ReferenceTest, NoDefaultTagOnRequest) {
  auto ref = Reference::Parse("busybox", DefaultTag::kNone);
  ASSERT_TRUE(ref);
  EXPECT_EQ(ref->String(), "docker.io/library/busybox");
  EXPECT_EQ(ref->FamiliarString(), "busybox");
}

struct InvalidCase {
  std::string input;
  std::string message;
};

TEST(ReferenceTest, InvalidReferencesGiveClearErrors) {
  const InvalidCase cases[] = {
      {"", R"(invalid reference format "": repository name must have at least one component)"},
      {"Busybox", R"(invalid reference format "Busybox": repository name must be lowercase)"},
      {"docker.io/Library/busybox", R"(invalid reference format "docker.io/Library/busybox": repository name must be lowercase)"},
      {"ghcr.io/a/B:tag", R"(invalid reference format "ghcr.io/a/B:tag": repository name must be lowercase)"},
      {"busybox:", R"(invalid reference format "busybox:": invalid tag "")"},
      {"busybox:-x", R"(invalid reference format "busybox:-x": invalid tag "-x")"},
      {"busybox:a:b", R"(invalid reference format "busybox:a:b": invalid tag "a:b")"},
      {"busybox:" + std::string(129, 'a'),
       "invalid reference format \"busybox:" + std::string(129, 'a') + "\": invalid tag \"" +
           std::string(129, 'a') + "\""},
      {"a b", R"(invalid reference format "a b": invalid path component "a b")"},
      {"a//b", R"(invalid reference format "a//b": invalid path component "")"},
      {"a/b/", R"(invalid reference format "a/b/": invalid path component "")"},
      {"a/-b", R"(invalid reference format "a/-b": invalid path component "-b")"},
      {"a/b.", R"(invalid reference format "a/b.": invalid path component "b.")"},
      {"a/b___c", R"(invalid reference format "a/b___c": invalid path component "b___c")"},
      {"-host.io/a", R"(invalid reference format "-host.io/a": invalid domain "-host.io")"},
      {"host.io:port/a", R"(invalid reference format "host.io:port/a": invalid domain "host.io:port")"},
      {"a.b_c/g", R"(invalid reference format "a.b_c/g": invalid domain "a.b_c")"},
      {"host..io/a", R"(invalid reference format "host..io/a": invalid domain "host..io")"},
      {"host.io/", R"(invalid reference format "host.io/": repository name must have at least one component)"},
      {"a@sha256:abc", R"(invalid reference format "a@sha256:abc": invalid digest "sha256:abc")"},
      {"a@" + kDigest.substr(0, 70) + "X",
       "invalid reference format \"a@" + kDigest.substr(0, 70) + "X\": invalid digest \"" + kDigest.substr(0, 70) +
           "X\""},
      {"a@sha256:" + std::string(64, 'A'),
       "invalid reference format \"a@sha256:" + std::string(64, 'A') + "\": invalid digest \"sha256:" +
           std::string(64, 'A') + "\": want 64 lowercase hex digits"},
      {"a@md5:" + std::string(32, 'a'),
       "invalid reference format \"a@md5:" + std::string(32, 'a') + "\": invalid digest \"md5:" +
           std::string(32, 'a') + "\": unsupported algorithm \"md5\""},
      {kHex, "invalid repository name \"" + kHex + "\": cannot specify 64-byte hexadecimal strings"},
      {"h.io/" + std::string(251, 'a'),
       "invalid reference format \"h.io/" + std::string(251, 'a') +
           "\": repository name must not be more than 255 characters"},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.input);
    auto ref = Reference::Parse(c.input);
    ASSERT_FALSE(ref) << ref->String();
    EXPECT_EQ(ref.error().code(), ErrorCode::kInvalid);
    EXPECT_EQ(ref.error().message(), c.message);
  }
}

TEST(ReferenceTest, NameOfExactly255CharactersIsAllowed) {
  auto ref = Reference::Parse("h.io/" + std::string(250, 'a'));
  ASSERT_TRUE(ref) << ref.error().message();
  EXPECT_EQ(ref->Name().size(), 255u);
}

TEST(ReferenceTest, WithTagWithDigestAndNameOnly) {
  auto ref = Reference::Parse("ghcr.io/a/b:1");
  ASSERT_TRUE(ref);
  auto retagged = ref->WithTag("2");
  ASSERT_TRUE(retagged);
  EXPECT_EQ(retagged->String(), "ghcr.io/a/b:2");
  auto bad = ref->WithTag(".x");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), R"(invalid tag format ".x")");
  auto digest = Digest::Parse(kDigest);
  ASSERT_TRUE(digest);
  EXPECT_EQ(ref->WithDigest(*digest).String(), "ghcr.io/a/b:1@" + kDigest);
  EXPECT_EQ(ref->WithDigest(*digest).NameOnly().String(), "ghcr.io/a/b");
}

TEST(ReferenceTest, FromPartsValidates) {
  auto ok = Reference::FromParts("docker.io", "library/alpine", "3.19", std::nullopt);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->FamiliarString(), "alpine:3.19");
  auto bad = Reference::FromParts("docker.io", "library/Alpine", "", std::nullopt);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(),
            R"(invalid reference format "docker.io/library/Alpine": repository name must be lowercase)");
}

TEST(ReferenceTest, TagGrammar) {
  EXPECT_TRUE(IsValidTag("latest"));
  EXPECT_TRUE(IsValidTag("_"));
  EXPECT_TRUE(IsValidTag("1.0-RC.1_x"));
  EXPECT_TRUE(IsValidTag(std::string(128, 'a')));
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
  EXPECT_FALSE(IsValidTag(""));
  EXPECT_FALSE(IsValidTag(".a"));
  EXPECT_FALSE(IsValidTag("-a"));
  EXPECT_FALSE(IsValidTag("a+b"));
}

}  // namespace
}  // namespace kiln::image
