#include "image/inspect.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "image/codec_internal.h"

namespace kiln::image {
namespace {

using ojson = nlohmann::ordered_json;

ojson ListOrNull(const std::vector<std::string>& v) { return v.empty() ? ojson(nullptr) : ojson(v); }

ojson KeySetOrNull(const std::vector<std::string>& v) {
  if (v.empty()) return nullptr;
  ojson o = ojson::object();
  for (const std::string& k : v) o[k] = ojson::object();
  return o;
}

// docker's container.Config for an image, in docker's key order.
ojson DockerConfig(const ContainerConfig& c) {
  ojson j = ojson::object();
  j["Hostname"] = "";
  j["Domainname"] = "";
  j["User"] = c.user;
  j["AttachStdin"] = false;
  j["AttachStdout"] = false;
  j["AttachStderr"] = false;
  if (!c.exposed_ports.empty()) j["ExposedPorts"] = KeySetOrNull(c.exposed_ports);
  j["Tty"] = false;
  j["OpenStdin"] = false;
  j["StdinOnce"] = false;
  j["Env"] = ListOrNull(c.env);
  j["Cmd"] = ListOrNull(c.cmd);
  if (c.healthcheck) {
    ojson h = ojson::object();
    h["Test"] = ListOrNull(c.healthcheck->test);
    if (c.healthcheck->interval) h["Interval"] = c.healthcheck->interval;
    if (c.healthcheck->timeout) h["Timeout"] = c.healthcheck->timeout;
    if (c.healthcheck->start_period) h["StartPeriod"] = c.healthcheck->start_period;
    if (c.healthcheck->start_interval) h["StartInterval"] = c.healthcheck->start_interval;
    if (c.healthcheck->retries) h["Retries"] = c.healthcheck->retries;
    j["Healthcheck"] = std::move(h);
  }
  if (c.args_escaped) j["ArgsEscaped"] = true;
  j["Image"] = "";
  j["Volumes"] = KeySetOrNull(c.volumes);
  j["WorkingDir"] = c.working_dir;
  j["Entrypoint"] = ListOrNull(c.entrypoint);
  j["OnBuild"] = ListOrNull(c.on_build);
  j["Labels"] = c.labels.empty() ? ojson(nullptr) : ojson(c.labels);
  if (!c.stop_signal.empty()) j["StopSignal"] = c.stop_signal;
  if (!c.shell.empty()) j["Shell"] = c.shell;
  return j;
}

// Go's text/tabwriter counts runes, not bytes.
size_t DisplayWidth(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

// Cuts `s` to `width` runes, the last being "…" (docker's Ellipsis, for
// single-width characters).
std::string Ellipsis(std::string_view s, size_t width) {
  if (DisplayWidth(s) <= width) return std::string(s);
  std::string out;
  size_t runes = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    bool start = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (start && ++runes > width - 1) break;
    out += s[i];
  }
  return out + "\xE2\x80\xA6";
}

std::string FormatRfc3339(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

std::string RenderInspect(const std::vector<InspectInput>& images) {
  ojson out = ojson::array();
  for (const InspectInput& in : images) {
    ojson j = ojson::object();
    j["Id"] = in.id.str();
    ojson tags = ojson::array(), digests = ojson::array();
    for (const Reference& r : in.repo_tags) tags.push_back(r.FamiliarString());
    for (const Reference& r : in.repo_digests) digests.push_back(r.FamiliarString());
    j["RepoTags"] = std::move(tags);
    j["RepoDigests"] = std::move(digests);
    j["Parent"] = "";
    j["Comment"] = in.config.history.empty() ? "" : in.config.history.back().comment;
    j["Created"] = in.config.created.empty() ? "0001-01-01T00:00:00Z" : in.config.created;
    j["DockerVersion"] = "";
    j["Author"] = in.config.author;
    j["Config"] = DockerConfig(in.config.config);
    j["Architecture"] = in.config.architecture;
    if (!in.config.variant.empty()) j["Variant"] = in.config.variant;
    j["Os"] = in.config.os;
    if (!in.config.os_version.empty()) j["OsVersion"] = in.config.os_version;
    j["Size"] = in.size;
    ojson rootfs = ojson::object();
    rootfs["Type"] = in.config.rootfs.type;
    ojson layers = ojson::array();
    for (const Digest& d : in.config.rootfs.diff_ids) layers.push_back(d.str());
    if (!layers.empty()) rootfs["Layers"] = std::move(layers);
    j["RootFS"] = std::move(rootfs);
    j["Metadata"] = ojson{{"LastTagTime", in.last_tag_time}};
    out.push_back(std::move(j));
  }
  return out.dump(4, ' ', false, ojson::error_handler_t::replace) + "\n";
}

Result<int64_t> ParseRfc3339(std::string_view text) {
  auto fail = [&] { return Fail(Error::Invalid(fmt::format("invalid RFC 3339 time {}", Quote(text)))); };
  int y, mo, d, h, mi, s, consumed = 0;
  std::string str(text);
  if (sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &consumed) != 6 || consumed != 19)
    return fail();
  std::string_view rest = text.substr(19);
  if (rest.starts_with(".")) {
    rest.remove_prefix(1);
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0) return fail();
    rest.remove_prefix(digits);
  }
  int64_t offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':') {
    int oh = 0, om = 0;
    if (sscanf(std::string(rest.substr(1)).c_str(), "%2d:%2d", &oh, &om) != 2) return fail();
    offset = (oh * 3600 + om * 60) * (rest[0] == '-' ? -1 : 1);
  } else {
    return fail();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return fail();
  struct tm tm = {};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) - offset;
}

