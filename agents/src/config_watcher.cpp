#include "config_watcher.h"

#include <nlohmann/json.hpp>

#include "backoff.h"
#include "file_util.h"
#include "hive/agent/render.h"
#include "hive/core/http_client.h"
#include "hive/core/log.h"
#include "hive/core/text.h"
#include "long_poll.h"

namespace hive::agent {

ConfigWatcher::ConfigWatcher(AgentConfig config, AgentOptions options, AgentMetrics& metrics)
    : config_(std::move(config)), options_(options), metrics_(metrics) {}

ConfigWatcher::~ConfigWatcher() { Stop(); }

Status ConfigWatcher::Start() {
  auto http = CancellableGet::Create(config_.control_plane, config_.token);
  if (!http.ok()) return http.status();
  http_ = std::move(*http);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
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
  std::string last_content;

  auto fail = [&](const std::string& what, const std::string& error) {
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
    // The server answers by `wait`; the margin covers a slow answer.
    auto r = http_->Get(query, options_.config_wait + std::chrono::seconds(15));
    if (!r.ok()) {
      if (r.status().IsAborted()) return;
      fail("cannot read config; retrying", r.status().ToString());
      continue;
    }
    if (!r->ok()) {
      fail("cannot read config; retrying", StatusFromResponse(*r).ToString());
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
    if (!written || content != last_content) {
      if (Status s = WriteFileAtomically(target.file, content); !s.ok()) {
        have_index = false;  // fetch again at once after the pause
        fail("cannot write config file; retrying", s.ToString());
        continue;
      }
      written = true;
      last_content = std::move(content);
      metrics_.AddConfigApplied();
      log::Info("config applied",
                {{"file", target.file}, {"version", version}, {"properties", props->size()}});
    }
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
