#include "config_watcher.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <nlohmann/json.hpp>

#include "backoff.h"
#include "control_plane.h"
#include "file_util.h"
#include "hive/agent/render.h"
#include "hive/core/http_client.h"
#include "hive/core/log.h"
#include "hive/core/text.h"
#include "subprocess.h"

namespace hive::agent {

ConfigWatcher::ConfigWatcher(AgentConfig config, AgentOptions options, AgentMetrics& metrics,
                             std::function<int()> child_pid)
    : config_(std::move(config)),
      child_pid_(std::move(child_pid)),
      options_(options),
      metrics_(metrics) {}

ConfigWatcher::~ConfigWatcher() { Stop(); }

Status ConfigWatcher::Start() {
  HttpClientOptions watch = ControlPlaneClientOptions(config_, options_);
  // The server answers by `wait`; the margin covers a slow answer.
  watch.read_timeout = options_.config_wait + std::chrono::seconds(15);
  auto http = HttpClient::Create(watch);
  if (!http.ok()) return http.status();
  http_ = std::move(*http);
  auto reporter = HttpClient::Create(ControlPlaneClientOptions(config_, options_));
  if (!reporter.ok()) return reporter.status();
  reporter_ = std::move(*reporter);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

bool ConfigWatcher::WaitFirstAttempt(Duration timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return first_attempted_ || stopping_; });
}

void ConfigWatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (http_) http_->Cancel();
  if (thread_.joinable()) thread_.join();
}

