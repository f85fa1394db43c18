#include "exec/hosts.h"

#include <gtest/gtest.h>

namespace kiln::exec {
namespace {

TEST(HostsFileTest, LocalhostHostnameAndExtraHosts) {
  auto h = HostsFile("kiln", {"db:10.0.0.2", "v6:[::1]", "raw6:fe80::1"});
  ASSERT_TRUE(h) << h.error().Render();
  EXPECT_EQ(*h,
            "127.0.0.1\tlocalhost kiln\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
            "10.0.0.2\tdb\n"
            "::1\tv6\n"
            "fe80::1\traw6\n");
}

TEST(HostsFileTest, BadEntries) {
  auto a = HostsFile("kiln", {"db"});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(), "invalid --add-host \"db\": expected <name>:<ip>");
  auto b = HostsFile("kiln", {"db:nope"});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().message(), "invalid --add-host \"db:nope\": \"nope\" is not an IP address");
  auto c = HostsFile("kiln", {"a b:1.2.3.4"});
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().message(), "invalid --add-host \"a b:1.2.3.4\": \"a b\" is not a valid host name");
  auto d = HostsFile("evil\n1.2.3.4 registry", {});
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "invalid hostname \"evil\\n1.2.3.4 registry\"");
}

TEST(ResolvConfTest, CopiesHostOrDefaults) {
  EXPECT_EQ(ResolvConf("search x\nnameserver 10.1.1.1", Network::kDefault), "search x\nnameserver 10.1.1.1\n");
  EXPECT_EQ(ResolvConf("search x\n", Network::kHost), "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  EXPECT_EQ(ResolvConf("nameserver 10.1.1.1\n", Network::kNone), "# network=none: no nameservers\n");
}

}  // namespace
}  // namespace kiln::exec
