#include "secrets/mounter.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/strings.h"
#include "sys/mounts.h"

namespace kiln::secrets {
namespace {

bool IsMounted(const std::string& path) {
  auto mounts = sys::ListMounts();
  EXPECT_TRUE(mounts);
  for (const auto& m : mounts ? *mounts : std::vector<sys::MountInfo>{})
    if (m.mount_point == path) return true;
  return false;
}

std::string MountOptions(const std::string& path) {
  auto text = ReadFile("/proc/self/mountinfo");
  for (const auto& line : Split(*text, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 5 && f[4] == path) {
      // super options follow the " - tmpfs tmpfs " separator.
      size_t dash = line.find(" - ");
      return f[5] + " | " + line.substr(dash + 3);
    }
  }
  return "";
}

class SecretMounterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::Create("secrets-mnt");
    ASSERT_TRUE(t);
    dir_.emplace(std::move(*t));
    store_.Put("npm", SecretValue("npm_token_value"));
    store_.Put("aws", SecretValue("line1\nline2\n"));
  }
  std::optional<TempDir> dir_;
  SecretStore store_;
};

TEST_F(SecretMounterTest, WritesOneFilePerMountWithModeAndOwner) {
  SecretMounter m(dir_->path());
  std::vector<SecretMountRequest> reqs = {
      {.id = "npm"},
      {.id = "aws", .target = "/root/.aws/credentials", .mode = 0440, .uid = 1000, .gid = 2000},
      {.id = "npm", .target = "etc/npmrc", .env = "NPM_TOKEN"},
  };
  auto step = m.Prepare(reqs, store_);
  ASSERT_TRUE(step) << step.error().Render();
  std::string dir = step->dir();
  ASSERT_TRUE(IsMounted(dir));
  std::string opts = MountOptions(dir);
  EXPECT_NE(opts.find("nosuid,nodev,noexec"), std::string::npos) << opts;
  EXPECT_NE(opts.find("mode=700"), std::string::npos) << opts;

  ASSERT_EQ(step->mounts().size(), 3u);
  EXPECT_EQ(step->mounts()[0].target, "/run/secrets/npm");
  EXPECT_EQ(step->mounts()[1].target, "/root/.aws/credentials");
  EXPECT_EQ(step->mounts()[2].target, "/etc/npmrc");
  EXPECT_EQ(step->mounts()[0].source, dir + "/secret-0");
  EXPECT_EQ(*ReadFile(step->mounts()[0].source), "npm_token_value");
  EXPECT_EQ(*ReadFile(step->mounts()[1].source), "line1\nline2\n");
  struct stat st;
  ASSERT_EQ(stat(step->mounts()[0].source.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0400u);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_gid, 0u);
  ASSERT_EQ(stat(step->mounts()[1].source.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0440u);
  EXPECT_EQ(st.st_uid, 1000u);
  EXPECT_EQ(st.st_gid, 2000u);
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);

  ASSERT_EQ(step->env().size(), 1u);
  EXPECT_EQ(step->env()[0].name, "NPM_TOKEN");
  EXPECT_EQ(step->env()[0].value.view(), "npm_token_value");

  ASSERT_TRUE(step->Cleanup());
  EXPECT_FALSE(IsMounted(dir));
  EXPECT_FALSE(PathExists(dir));
  EXPECT_TRUE(step->mounts().empty());
  EXPECT_TRUE(step->env().empty());
  EXPECT_TRUE(step->Cleanup());  // idempotent
}

TEST_F(SecretMounterTest, TmpfsIsNodevNosuidNoexecPrivateAndGoneAfterCleanup) {
  SecretMounter m(dir_->path());
  auto step = m.Prepare({{.id = "npm"}}, store_);
  ASSERT_TRUE(step) << step.error().Render();
  std::string dir = step->dir();
  auto mounts = sys::ListMounts();
  ASSERT_TRUE(mounts) << mounts.error().Render();
  std::vector<sys::MountInfo> at_dir;
  for (const auto& mi : *mounts)
    if (mi.mount_point == dir) at_dir.push_back(mi);
  ASSERT_EQ(at_dir.size(), 1u);
  EXPECT_EQ(at_dir[0].fstype, "tmpfs");
  EXPECT_EQ(at_dir[0].options, "rw,nosuid,nodev,noexec,relatime");
  // No "shared:N": nothing mounted here propagates to other namespaces.
  EXPECT_EQ(at_dir[0].propagation, "");

  ASSERT_TRUE(step->Cleanup());
  auto after = sys::MountsUnder(dir_->path());
  ASSERT_TRUE(after) << after.error().Render();
  EXPECT_EQ(*after, std::vector<std::string>{});
  EXPECT_EQ(*ListDirectory(OpenFile(dir_->path(), O_RDONLY | O_DIRECTORY)->get()),
            std::vector<std::string>{});
}

TEST_F(SecretMounterTest, EnvOnlyHasNoFileAndNoTmpfs) {
  SecretMounter m(dir_->path());
  auto step = m.Prepare({{.id = "npm", .env = "TOKEN"}}, store_);
  ASSERT_TRUE(step);
  EXPECT_EQ(step->dir(), "");
  EXPECT_TRUE(step->mounts().empty());
  ASSERT_EQ(step->env().size(), 1u);
  EXPECT_EQ(step->env()[0].name, "TOKEN");
}

