#include "image/inspect.h"

#include <gtest/gtest.h>

namespace kiln::image {
namespace {

TEST(InspectTest, HumanSizeMatchesDockerUnits) {
  EXPECT_EQ(HumanSize(0), "0B");
  EXPECT_EQ(HumanSize(999), "999B");
  EXPECT_EQ(HumanSize(1000), "1kB");
  EXPECT_EQ(HumanSize(1234), "1.23kB");
  EXPECT_EQ(HumanSize(4261550), "4.26MB");
  EXPECT_EQ(HumanSize(123456789), "123MB");
  EXPECT_EQ(HumanSize(1500000000), "1.5GB");
  EXPECT_EQ(HumanSize(999999), "1e+03kB");  // docker prints this too
}

TEST(InspectTest, HumanDurationMatchesDocker) {
  EXPECT_EQ(HumanDuration(0), "Less than a second");
  EXPECT_EQ(HumanDuration(1), "1 second");
  EXPECT_EQ(HumanDuration(59), "59 seconds");
  EXPECT_EQ(HumanDuration(60), "About a minute");
  EXPECT_EQ(HumanDuration(119), "About a minute");
  EXPECT_EQ(HumanDuration(120), "2 minutes");
  EXPECT_EQ(HumanDuration(3599), "59 minutes");
  EXPECT_EQ(HumanDuration(3600), "About an hour");
  EXPECT_EQ(HumanDuration(2 * 3600), "2 hours");
  EXPECT_EQ(HumanDuration(47 * 3600), "47 hours");
  EXPECT_EQ(HumanDuration(48 * 3600), "2 days");
  EXPECT_EQ(HumanDuration(14 * 86400), "2 weeks");
  EXPECT_EQ(HumanDuration(60 * 86400), "2 months");
  EXPECT_EQ(HumanDuration(3 * 365 * 86400), "3 years");
}

TEST(InspectTest, ParseRfc3339) {
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(*ParseRfc3339("2024-01-02T03:04:05.123456789Z"), 1704164645);
  EXPECT_EQ(*ParseRfc3339("2024-01-02T05:04:05+02:00"), 1704164645);
  EXPECT_EQ(*ParseRfc3339("2024-01-01T22:04:05-05:00"), 1704164645);
  auto bad = ParseRfc3339("2024-01-02 03:04:05");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), R"(invalid RFC 3339 time "2024-01-02 03:04:05")");
  EXPECT_FALSE(ParseRfc3339("2024-01-02T03:04:05"));
  EXPECT_FALSE(ParseRfc3339("2024-13-02T03:04:05Z"));
  EXPECT_FALSE(ParseRfc3339("2024-01-02T03:04:05.Z"));
}

ImageConfig BusyboxConfig() {
  ImageConfig c;
  c.created = "2024-01-02T03:04:05Z";
  c.architecture = "amd64";
  c.os = "linux";
  c.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  c.config.cmd = {"sh"};
  c.rootfs.diff_ids = {Digest::FromSha256Hex(std::string(64, 'b')), Digest::FromSha256Hex(std::string(64, 'c'))};
  c.history = {
      {.created = "2024-01-02T03:04:00Z",
       .created_by = "/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in / "},
      {.created = "2024-01-02T03:04:05Z", .created_by = "/bin/sh -c #(nop)  CMD [\"sh\"]", .empty_layer = true},
      {.created = "2024-01-02T03:04:05Z",
       .created_by = "RUN /bin/sh -c\techo hi > /x # buildkit",
       .comment = "buildkit.dockerfile.v0"},
  };
  return c;
}

TEST(InspectTest, HistoryTableTruncatedAndHuman) {
  Digest id = Digest::FromSha256Hex("3f57d9401f8d" + std::string(52, '0'));
  HistoryOptions options;
  options.now = 1704164645 + 2 * 3600;  // two hours after the last step
  auto rows = HistoryRows(id, BusyboxConfig(), {4261550, 0}, options);
  ASSERT_TRUE(rows) << rows.error().message();
  EXPECT_EQ(RenderHistoryTable(*rows),
            "IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT\n"
            "3f57d9401f8d   2 hours ago   RUN /bin/sh -c echo hi > /x # buildkit          0B        buildkit.dockerfile.v0\n"
            "<missing>      2 hours ago   /bin/sh -c #(nop)  CMD [\"sh\"]                   0B        \n"
            "<missing>      2 hours ago   /bin/sh -c #(nop) ADD file:7e9002edaafd4e457…   4.26MB    \n");
}

TEST(InspectTest, HistoryNoTruncNotHuman) {
  Digest id = Digest::FromSha256Hex(std::string(64, 'a'));
  HistoryOptions options{.truncate = Truncate::kNo, .human = Human::kNo, .now = 0};
  ImageConfig config = BusyboxConfig();
  config.history.resize(1);
  config.history[0].created.clear();
  auto rows = HistoryRows(id, config, {4261550, 7}, options);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].image, id.str());
  EXPECT_EQ((*rows)[0].created, "N/A");
  EXPECT_EQ((*rows)[0].created_by,
            "/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fd3443cef785fd1 in / ");
  EXPECT_EQ((*rows)[0].size, "4261550");
  config = BusyboxConfig();
  auto rfc = HistoryRows(id, config, {1, 2}, options);
  ASSERT_TRUE(rfc);
  EXPECT_EQ((*rfc)[2].created, "2024-01-02T03:04:00Z");
}

TEST(InspectTest, HistoryWithTooFewLayersIsAnError) {
  auto rows = HistoryRows(Digest::Of("x"), BusyboxConfig(), {1}, {});
  ASSERT_FALSE(rows);
  EXPECT_EQ(rows.error().message(), "history[2] refers to layer 2 but the image has 1 layers");
}

TEST(InspectTest, InspectJsonIsDockerShaped) {
  InspectInput in;
  in.id = Digest::FromSha256Hex(std::string(64, 'a'));
  in.config = BusyboxConfig();
  in.config.config.labels = {{"k", "v"}};
  in.repo_tags = {*Reference::Parse("busybox:latest")};
  in.repo_digests = {*Reference::Parse("busybox@sha256:" + std::string(64, 'd'), DefaultTag::kNone)};
  in.size = 4261550;
  EXPECT_EQ(RenderInspect({in}), R"([
    {
        "Id": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "RepoTags": [
            "busybox:latest"
        ],
        "RepoDigests": [
            "busybox@sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
        ],
        "Parent": "",
        "Comment": "buildkit.dockerfile.v0",
        "Created": "2024-01-02T03:04:05Z",
        "DockerVersion": "",
        "Author": "",
        "Config": {
            "Hostname": "",
            "Domainname": "",
            "User": "",
            "AttachStdin": false,
            "AttachStdout": false,
            "AttachStderr": false,
            "Tty": false,
            "OpenStdin": false,
            "StdinOnce": false,
            "Env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            ],
            "Cmd": [
                "sh"
            ],
            "Image": "",
            "Volumes": null,
            "WorkingDir": "",
            "Entrypoint": null,
            "OnBuild": null,
            "Labels": {
                "k": "v"
            }
        },
        "Architecture": "amd64",
        "Os": "linux",
        "Size": 4261550,
        "RootFS": {
            "Type": "layers",
            "Layers": [
                "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
            ]
        },
        "Metadata": {
            "LastTagTime": "0001-01-01T00:00:00Z"
        }
    }
]
)");
  EXPECT_EQ(RenderInspect({}), "[]\n");
}

}  // namespace
}  // namespace kiln::image
