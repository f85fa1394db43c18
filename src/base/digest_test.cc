#include "base/digest.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln {
namespace {

TEST(DigestTest, Sha256OfKnownInputs) {
  EXPECT_EQ(Digest::Of("").str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 h;
  h.Update("ab");
  h.Update("c");
  EXPECT_EQ(h.bytes(), 3u);
  EXPECT_EQ(h.Finish().hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, ParseRejectsMalformed) {
  EXPECT_TRUE(Digest::Parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  EXPECT_EQ(Digest::Parse("e3b0").error().message(), "invalid digest \"e3b0\": missing algorithm");
  EXPECT_EQ(Digest::Parse("md5:abc").error().message(),
            "invalid digest \"md5:abc\": unsupported algorithm \"md5\"");
  EXPECT_FALSE(Digest::Parse("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  EXPECT_FALSE(Digest::Parse("sha256:abc"));
}

TEST(DigestTest, Base64RoundTrip) {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\x10", 3)}) {
    auto enc = Base64Encode(s);
    EXPECT_EQ(*Base64Decode(enc), s) << enc;
  }
  EXPECT_EQ(Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
}

}  // namespace
}  // namespace kiln
