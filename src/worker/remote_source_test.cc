#include "worker/remote_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <mutex>

#include "base/digest.h"
#include "base/fs.h"
#include "base/strings.h"
#include "registry/testing/http_server.h"
#include "sys/process.h"

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

// Runs every process for real and records its argv, joined by ' '.
class RecordingRunner : public sys::ProcessRunner {
 public:
  Result<std::unique_ptr<sys::Process>> Start(const sys::ProcessSpec& spec) override {
    {
      std::lock_guard lock(mu_);
      argvs_.push_back(Join(spec.argv, " "));
    }
    return real_->Start(spec);
  }
  std::vector<std::string> argvs() const {
    std::lock_guard lock(mu_);
    return argvs_;
  }

 private:
  std::unique_ptr<sys::ProcessRunner> real_ = sys::NewRealProcessRunner();
  mutable std::mutex mu_;
  std::vector<std::string> argvs_;
};

// Sets an environment variable for one test (git reads kiln's environment).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

// A git smart-HTTP server on 127.0.0.1 that wants basic auth: `git
// http-backend` as a CGI behind a check of the Authorization header,
// serving repo.git, whose main branch has hello.txt. On every request it
// also reads the command line of every process on the machine, so a
// password on a git argv (git's own children included) is caught while
// git runs.
class GitAuthTest : public ::testing::Test {
 protected:
  static constexpr const char* kUser = "alice";
  static constexpr const char* kPassword = "pa:ss/w@rd%";
  static constexpr const char* kPasswordInUrl = "pa%3Ass%2Fw%40rd%25";

  void SetUp() override {
    auto tmp = TempDir::Create("kiln-git-auth-test");
    ASSERT_TRUE(tmp);
    tmp_ = std::make_unique<TempDir>(std::move(*tmp));
    std::string src = tmp_->path() + "/src";
    std::string git_id = "-c user.name=t -c user.email=t@example.com";
    Sh("git init -q -b main " + src + " && echo hello >" + src + "/hello.txt && git -C " + src +
       " add -A && git " + git_id + " -C " + src + " commit -q -m one && git clone -q --bare " + src + " " +
       tmp_->path() + "/repo.git");
    main_commit_ = std::string(TrimSpace(Sh("git -C " + src + " rev-parse HEAD")));
    SetWantAuth(std::string(kUser) + ":" + kPassword);
    auto server =
        registry::testing::HttpServer::Start([this](const ServerRequest& req) { return Serve(req); });
    ASSERT_TRUE(server);
    server_ = std::move(*server);
  }

  // Runs `cmd` with sh, expecting success; returns its stdout.
  std::string Sh(const std::string& cmd) {
    auto out = backend_->Run(sys::ProcessSpec{{"sh", "-ec", cmd}});
    EXPECT_TRUE(out && out->status.success()) << cmd << ": " << (out ? out->err : out.error().Render());
    return out ? out->out : "";
  }

  // "http://<userinfo>@127.0.0.1:PORT/repo.git".
  std::string Url(const std::string& userinfo) const {
    return "http://" + (userinfo.empty() ? "" : userinfo + "@") + server_->address() + "/repo.git";
  }
  std::string RedactedUrl() const { return "http://alice:xxxxx@" + server_->address() + "/repo.git"; }