Status ConfigWatcher::RunOnChange() {
  const OnChangeConfig& on = config_.config->on_change;
  switch (on.kind) {
    case OnChangeConfig::Kind::kNone:
      return Status::Ok();
    case OnChangeConfig::Kind::kSignal: {
      int target = on.pid;
      if (!on.pid_file.empty()) {
        auto text = ReadWholeFile(on.pid_file);
        if (!text.ok()) return text.status();
        const std::string_view t = Trim(*text);
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), target);
        if (ec != std::errc() || end != t.data() + t.size() || target <= 0) {
          return Status::FailedPrecondition("pid file '" + on.pid_file + "' holds no pid");
        }
      }
      bool group = false;
      if (target == 0 && child_pid_) {
        target = child_pid_();
        group = true;  // the child leads its own process group
      }
      // The supervised service is not running (not yet started, or between
      // restarts): it reads the new file when it starts.
      if (group && target <= 0) return Status::Ok();
      if (target <= 0) return Status::FailedPrecondition("no running service to signal");
      if (::kill(group ? -target : target, on.signal) != 0) {
        return Status::FailedPrecondition("cannot signal pid " + std::to_string(target) + ": " +
                                          std::strerror(errno));
      }
      return Status::Ok();
    }
    case OnChangeConfig::Kind::kCommand: {
      auto r = RunCommand(on.command, on.timeout);
      if (!r.ok()) return r.status();
      const std::string out(Trim(r->output));
      if (r->timed_out) {
        return Status::Unavailable("on_change command timed out after " +
                                   FormatDuration(on.timeout));
      }
      if (!WIFEXITED(r->wstatus) || WEXITSTATUS(r->wstatus) != 0) {
        return Status::FailedPrecondition(
            "on_change command failed (" +
            (WIFEXITED(r->wstatus) ? "exit status " + std::to_string(WEXITSTATUS(r->wstatus))
                                   : "killed by signal " + std::to_string(WTERMSIG(r->wstatus))) +
            ")" + (out.empty() ? "" : ": " + out.substr(0, 500)));
      }
      return Status::Ok();
    }
    case OnChangeConfig::Kind::kHttp: {
      const std::string_view url = on.http_url;
      const size_t path_at = url.find('/', std::string_view("http://").size());
      HttpClientOptions o;
      o.base_url = std::string(url.substr(0, path_at));
      o.connect_timeout = on.timeout;
      o.read_timeout = on.timeout;
      o.write_timeout = on.timeout;
      auto client = HttpClient::Create(o);
      if (!client.ok()) return client.status();
      auto r = (*client)->Send(
          "POST", path_at == std::string_view::npos ? "/" : std::string(url.substr(path_at)), "{}");
      if (!r.ok()) return r.status();
      if (!r->ok()) {
        return Status::FailedPrecondition("on_change POST " + on.http_url + " answered " +
                                          std::to_string(r->status));
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

void ConfigWatcher::Report(int64_t version, bool applied, const std::string& message) {
  nlohmann::json body = {
      {"version", version}, {"status", applied ? "applied" : "failed"}, {"message", message}};
  const std::string path = "/api/v1/config/" + UrlEncode(config_.service) + "/" +
                           UrlEncode(config_.config->profile) + "/applied/" +
                           UrlEncode(config_.instance);
  auto r = reporter_->Send("PUT", path,
                           body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (r.ok() && r->status == 404) {
    if (!report_unsupported_) {
      log::Info(
          "this hived does not track rollouts (404 on .../applied/{instance}); "
          "applied versions are not reported");
      report_unsupported_ = true;
    }
    return;
  }
  if (!r.ok() || !r->ok()) {
    log::Warn("cannot report the applied config version",
              {{"version", version},
               {"error", r.ok() ? StatusFromResponse(*r).ToString() : r.status().ToString()}});
  }
}

void ConfigWatcher::Run() {
  const ConfigFileConfig& target = *config_.config;
  const std::string path =
      "/api/v1/config/" + UrlEncode(config_.service) + "/" + UrlEncode(target.profile);
  const std::string wait = FormatDuration(options_.config_wait);
  Backoff backoff(options_.retry_initial, options_.retry_max);
  LogThrottle error_log;
  bool have_index = false;  // false: ask without blocking
  uint64_t index = 0;
  bool written = false;
  std::string last_content;  // what the file holds: the last good version
  // A file already there is the last good one until a version is applied.
  std::optional<std::string> previous;
  if (auto existing = ReadWholeFile(target.file); existing.ok()) previous = std::move(*existing);
  std::optional<std::string> refused;  // content whose on_change failed
  int64_t failed_write_version = -1;   // reported once per version

  auto attempted = [&] {
    {
      std::lock_guard lock(mu_);
      if (first_attempted_) return;
      first_attempted_ = true;
    }
    cv_.notify_all();
  };
  auto fail = [&](const std::string& what, const std::string& error) {
    attempted();
    if (error_log.Allow()) {
      log::Warn(
          what,
          {{"error", error}, {"file", target.file}, {"suppressed", error_log.TakeSuppressed()}});
    }
    const auto pause = backoff.Next();
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, pause, [&] { return stopping_; });
  };

  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    std::string query = path;
    if (have_index) query += "?index=" + std::to_string(index) + "&wait=" + wait;
    auto r = http_->Get(query);
    if (!r.ok()) {
      if (r.status().IsAborted()) return;
      fail("cannot read config; retrying", r.status().ToString());
      continue;
    }
    if (!r->ok()) {
      fail("cannot read config; retrying", StatusFromResponse(*r).ToString());
      continue;
    }
    // The properties are written back with json::dump, which recurses.
    if (Status depth = CheckJsonDepth(r->body); !depth.ok()) {
      fail("config answer nested too deep; retrying", depth.message());
      continue;
    }
    auto j = nlohmann::json::parse(r->body, nullptr, false);
    if (!j.is_object() || !j.contains("properties") || !j["properties"].is_object()) {
      fail("config answer has no properties object; retrying", r->body.substr(0, 200));
      continue;
    }
    const int64_t version = j.value("version", static_cast<int64_t>(0));
    const uint64_t answer_index = j.value("index", static_cast<uint64_t>(0));
    auto props = PropertiesFromJson(
        j["properties"].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    if (!props.ok()) {
      fail("config answer has bad properties; retrying", props.status().ToString());
      continue;
    }
    std::string content = RenderProperties(target.format, *props);
    const bool changed = written ? content != last_content : content != previous;
    if (!written && !changed) {
      // The file already holds this version (e.g. after an agent restart).
      written = true;
      last_content = std::move(content);
      Report(version, true, "unchanged");
    } else if (changed && content != refused) {
      if (Status s = WriteFileAtomically(target.file, content, target.mode); !s.ok()) {
        if (failed_write_version != version) {
          metrics_.AddConfigApplyFailure();
          Report(version, false, "cannot write " + target.file + ": " + s.message());
          failed_write_version = version;
        }
        have_index = false;  // fetch again at once after the pause
        fail("cannot write config file; retrying", s.ToString());
        continue;
      }
      if (Status s = RunOnChange(); !s.ok()) {
        // Put the last good file back so the service keeps running on it.
        const std::optional<std::string> good =
            written ? std::optional<std::string>(last_content) : previous;
        const Status restored =
            good ? WriteFileAtomically(target.file, *good, target.mode)
                 : (::unlink(target.file.c_str()) == 0 ? Status::Ok()
                                                       : Status::Unavailable(std::strerror(errno)));
        log::Error("on_change failed; kept the last good config file",
                   {{"file", target.file},
                    {"version", version},
                    {"error", s.ToString()},
                    {"restored", restored.ok()}});
        metrics_.AddConfigApplyFailure();
        Report(version, false, "on_change failed: " + s.message());
        refused = std::move(content);
      } else {
        written = true;
        last_content = std::move(content);
        refused.reset();
        metrics_.AddConfigApplied();
        log::Info("config applied",
                  {{"file", target.file}, {"version", version}, {"properties", props->size()}});
        Report(version, true, "");
      }
    }
    attempted();
    backoff.Reset();
    if (have_index && answer_index <= index) {
      // No progress: the wait ran out, or the server does not block. Either
      // way a short pause keeps a non-blocking server from being hammered.
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.retry_initial, [&] { return stopping_; });
    }
    index = answer_index;
    have_index = true;
  }
}

}  // namespace hive::agent
