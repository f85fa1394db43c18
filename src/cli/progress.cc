#include "cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/strings.h"

namespace kiln::cli {

using solver::ProgressEvent;
using Kind = solver::ProgressEvent::Kind;

Result<ProgressMode> ParseProgressMode(const std::string& text) {
  if (text == "auto" || text.empty()) return ProgressMode::kAuto;
  if (text == "tty") return ProgressMode::kTty;
  if (text == "plain") return ProgressMode::kPlain;
  if (text == "rawjson") return ProgressMode::kRawJson;
  if (text == "quiet") return ProgressMode::kQuiet;
  return Fail(Error::Usage(fmt::format("invalid --progress value {}: want auto, tty, plain, rawjson or quiet",
                                       Quote(text))));
}

ProgressMode ResolveProgressMode(ProgressMode mode, FILE* out) {
  if (mode != ProgressMode::kAuto) return mode;
  return ::isatty(::fileno(out)) ? ProgressMode::kTty : ProgressMode::kPlain;
}

namespace {

// BuildKit's plain format: "#N name", "#N 0.123 output line", "#N DONE 0.4s",
// "#N CACHED", with a blank line when the active step changes. An output
// line's time counts from the start of its step, as BuildKit's does.
class PlainRenderer : public ProgressRenderer {
 public:
  explicit PlainRenderer(FILE* out) : out_(out) {}

  void Event(const ProgressEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    switch (e.kind) {
      case Kind::kStepStarted:
        Switch(e.step);
        names_[e.step] = e.name;
        started_[e.step] = e.elapsed;
        fmt::print(out_, "#{} {}\n", e.step, e.name);
        break;
      case Kind::kStepCached:
        Switch(e.step);
        fmt::print(out_, "#{} {}\n#{} CACHED\n", e.step, e.name, e.step);
        break;
      case Kind::kStepOutput: {
        Switch(e.step);
        // Lines are cut per stream: a half line of stdout and one of stderr
        // never join.
        std::string& partial = partial_[{e.step, e.stream}];
        partial += e.data;
        size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
          fmt::print(out_, "#{} {:.3f} {}\n", e.step, SinceStart(e), partial.substr(0, nl));
          partial.erase(0, nl + 1);
        }
        break;
      }
      case Kind::kStepDone:
        Switch(e.step);
        FlushPartial(e.step, SinceStart(e));
        fmt::print(out_, "#{} DONE {:.1f}s\n", e.step, e.seconds);
        break;
      case Kind::kStepFailed:
        Switch(e.step);
        FlushPartial(e.step, SinceStart(e));
        fmt::print(out_, "#{} ERROR: {}\n", e.step, e.data);
        break;
      case Kind::kLog:
        if (e.step) {
          Switch(e.step);
          fmt::print(out_, "#{} {}\n", e.step, e.data);
        } else {
          fmt::print(out_, "{}\n", e.data);
        }
        break;
    }
    std::fflush(out_);
  }
  void Finish() override {}

 private:
  void Switch(int step) {
    if (last_ != 0 && last_ != step) fmt::print(out_, "\n");
    last_ = step;
  }
  // Seconds since `e`'s step started (since the build started for a step
  // whose start was not seen).
  double SinceStart(const ProgressEvent& e) const {
    auto it = started_.find(e.step);
    return it == started_.end() ? e.elapsed : std::max(0.0, e.elapsed - it->second);
  }
  void FlushPartial(int step, double elapsed) {
    for (auto it = partial_.lower_bound({step, INT_MIN}); it != partial_.end() && it->first.first == step;
         it = partial_.erase(it)) {
      if (!it->second.empty()) fmt::print(out_, "#{} {:.3f} {}\n", step, elapsed, it->second);
    }
  }

  FILE* out_;
  std::mutex mu_;
  int last_ = 0;                          // GUARDED_BY(mu_)
  std::map<int, std::string> names_;      // GUARDED_BY(mu_)
  std::map<std::pair<int, int>, std::string> partial_;  // GUARDED_BY(mu_): (step, stream)
  std::map<int, double> started_;         // GUARDED_BY(mu_): build-relative start of each step
};

// One JSON object per line, for tools.
class RawJsonRenderer : public ProgressRenderer {
 public:
  explicit RawJsonRenderer(FILE* out) : out_(out) {}
  void Event(const ProgressEvent& e) override {
    static constexpr const char* kNames[] = {"started", "cached", "output", "done", "failed", "log"};
    nlohmann::json j;
    j["event"] = kNames[static_cast<int>(e.kind)];
    j["step"] = e.step;
    if (!e.name.empty()) j["name"] = e.name;
    if (!e.data.empty()) j["data"] = e.data;
    if (e.kind == Kind::kStepOutput) j["stream"] = e.stream;
    if (e.kind == Kind::kStepDone) j["seconds"] = e.seconds;
    j["elapsed"] = e.elapsed;
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard<std::mutex> lock(mu_);
    fmt::print(out_, "{}\n", line);
    std::fflush(out_);
  }
  void Finish() override {}