  // The forms a leaked password would take: as given, as in the URL, as
  // the Authorization header carries it.
  std::vector<std::string> Needles() const {
    return {kPassword, kPasswordInUrl, Base64Encode(std::string(kUser) + ":" + kPassword)};
  }
  // The credentials the server accepts, "user:password".
  void SetWantAuth(const std::string& credentials) {
    std::lock_guard lock(mu_);
    want_auth_ = "Basic " + Base64Encode(credentials);
  }
  bool HasNeedle(std::string_view text) const {
    for (const auto& n : Needles())
      if (text.find(n) != std::string_view::npos) return true;
    return false;
  }
  // Paths of the files under `dir` that hold the password in any form.
  std::vector<std::string> FilesWithPassword(const std::string& dir) const {
    std::vector<std::string> hits;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
      if (!entry.is_regular_file()) continue;
      auto data = ReadFile(entry.path());
      if (data && HasNeedle(*data)) hits.push_back(entry.path());
    }
    return hits;
  }

  ServerResponse Serve(const ServerRequest& req) {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      auto cmdline = ReadFile(entry.path() / "cmdline");
      if (!cmdline || !HasNeedle(*cmdline)) continue;
      std::replace(cmdline->begin(), cmdline->end(), '\0', ' ');
      std::lock_guard lock(mu_);
      leaked_argvs_.push_back(*cmdline);
    }
    ServerResponse r;
    {
      std::lock_guard lock(mu_);
      if (req.Header("authorization") != want_auth_) {
        r.status = 401;
        r.headers = {{"WWW-Authenticate", "Basic realm=\"git\""}};
        return r;
      }
      ++authorized_;
    }
    const char* path = std::getenv("PATH");
    sys::ProcessSpec cgi{{"git", "http-backend"},
                         std::vector<std::string>{
                             "PATH=" + std::string(path ? path : "/usr/bin:/bin"),
                             "GIT_PROJECT_ROOT=" + tmp_->path(),
                             "GIT_HTTP_EXPORT_ALL=1",
                             "REQUEST_METHOD=" + req.method,
                             "PATH_INFO=" + req.path,
                             "QUERY_STRING=" + req.query,
                             "CONTENT_TYPE=" + req.Header("content-type").value_or(""),
                             "CONTENT_LENGTH=" + std::to_string(req.body.size()),
                             "HTTP_CONTENT_ENCODING=" + req.Header("content-encoding").value_or(""),
                             "HTTP_GIT_PROTOCOL=" + req.Header("git-protocol").value_or(""),
                             "REMOTE_USER=alice",
                             "REMOTE_ADDR=127.0.0.1",
                         },
                         "",
                         req.body};
    auto out = backend_->Run(cgi);
    if (!out || !out->status.success()) {
      r.status = 500;
      return r;
    }
    // CGI output: header lines ("Status: 404 Not Found" among them), a
    // blank line, the body.
    size_t blank = out->out.find("\r\n\r\n");
    if (blank == std::string::npos) {
      r.status = 500;
      return r;
    }
    for (const auto& line : Split(out->out.substr(0, blank), '\n')) {
      Cut c = CutString(TrimSpace(line), ':');
      if (!c.found) continue;
      if (ToLower(c.first) == "status")
        r.status = std::stoi(std::string(TrimSpace(c.second)));
      else
        r.headers.emplace_back(std::string(c.first), std::string(TrimSpace(c.second)));
    }
    r.body = out->out.substr(blank + 4);
    return r;
  }

  std::vector<std::string> ArgvsWithPassword() const {
    std::vector<std::string> hits;
    for (const auto& argv : runner_.argvs())
      if (HasNeedle(argv)) hits.push_back(argv);
    return hits;
  }
  std::vector<std::string> leaked_argvs() {
    std::lock_guard lock(mu_);
    return leaked_argvs_;
  }
  int authorized() {
    std::lock_guard lock(mu_);
    return authorized_;
  }

  std::unique_ptr<TempDir> tmp_;
  std::string main_commit_;
  RecordingRunner runner_;
  std::unique_ptr<sys::ProcessRunner> backend_ = sys::NewRealProcessRunner();
  std::mutex mu_;
  std::string want_auth_;                  // GUARDED_BY(mu_)
  std::vector<std::string> leaked_argvs_;  // GUARDED_BY(mu_)
  int authorized_ = 0;                     // GUARDED_BY(mu_)
  // Last, so it stops before what its handler uses goes.
  std::unique_ptr<registry::testing::HttpServer> server_;
};

