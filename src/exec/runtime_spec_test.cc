#include "exec/runtime_spec.h"

#include <gtest/gtest.h>

namespace kiln::exec {
namespace {

using nlohmann::json;

SpecInput Input() {
  SpecInput in;
  in.rootfs = "/scratch/kiln-1/rootfs";
  in.args = {"/bin/sh", "-c", "echo hi"};
  in.env = {"PATH=/bin", "A=b"};
  in.cwd = "/app";
  in.user = {1000, 50, {10, 20}, "/home/app"};
  in.hostname = "box";
  in.mounts = {{"/etc/hosts", "bind", "/scratch/kiln-1/etc/hosts", {"rbind", "ro"}}};
  in.rlimits = {{"RLIMIT_NOFILE", 1024, 2048}};
  return in;
}

TEST(RuntimeSpecTest, ProcessSection) {
  json spec = BuildRuntimeSpec(Input());
  EXPECT_EQ(spec["ociVersion"], "1.0.2");
  EXPECT_EQ(spec["root"], json::parse(R"({"path": "/scratch/kiln-1/rootfs", "readonly": false})"));
  EXPECT_EQ(spec["hostname"], "box");
  json process = spec["process"];
  process.erase("capabilities");
  EXPECT_EQ(process, json::parse(R"({
    "terminal": false,
    "user": {"uid": 1000, "gid": 50, "additionalGids": [10, 20]},
    "args": ["/bin/sh", "-c", "echo hi"],
    "env": ["PATH=/bin", "A=b"],
    "cwd": "/app",
    "noNewPrivileges": false,
    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]
  })"));
  json caps = json::parse(R"(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
    "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"])");
  EXPECT_EQ(spec["process"]["capabilities"],
            (json{{"bounding", caps}, {"effective", caps}, {"permitted", caps}}));
}

TEST(RuntimeSpecTest, MountsAndNamespaces) {
  SpecInput in = Input();
  json spec = BuildRuntimeSpec(in);
  EXPECT_EQ(spec["mounts"], json::parse(R"([{"destination": "/etc/hosts", "type": "bind",
    "source": "/scratch/kiln-1/etc/hosts", "options": ["rbind", "ro"]}])"));
  EXPECT_EQ(spec["linux"]["namespaces"],
            json::parse(R"([{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}])"));
  EXPECT_EQ(spec["linux"]["resources"], json::parse(R"({"devices": [{"allow": false, "access": "rwm"}]})"));
  EXPECT_EQ(spec["linux"]["readonlyPaths"],
            json::parse(R"(["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"])"));
  EXPECT_EQ(spec["linux"]["maskedPaths"].size(), 11u);
  EXPECT_FALSE(spec["process"]["user"].contains("additionalGids") && in.user.additional_gids.empty());

  in.net = SpecInput::Net::kNew;
  EXPECT_EQ(BuildRuntimeSpec(in)["linux"]["namespaces"][4], json::parse(R"({"type": "network"})"));
  in.netns_path = "/scratch/kiln-1/netns";
  EXPECT_EQ(BuildRuntimeSpec(in)["linux"]["namespaces"][4],
            json::parse(R"({"type": "network", "path": "/scratch/kiln-1/netns"})"));
  in.user.additional_gids.clear();
  in.rlimits.clear();
  json plain = BuildRuntimeSpec(in);
  EXPECT_EQ(plain["process"]["user"], json::parse(R"({"uid": 1000, "gid": 50})"));
  EXPECT_FALSE(plain["process"].contains("rlimits"));
}

TEST(RuntimeSpecTest, StandardMounts) {
  json j = json::array();
  for (const auto& m : StandardMounts(64 << 20))
    j.push_back({{"destination", m.destination}, {"type", m.type}, {"source", m.source}, {"options", m.options}});
  EXPECT_EQ(j[3], json::parse(R"({"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
    "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]})"));
  EXPECT_EQ(j[5], json::parse(R"({"destination": "/sys", "type": "sysfs", "source": "sysfs",
    "options": ["nosuid", "noexec", "nodev", "ro"]})"));
  EXPECT_EQ(j.size(), 6u);
}

TEST(ParseUlimitTest, Valid) {
  EXPECT_EQ(*ParseUlimit("nofile=1024:2048"), (Rlimit{"RLIMIT_NOFILE", 1024, 2048}));
  EXPECT_EQ(*ParseUlimit("nproc=512"), (Rlimit{"RLIMIT_NPROC", 512, 512}));
  EXPECT_EQ(*ParseUlimit("core=-1"), (Rlimit{"RLIMIT_CORE", UINT64_MAX, UINT64_MAX}));
  EXPECT_EQ(*ParseUlimit("core=0:-1"), (Rlimit{"RLIMIT_CORE", 0, UINT64_MAX}));
}

TEST(ParseUlimitTest, Errors) {
  struct Case {
    const char* in;
    const char* msg;
  } cases[] = {
      {"nofile", "invalid ulimit \"nofile\": expected <type>=<soft>[:<hard>]"},
      {"=1", "invalid ulimit \"=1\": expected <type>=<soft>[:<hard>]"},
      {"bogus=1", "invalid ulimit \"bogus=1\": unknown type \"bogus\""},
      {"nofile=x", "invalid ulimit \"nofile=x\": invalid number \"x\""},
      {"nofile=1:y", "invalid ulimit \"nofile=1:y\": invalid number \"y\""},
      {"nofile=10:5", "invalid ulimit \"nofile=10:5\": soft limit 10 is above hard limit 5"},
  };
  for (const auto& c : cases) {
    auto r = ParseUlimit(c.in);
    ASSERT_FALSE(r) << c.in;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalid);
    EXPECT_EQ(r.error().message(), c.msg);
  }
}

}  // namespace
}  // namespace kiln::exec
