#include "worker/remote_source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "registry/testing/http_server.h"

namespace kiln::worker {
namespace {

using registry::testing::HttpServer;
using registry::testing::ServerRequest;
using registry::testing::ServerResponse;

TEST(ParseHttpDateTest, ImfFixdate) {
  EXPECT_EQ(ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(ParseHttpDate(" Tue, 14 Nov 2023 22:13:20 GMT "), 1700000000);
  EXPECT_EQ(ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), std::nullopt);
  EXPECT_EQ(ParseHttpDate(""), std::nullopt);
}

class DownloadUrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = HttpServer::Start([](const ServerRequest& req) {
      ServerResponse r;
      if (req.path == "/tool") {
        r.body = "#!/bin/sh\necho tool\n";
        r.headers = {{"Last-Modified", "Tue, 14 Nov 2023 22:13:20 GMT"}};
      } else if (req.path == "/plain") {
        r.body = "plain";
      } else {
        r.status = 404;
        r.body = "nope";
      }
      return r;
    });
    ASSERT_TRUE(server);
    server_ = std::move(*server);
    http_ = registry::NewCurlHttpClient();
  }
  std::string Url(const std::string& path) const { return "http://" + server_->address() + path; }

  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<registry::HttpClient> http_;
};

TEST_F(DownloadUrlTest, WritesTheFileWithMode0600DigestAndLastModified) {
  auto got = DownloadUrl(*http_, Url("/tool"), "tool");
  ASSERT_TRUE(got) << got.error().Render();
  std::string path = got->dir->path() + "/tool";
  EXPECT_EQ(ReadFile(path).value_or("<missing>"), "#!/bin/sh\necho tool\n");
  EXPECT_EQ(got->digest, Digest::Of("#!/bin/sh\necho tool\n"));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtime, 1700000000);
  // The directory goes with the result.
  std::string dir = got->dir->path();
  got->dir.reset();
  EXPECT_FALSE(PathExists(dir));
}

TEST_F(DownloadUrlTest, WithoutLastModifiedTheMtimeIsNow) {
  auto got = DownloadUrl(*http_, Url("/plain"), "p");
  ASSERT_TRUE(got) << got.error().Render();
  struct stat st;
  ASSERT_EQ(::stat((got->dir->path() + "/p").c_str(), &st), 0);
  EXPECT_GT(st.st_mtime, 1700000000);
}

TEST_F(DownloadUrlTest, NotFoundNamesTheUrl) {
  auto got = DownloadUrl(*http_, Url("/missing"), "m");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(got.error().Summary(), "GET " + Url("/missing") + ": HTTP status 404");
}

TEST_F(DownloadUrlTest, ErrorsRedactThePassword) {
  std::string url = "http://u:pw1234@" + server_->address() + "/missing";
  auto got = DownloadUrl(*http_, url, "m");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().Summary(), "GET http://u:xxxxx@" + server_->address() + "/missing: HTTP status 404");
  auto down = DownloadUrl(*http_, "http://u:pw1234@127.0.0.1:1/x", "x");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().Render().find("pw1234"), std::string::npos) << down.error().Render();
  EXPECT_EQ(down.error().context(), (std::vector<std::string>{"downloading http://u:xxxxx@127.0.0.1:1/x"}));
}

TEST_F(DownloadUrlTest, UnreachableHostIsNetworkError) {
  // Port 1 on localhost: nothing listens there.
  auto got = DownloadUrl(*http_, "http://127.0.0.1:1/x", "x");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kNetwork);
  EXPECT_TRUE(got.error().message().starts_with("GET http://127.0.0.1:1/x: ")) << got.error().message();
  EXPECT_EQ(got.error().context(), (std::vector<std::string>{"downloading http://127.0.0.1:1/x"}));
}

}  // namespace
}  // namespace kiln::worker