TEST_F(GitAuthTest, ResolvesWithCredentialsNoArgvHolds) {
  auto got = ResolveGitRef(runner_, {Url(std::string(kUser) + ":" + kPasswordInUrl), "main"});
  ASSERT_TRUE(got) << got.error().Render();
  EXPECT_EQ(*got, main_commit_);
  EXPECT_GT(authorized(), 0);
  EXPECT_EQ(leaked_argvs(), std::vector<std::string>{});
  EXPECT_EQ(ArgvsWithPassword(), std::vector<std::string>{});
  // git is given the URL without user info.
  ASSERT_EQ(runner_.argvs().size(), 1u);
  EXPECT_TRUE(runner_.argvs()[0].ends_with(" ls-remote -- http://" + server_->address() + "/repo.git"))
      << runner_.argvs()[0];
}

TEST_F(GitAuthTest, ClonedFilesAndKeptGitDirHoldNoPassword) {
  solver::GitSource source{Url(std::string(kUser) + ":" + kPasswordInUrl), "main", /*keep_git_dir=*/true};
  auto got = CloneGit(runner_, source);
  ASSERT_TRUE(got) << got.error().Render();
  EXPECT_EQ(got->commit, main_commit_);
  EXPECT_EQ(ReadFile(got->dir->path() + "/hello.txt").value_or("<missing>"), "hello\n");
  // The kept .git names the remote as BuildKit leaves it: password redacted.
  EXPECT_EQ(TrimSpace(Sh("git -C " + got->dir->path() + " config --get remote.origin.url")), RedactedUrl());
  EXPECT_EQ(FilesWithPassword(got->dir->path()), std::vector<std::string>{});
  EXPECT_GT(authorized(), 0);
  EXPECT_EQ(leaked_argvs(), std::vector<std::string>{});
  EXPECT_EQ(ArgvsWithPassword(), std::vector<std::string>{});
}

TEST_F(GitAuthTest, WrongOrMissingCredentialsAreAuthErrorsWithTheUrlRedacted) {
  std::string bare = "http://" + server_->address() + "/repo.git";
  auto wrong = ResolveGitRef(runner_, {Url("alice:wrong"), "main"});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(wrong.error().Summary(),
            "git ls-remote " + RedactedUrl() + ": fatal: Authentication failed for '" + bare + "/'");
  auto clone = CloneGit(runner_, {Url("alice:wrong"), "main"});
  ASSERT_FALSE(clone);
  EXPECT_EQ(clone.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(clone.error().Summary(),
            "git fetch " + RedactedUrl() + " main: fatal: Authentication failed for '" + bare + "/'");
  auto none = ResolveGitRef(runner_, {bare, "main"});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kAuth);
  EXPECT_EQ(none.error().Summary(), "git ls-remote " + bare +
                                        ": fatal: could not read Username for 'http://" + server_->address() +
                                        "': terminal prompts disabled");
  EXPECT_EQ(authorized(), 0);
}

TEST_F(GitAuthTest, UserNameAloneIsSentWithAnEmptyPassword) {
  SetWantAuth("tok3n-as-user:");
  auto got = ResolveGitRef(runner_, {Url("tok3n-as-user"), "main"});
  ASSERT_TRUE(got) << got.error().Render();
  EXPECT_EQ(*got, main_commit_);
  for (const auto& argv : runner_.argvs()) EXPECT_EQ(argv.find("tok3n-as-user"), std::string::npos) << argv;
}