TEST_F(SecretMounterTest, IdDefaultsToTargetBasename) {
  SecretMounter m(dir_->path());
  auto step = m.Prepare({{.target = "/home/u/npm"}}, store_);
  ASSERT_TRUE(step) << step.error().message();
  ASSERT_EQ(step->mounts().size(), 1u);
  EXPECT_EQ(*ReadFile(step->mounts()[0].source), "npm_token_value");
}

TEST_F(SecretMounterTest, OptionalMissingIsSkippedRequiredFails) {
  SecretMounter m(dir_->path());
  auto step = m.Prepare({{.id = "gone"}, {.id = "npm"}}, store_);
  ASSERT_TRUE(step);
  ASSERT_EQ(step->mounts().size(), 1u);
  EXPECT_EQ(step->mounts()[0].target, "/run/secrets/npm");

  auto bad = m.Prepare({{.id = "npm"}, {.id = "gone", .required = Requirement::kRequired}}, store_);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "secret \"gone\" is required but was not provided");
  EXPECT_EQ(bad.error().hint(), "pass --secret id=gone,src=PATH");
  EXPECT_EQ(bad.error().code(), ErrorCode::kNotFound);
}

TEST_F(SecretMounterTest, ValidationErrorsTouchNothing) {
  SecretMounter m(dir_->path());
  struct Case {
    SecretMountRequest req;
    std::string want;
  } cases[] = {
      {{.id = "npm", .env = "1BAD"}, "secret \"npm\": invalid env name \"1BAD\""},
      {{.id = "npm", .env = "A-B"}, "secret \"npm\": invalid env name \"A-B\""},
      {{.id = "npm", .mode = 010000}, "secret \"npm\": invalid mode 10000"},
      {{.id = "npm", .target = "/"}, "secret \"npm\": target cannot be /"},
      {{}, "secret mount needs id= or target="},
  };
  for (const auto& c : cases) {
    auto r = m.Prepare({c.req}, store_);
    ASSERT_FALSE(r) << c.want;
    EXPECT_EQ(r.error().message(), c.want);
  }
  auto dup = m.Prepare({{.id = "npm", .target = "/a"}, {.id = "aws", .target = "/a/"}}, store_);
  EXPECT_EQ(dup.error().message(), "secret \"aws\": duplicate mount target /a");
  // Nothing was created in the scratch dir.
  auto left = ReadFile("/proc/self/mountinfo");
  EXPECT_EQ(left->find(dir_->path()), std::string::npos);
}

TEST_F(SecretMounterTest, DestructorCleansUp) {
  std::string dir, file;
  {
    SecretMounter m(dir_->path());
    auto step = m.Prepare({{.id = "npm"}}, store_);
    ASSERT_TRUE(step);
    dir = step->dir();
    file = step->mounts()[0].source;
    ASSERT_TRUE(IsMounted(dir));
  }
  EXPECT_FALSE(IsMounted(dir));
  EXPECT_FALSE(PathExists(dir));
  EXPECT_FALSE(PathExists(file));
}

TEST_F(SecretMounterTest, FailedSetupCleansUp) {
  // A scratch dir that does not exist makes mkdir fail before mounting.
  SecretMounter m(dir_->path() + "/missing");
  auto r = m.Prepare({{.id = "npm"}}, store_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message().rfind("mkdir " + dir_->path() + "/missing/secrets-", 0), 0u)
      << r.error().message();
  EXPECT_EQ(ReadFile("/proc/self/mountinfo")->find(dir_->path()), std::string::npos);
}

TEST_F(SecretMounterTest, CleanupWhileFileIsBusyStillDetaches) {
  SecretMounter m(dir_->path());
  auto step = m.Prepare({{.id = "npm"}}, store_);
  ASSERT_TRUE(step);
  std::string dir = step->dir();
  // An open fd on the tmpfs makes a plain umount fail with EBUSY.
  auto fd = OpenFile(step->mounts()[0].source, O_RDONLY);
  ASSERT_TRUE(fd);
  ASSERT_TRUE(step->Cleanup()) << step->Cleanup().error().message();
  EXPECT_FALSE(IsMounted(dir));
  // The still-open file was wiped before the detach.
  char buf[32];
  ssize_t n = pread(fd->get(), buf, sizeof buf, 0);
  EXPECT_EQ(std::string(buf, n > 0 ? n : 0), std::string(15, '\0'));
}

TEST(IsValidEnvNameTest, Cases) {
  EXPECT_TRUE(IsValidEnvName("A"));
  EXPECT_TRUE(IsValidEnvName("_a1"));
  EXPECT_TRUE(IsValidEnvName("NPM_TOKEN"));
  EXPECT_FALSE(IsValidEnvName(""));
  EXPECT_FALSE(IsValidEnvName("9A"));
  EXPECT_FALSE(IsValidEnvName("A B"));
  EXPECT_FALSE(IsValidEnvName("A=B"));
}

}  // namespace
}  // namespace kiln::secrets