 private:
  FILE* out_;
  std::mutex mu_;
};

class QuietRenderer : public ProgressRenderer {
 public:
  void Event(const ProgressEvent&) override {}
  void Finish() override {}
};

// A live view in the spirit of BuildKit's: one line per step with a timer,
// the last lines of output of running steps, redrawn in place.
class TtyRenderer : public ProgressRenderer {
 public:
  explicit TtyRenderer(FILE* out) : out_(out), start_(Clock::now()) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~TtyRenderer() override { Finish(); }

  void Event(const ProgressEvent& e) override {
    std::lock_guard<std::mutex> lock(mu_);
    Step& s = steps_[e.step];
    switch (e.kind) {
      case Kind::kStepStarted:
        s.name = e.name;
        s.started = Clock::now();
        s.state = State::kRunning;
        break;
      case Kind::kStepCached:
        s.name = e.name;
        s.state = State::kCached;
        break;
      case Kind::kStepOutput: {
        std::string& partial = s.partial[e.stream == 2 ? 1 : 0];
        partial += e.data;
        size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
          s.tail.push_back(partial.substr(0, nl));
          partial.erase(0, nl + 1);
          if (s.tail.size() > 6) s.tail.pop_front();
        }
        break;
      }
      case Kind::kStepDone:
        s.state = State::kDone;
        s.seconds = e.seconds;
        break;
      case Kind::kStepFailed:
        s.state = State::kFailed;
        s.error = e.data;
        for (const auto& p : s.partial)
          if (!p.empty()) s.tail.push_back(p);
        break;
      case Kind::kLog:
        if (e.step == 0) logs_.push_back(e.data);
        else if (s.name.empty()) s.name = e.data;
        break;
    }
  }

  void Finish() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    cv_.notify_all();
    thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    Draw(/*final=*/true);
  }

 private:
  using Clock = std::chrono::steady_clock;
  enum class State { kRunning, kCached, kDone, kFailed };
  struct Step {
    std::string name;
    State state = State::kRunning;
    Clock::time_point started;
    double seconds = 0;
    std::string error;
    std::string partial[2];  // stdout, stderr: lines are cut per stream
    std::deque<std::string> tail;
  };

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopped_) {
      Draw(false);
      cv_.wait_for(lock, std::chrono::milliseconds(100));
    }
  }

  void Draw(bool final) {
    std::string frame;
    // Move up over the previous frame and clear it.
    for (int i = 0; i < drawn_lines_; ++i) frame += "\x1b[1A\x1b[2K";
    frame += '\r';
    int lines = 0;
    double total = std::chrono::duration<double>(Clock::now() - start_).count();
    frame += fmt::format("[+] Building {:.1f}s ({}/{}){}\n", total, Finished(), steps_.size(),
                         final ? " FINISHED" : "");
    ++lines;
    for (auto& [n, s] : steps_) {
      std::string status;
      switch (s.state) {
        case State::kCached: status = "CACHED"; break;
        case State::kDone: status = fmt::format("{:.1f}s", s.seconds); break;
        case State::kFailed: status = "ERROR"; break;
        case State::kRunning:
          status = fmt::format("{:.1f}s", std::chrono::duration<double>(Clock::now() - s.started).count());
          break;
      }
      frame += fmt::format(" => {:<60} {}\n", s.name.substr(0, 60), status);
      ++lines;
      if (s.state == State::kRunning || s.state == State::kFailed) {
        for (const auto& t : s.tail) {
          frame += fmt::format(" => => # {}\n", t.substr(0, 100));
          ++lines;
        }
        if (s.state == State::kFailed && !s.error.empty()) {
          frame += fmt::format(" ERROR: {}\n", s.error);
          ++lines;
        }
      }
    }
    if (final)
      for (const auto& l : logs_) frame += l + "\n";
    drawn_lines_ = final ? 0 : lines;
    std::fputs(frame.c_str(), out_);
    std::fflush(out_);
  }

  int Finished() const {
    int n = 0;
    for (auto& [_, s] : steps_) n += s.state != State::kRunning;
    return n;
  }

  FILE* out_;
  Clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<int, Step> steps_;      // GUARDED_BY(mu_)
  std::vector<std::string> logs_;  // GUARDED_BY(mu_)
  int drawn_lines_ = 0;            // GUARDED_BY(mu_)
  bool stopped_ = false;           // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ProgressRenderer> NewProgressRenderer(ProgressMode mode, FILE* out) {
  switch (ResolveProgressMode(mode, out)) {
    case ProgressMode::kTty: return std::make_unique<TtyRenderer>(out);
    case ProgressMode::kRawJson: return std::make_unique<RawJsonRenderer>(out);
    case ProgressMode::kQuiet: return std::make_unique<QuietRenderer>();
    default: return std::make_unique<PlainRenderer>(out);
  }
}

}  // namespace kiln::cli
