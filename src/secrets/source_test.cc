#include "secrets/source.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <map>

#include "base/fs.h"

namespace kiln::secrets {
namespace {

SecretSpec Spec(std::string id, SecretSourceType t, std::string file, std::string env) {
  return SecretSpec{std::move(id), t, std::move(file), std::move(env)};
}

TEST(ParseSecretFlagTest, Forms) {
  using T = SecretSourceType;
  struct Case {
    std::string flag;
    SecretSpec want;
  } cases[] = {
      {"id=npm,src=./npm_token.txt", Spec("npm", T::kFile, "./npm_token.txt", "")},
      {"id=npm,source=/run/tok", Spec("npm", T::kFile, "/run/tok", "")},
      {"src=/home/me/.aws/credentials", Spec("credentials", T::kFile, "/home/me/.aws/credentials", "")},
      {"id=gh,env=GH_TOKEN", Spec("gh", T::kEnv, "", "GH_TOKEN")},
      {"id=gh,type=env", Spec("gh", T::kEnv, "", "gh")},
      {"type=env,src=GH_TOKEN", Spec("GH_TOKEN", T::kEnv, "", "GH_TOKEN")},
      {"id=gh,type=env,src=GH_TOKEN", Spec("gh", T::kEnv, "", "GH_TOKEN")},
      {"id=k,type=file", Spec("k", T::kFile, "k", "")},
      {"id=x", Spec("x", T::kAuto, "", "")},
      {"ID=x,SRC=y", Spec("x", T::kFile, "y", "")},
      {"\"id=a,b\",src=f", Spec("a,b", T::kFile, "f", "")},
  };
  for (const auto& c : cases) {
    auto got = ParseSecretFlag(c.flag);
    ASSERT_TRUE(got) << c.flag << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.flag;
  }
}

TEST(ParseSecretFlagTest, Errors) {
  struct Case {
    std::string flag, want;
  } cases[] = {
      {"", "--secret \"\": empty value"},
      {"id=a,foo=b", "--secret \"id=a,foo=b\": unexpected key \"foo\""},
      {"id=a,sorce=b", "--secret \"id=a,sorce=b\": unexpected key \"sorce\" (did you mean \"source\"?)"},
      {"id=a,type=ssh", "--secret \"id=a,type=ssh\": unsupported secret type \"ssh\" (want file or env)"},
      {"npm", "--secret \"npm\": field \"npm\" must be a key=value pair"},
      {"id=a,src=f,env=E", "--secret \"id=a,src=f,env=E\": src and env are mutually exclusive"},
      {"type=file", "--secret \"type=file\": type=file needs src=PATH or id=ID"},
      {"\"id=a", "--secret \"\\\"id=a\": extraneous or missing \" in quoted-field"},
      {"id=a\"b", "--secret \"id=a\\\"b\": bare \" in non-quoted-field"},
  };
  for (const auto& c : cases) {
    auto got = ParseSecretFlag(c.flag);
    ASSERT_FALSE(got) << c.flag;
    EXPECT_EQ(got.error().message(), c.want);
    EXPECT_EQ(got.error().code(), ErrorCode::kUsage);
  }
}

TEST(ParseSshFlagTest, Forms) {
  struct Case {
    std::string flag;
    SshSpec want;
  } cases[] = {
      {"default", {"default", {}}},
      {"default=/run/agent.sock", {"default", {"/run/agent.sock"}}},
      {"gh=/k/id_ed25519,/k/id_rsa", {"gh", {"/k/id_ed25519", "/k/id_rsa"}}},
      {"\"gh=/k/a,b\",/k/c", {"gh", {"/k/a", "b", "/k/c"}}},
  };
  for (const auto& c : cases) {
    auto got = ParseSshFlag(c.flag);
    ASSERT_TRUE(got) << c.flag << ": " << got.error().message();
    EXPECT_EQ(*got, c.want) << c.flag;
  }
  EXPECT_EQ(ParseSshFlag("").error().message(), "--ssh \"\": empty value");
  EXPECT_EQ(ParseSshFlag("=/x").error().message(), "--ssh \"=/x\": missing id before \"=\"");
  EXPECT_EQ(ParseSshFlag("a=/x,").error().message(), "--ssh \"a=/x,\": empty path");
  // CSV as buildx reads it: a quote inside an unquoted field is an error.
  EXPECT_EQ(ParseSshFlag("gh=\"/k/a\"").error().message(),
            "--ssh \"gh=\\\"/k/a\\\"\": bare \" in non-quoted-field");
}

class LoadSecretTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("secrets-src");
    ASSERT_TRUE(t);
    dir_.emplace(std::move(*t));
    ASSERT_EQ(chdir(dir_->path().c_str()), 0);
  }
  void TearDown() override { ASSERT_EQ(chdir("/"), 0); }
  EnvLookup Env() {
    return [this](const std::string& n) -> std::optional<std::string> {
      auto it = env_.find(n);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  std::optional<TempDir> dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(LoadSecretTest, FileEnvAndAuto) {
  ASSERT_TRUE(WriteFile("npm_token.txt", "npm_abcdef\n"));
  ASSERT_TRUE(WriteFile("x", "from-file"));
  env_["GH"] = "ghp_123456";
  env_["y"] = "from-env";
  ASSERT_TRUE(WriteFile("y", "shadowed-file"));
  std::vector<SecretSpec> specs = {*ParseSecretFlag("id=npm,src=./npm_token.txt"),
                                   *ParseSecretFlag("id=gh,env=GH"), *ParseSecretFlag("id=x"),
                                   *ParseSecretFlag("id=y")};
  auto store = LoadSecrets(specs, Env());
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ(store->ids(), (std::vector<std::string>{"gh", "npm", "x", "y"}));
  EXPECT_EQ(store->Find("npm")->view(), "npm_abcdef\n");
  EXPECT_EQ(store->Find("gh")->view(), "ghp_123456");
  EXPECT_EQ(store->Find("x")->view(), "from-file");
  EXPECT_EQ(store->Find("y")->view(), "from-env");
  EXPECT_EQ(store->Find("nope"), nullptr);
}

TEST_F(LoadSecretTest, MissingSourcesSayWhatWasTried) {
  auto a = LoadSecret(*ParseSecretFlag("id=npm,src=./npm_token.txt"), Env());
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(), "secret \"npm\": file ./npm_token.txt: No such file or directory");
  EXPECT_EQ(a.error().code(), ErrorCode::kNotFound);
  auto b = LoadSecret(*ParseSecretFlag("id=x"), Env());
  EXPECT_EQ(b.error().message(), "secret \"x\": neither env var x nor file x exists");
  auto c = LoadSecret(*ParseSecretFlag("id=x,env=X"), Env());
  EXPECT_EQ(c.error().message(), "secret \"x\": env var X is not set");
  ASSERT_TRUE(MakeDirs("d"));
  auto d = LoadSecret(*ParseSecretFlag("id=d,src=d"), Env());
  EXPECT_EQ(d.error().message(), "secret \"d\": file d: Is a directory");
}

TEST_F(LoadSecretTest, SizeLimit) {
  ASSERT_TRUE(WriteFile("ok", std::string(kMaxSecretSize, 'a')));
  ASSERT_TRUE(WriteFile("big", std::string(kMaxSecretSize + 1, 'a')));
  auto ok = LoadSecret(*ParseSecretFlag("src=ok"), Env());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), kMaxSecretSize);
  auto big = LoadSecret(*ParseSecretFlag("src=big"), Env());
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message(), "secret \"big\": file big is 512001 bytes, over the 500 KiB limit");
  EXPECT_EQ(big.error().code(), ErrorCode::kInvalid);
  env_["E"] = std::string(kMaxSecretSize + 5, 'b');
  auto e = LoadSecret(*ParseSecretFlag("id=e,env=E"), Env());
  EXPECT_EQ(e.error().message(), "secret \"e\": env var E is 512005 bytes, over the 500 KiB limit");
}

TEST_F(LoadSecretTest, ReadsFromPipes) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "piped-secret", 12), 12);
  close(fds[1]);
  std::string path = "/proc/self/fd/" + std::to_string(fds[0]);
  auto v = LoadSecret(*ParseSecretFlag("id=p,src=" + path), Env());
  close(fds[0]);
  ASSERT_TRUE(v) << v.error().message();
  EXPECT_EQ(v->view(), "piped-secret");
}

TEST_F(LoadSecretTest, LaterFlagWins) {
  ASSERT_TRUE(WriteFile("a", "first-value"));
  ASSERT_TRUE(WriteFile("b", "second-value"));
  auto store = LoadSecrets({*ParseSecretFlag("id=k,src=a"), *ParseSecretFlag("id=k,src=b")}, Env());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->size(), 1u);
  EXPECT_EQ(store->Find("k")->view(), "second-value");
}

}  // namespace
}  // namespace kiln::secrets