std::string HumanDuration(int64_t seconds) {
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return fmt::format("{} seconds", seconds);
  int64_t minutes = seconds / 60;
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return fmt::format("{} minutes", minutes);
  int64_t hours = static_cast<int64_t>(static_cast<double>(seconds) / 3600.0 + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return fmt::format("{} hours", hours);
  if (hours < 24 * 7 * 2) return fmt::format("{} days", hours / 24);
  if (hours < 24 * 30 * 2) return fmt::format("{} weeks", hours / 24 / 7);
  if (hours < 24 * 365 * 2) return fmt::format("{} months", hours / 24 / 30);
  return fmt::format("{} years", seconds / 3600 / 24 / 365);
}

std::string HumanSize(int64_t bytes) {
  static const char* const kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  double size = static_cast<double>(bytes);
  size_t i = 0;
  while (size >= 1000.0 && i < std::size(kUnits) - 1) {
    size /= 1000.0;
    ++i;
  }
  char buf[64];
  snprintf(buf, sizeof(buf), "%.3g%s", size, kUnits[i]);
  return buf;
}

Result<std::vector<HistoryRow>> HistoryRows(const Digest& id, const ImageConfig& config,
                                            const std::vector<int64_t>& layer_sizes, const HistoryOptions& options) {
  std::vector<HistoryRow> rows;
  size_t layer = 0;
  for (size_t i = 0; i < config.history.size(); ++i) {
    const History& h = config.history[i];
    int64_t size = 0;
    if (!h.empty_layer) {
      if (layer >= layer_sizes.size()) {
        return Fail(Error::Invalid(fmt::format("history[{}] refers to layer {} but the image has {} layers", i,
                                               layer + 1, layer_sizes.size())));
      }
      size = layer_sizes[layer++];
    }
    HistoryRow row;
    row.image = "<missing>";
    if (h.created.empty()) {
      row.created = "N/A";
    } else {
      auto t = ParseRfc3339(h.created);
      if (!t) {
        row.created = "N/A";
      } else if (options.human == Human::kYes) {
        row.created = HumanDuration(options.now - *t) + " ago";
      } else {
        row.created = FormatRfc3339(*t);
      }
    }
    std::string created_by = h.created_by;
    std::replace(created_by.begin(), created_by.end(), '\t', ' ');
    row.created_by = options.truncate == Truncate::kYes ? Ellipsis(created_by, 45) : created_by;
    row.size = options.human == Human::kYes ? HumanSize(size) : std::to_string(size);
    row.comment = h.comment;
    rows.push_back(std::move(row));
  }
  std::reverse(rows.begin(), rows.end());
  if (!rows.empty()) rows.front().image = options.truncate == Truncate::kYes ? id.Short() : id.str();
  return rows;
}

std::string RenderHistoryTable(const std::vector<HistoryRow>& rows) {
  std::vector<std::vector<std::string>> cells = {{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}};
  for (const HistoryRow& r : rows) cells.push_back({r.image, r.created, r.created_by, r.size, r.comment});
  size_t widths[4] = {0, 0, 0, 0};
  for (const auto& line : cells)
    for (size_t c = 0; c < 4; ++c) widths[c] = std::max(widths[c], DisplayWidth(line[c]));
  std::string out;
  for (const auto& line : cells) {
    for (size_t c = 0; c < 4; ++c) {
      size_t width = std::max<size_t>(widths[c] + 3, 10);
      out += line[c];
      out.append(width - DisplayWidth(line[c]), ' ');
    }
    out += line[4];
    out += '\n';
  }
  return out;
}

}  // namespace kiln::image