TEST_F(GitAuthTest, UserCredentialHelpersAndGitTracesNeverSeeThem) {
  // The user's global config has a helper that logs what git tells it
  // (a "store" would get the password), and git's curl trace is on with
  // redaction off.
  std::string seen = tmp_->path() + "/helper-saw";
  std::string trace = tmp_->path() + "/trace";
  ASSERT_TRUE(WriteFile(tmp_->path() + "/gitconfig", "[credential]\n\thelper = \"!f() { echo \\\"$1\\\" >>" +
                                                         seen + "; cat >>" + seen + "; }; f\"\n"));
  ScopedEnv global("GIT_CONFIG_GLOBAL", tmp_->path() + "/gitconfig");
  ScopedEnv trace_curl("GIT_TRACE_CURL", trace);
  ScopedEnv no_redact("GIT_TRACE_REDACT", "0");

  // Without credentials in the URL, the user's helper is asked as usual.
  ASSERT_FALSE(ResolveGitRef(runner_, {"http://" + server_->address() + "/repo.git", "main"}));
  EXPECT_EQ(ReadFile(seen).value_or("<missing>"), "get\nprotocol=http\nhost=" + server_->address() + "\n");
  EXPECT_TRUE(PathExists(trace));
  ASSERT_TRUE(RemoveAll(seen));
  ASSERT_TRUE(RemoveAll(trace));

  solver::GitSource source{Url(std::string(kUser) + ":" + kPasswordInUrl), "main", /*keep_git_dir=*/true};
  auto got = CloneGit(runner_, source);
  ASSERT_TRUE(got) << got.error().Render();
  EXPECT_FALSE(PathExists(seen));
  EXPECT_FALSE(PathExists(trace));
  EXPECT_EQ(FilesWithPassword(tmp_->path()), std::vector<std::string>{});
}

TEST_F(GitAuthTest, SubmoduleOnAnotherHostGetsNoCredentials) {
  // Another server (another host:port), wanting credentials too, records
  // the Authorization headers it is sent.
  std::mutex mu;
  std::vector<std::string> sent;
  auto other = registry::testing::HttpServer::Start([&](const ServerRequest& req) {
    std::lock_guard lock(mu);
    sent.push_back(req.Header("authorization").value_or(""));
    ServerResponse r;
    r.status = 401;
    r.headers = {{"WWW-Authenticate", "Basic realm=\"other\""}};
    return r;
  });
  ASSERT_TRUE(other);
  std::string lib = tmp_->path() + "/lib", src = tmp_->path() + "/with-sub";
  std::string git_id = "-c user.name=t -c user.email=t@example.com";
  Sh("git init -q -b main " + lib + " && echo lib >" + lib + "/lib.txt && git -C " + lib + " add -A && git " +
     git_id + " -C " + lib + " commit -q -m lib && git init -q -b main " + src + " && git -C " + src +
     " -c protocol.file.allow=always submodule add -q " + lib + " lib && git -C " + src +
     " config -f .gitmodules submodule.lib.url http://" + (*other)->address() + "/lib.git && git -C " + src +
     " add -A && git " + git_id + " -C " + src + " commit -q -m sub && git clone -q --bare " + src + " " +
     tmp_->path() + "/sub.git");
  std::string url = "http://alice:" + std::string(kPasswordInUrl) + "@" + server_->address() + "/sub.git";
  auto got = CloneGit(runner_, {url, "main"});
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), ErrorCode::kNetwork);
  EXPECT_TRUE(got.error().message().starts_with("git submodule update in http://alice:xxxxx@" +
                                                server_->address() + "/sub.git: "))
      << got.error().message();
  std::lock_guard lock(mu);
  EXPECT_FALSE(sent.empty());
  for (const auto& auth : sent) EXPECT_EQ(auth, "");
}

TEST(GitRemoteTest, BadUserInfoIsInvalidAndRedacted) {
  auto runner = sys::NewRealProcessRunner();
  auto ssh = CloneGit(*runner, {"ssh://git:pw@127.0.0.1:1/x.git", ""});
  ASSERT_FALSE(ssh);
  EXPECT_EQ(ssh.error().code(), ErrorCode::kInvalid);
  EXPECT_EQ(ssh.error().Summary(),
            "git remote ssh://git:xxxxx@127.0.0.1:1/x.git: ssh URLs cannot carry a password");
  for (const char* url : {"http://u:%zz@127.0.0.1:1/x", "http://u:a%0Ab@127.0.0.1:1/x"}) {
    auto got = ResolveGitRef(*runner, {url, "main"});
    ASSERT_FALSE(got) << url;
    EXPECT_EQ(
        got.error().Summary(),
        "git remote http://u:xxxxx@127.0.0.1:1/x: malformed user info (bad %-escape or a control character)");
  }
}

}  // namespace
}  // namespace kiln::worker
