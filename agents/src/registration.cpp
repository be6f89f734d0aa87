#include "registration.h"

#include <nlohmann/json.hpp>

#include "backoff.h"
#include "control_plane.h"
#include "hive/agent/health.h"
#include "hive/core/log.h"
#include "hive/core/text.h"

namespace hive::agent {
namespace {

using Steady = std::chrono::steady_clock;

std::string HealthJson(const HealthResult& h) {
  return nlohmann::json{{"status", h.status}, {"output", h.output}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

RegistrationLoop::RegistrationLoop(AgentConfig config, AgentOptions options, AgentMetrics& metrics)
    : config_(std::move(config)),
      options_(options),
      metrics_(metrics),
      instance_path_("/api/v1/services/" + UrlEncode(config_.service) + "/instances/" +
                     UrlEncode(config_.instance)) {}

RegistrationLoop::~RegistrationLoop() { Stop(); }

Result<std::unique_ptr<HttpClient>> RegistrationLoop::NewClient() const {
  return HttpClient::Create(ControlPlaneClientOptions(config_, options_));
}

Status RegistrationLoop::Start() {
  auto client = NewClient();
  if (!client.ok()) return client.status();
  client_ = std::move(*client);
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void RegistrationLoop::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  client_.reset();  // a stopped agent keeps no connection open
}

Status RegistrationLoop::Deregister() {
  auto client = NewClient();
  if (!client.ok()) return client.status();
  auto r = (*client)->Send("DELETE", instance_path_);
  if (!r.ok()) return r.status();
  if (r->ok() || r->status == 404) {
    log::Info("deregistered", {{"service", config_.service}, {"instance", config_.instance}});
    return Status::Ok();
  }
  return StatusFromResponse(*r);
}

void RegistrationLoop::Run() {
  HealthChecker checker(config_.health);
  Backoff backoff(options_.retry_initial, options_.retry_max);
  LogThrottle register_log, heartbeat_log;
  const bool has_check = config_.health.kind != HealthKind::kNone;
  const auto heartbeat_every =
      std::chrono::duration_cast<Steady::duration>(config_.heartbeat_interval);
  const auto health_every = std::chrono::duration_cast<Steady::duration>(config_.health.interval);

  // Waits until `until` or Stop(); true when stopping.
  auto wait_until = [&](Steady::time_point until) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, until, [&] { return stopping_; });
  };

  HealthResult health = checker.Check();
  if (has_check) log::Info("health", {{"status", health.status}, {"output", health.output}});
  auto next_health = Steady::now() + health_every;
  bool registered = false;
  Steady::time_point next_heartbeat;

  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (!registered) {
      nlohmann::json body = {{"address", config_.address},
                             {"port", config_.port},
                             {"ttl", FormatDuration(config_.ttl())},
                             {"health", {{"status", health.status}, {"output", health.output}}}};
      if (!config_.version.empty()) body["version"] = config_.version;
      // Lets the dashboard find the configuration this instance follows.
      if (config_.config) body["metadata"] = {{"hive.config.profile", config_.config->profile}};
      auto r = client_->Send("PUT", instance_path_,
                             body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      if (r.ok() && r->ok()) {
        registered = true;
        backoff.Reset();
        next_heartbeat = Steady::now() + heartbeat_every;
        log::Info("registered", {{"service", config_.service},
                                 {"instance", config_.instance},
                                 {"control_plane", config_.control_plane}});
      } else {
        if (register_log.Allow()) {
          log::Warn("cannot register; retrying",
                    {{"error", r.ok() ? StatusFromResponse(*r).ToString() : r.status().ToString()},
                     {"control_plane", config_.control_plane},
                     {"suppressed", register_log.TakeSuppressed()}});
        }
        if (wait_until(Steady::now() +
                       std::chrono::duration_cast<Steady::duration>(backoff.Next()))) {
          return;
        }
        continue;
      }
    }
    auto now = Steady::now();
    if (has_check && now >= next_health) {
      HealthResult next = checker.Check();
      if (next.status != health.status) {
        const log::Fields fields = {
            {"from", health.status}, {"to", next.status}, {"output", next.output}};
        if (next.status == "passing") {
          log::Info("health changed", fields);
        } else {
          log::Warn("health changed", fields);
        }
      }
      health = std::move(next);
      next_health = Steady::now() + health_every;
    }
    now = Steady::now();
    if (now >= next_heartbeat) {
      auto r = client_->Send("PUT", instance_path_ + "/heartbeat", HealthJson(health));
      next_heartbeat = Steady::now() + heartbeat_every;
      if (r.ok() && r->ok()) {
        metrics_.AddHeartbeat(HeartbeatResult::kOk);
      } else if (r.ok() && r->status == 404) {
        metrics_.AddHeartbeat(HeartbeatResult::kNotFound);
        log::Warn("heartbeat: instance unknown to the registry; registering again",
                  {{"instance", config_.instance}});
        registered = false;
        continue;
      } else {
        metrics_.AddHeartbeat(HeartbeatResult::kError);
        if (heartbeat_log.Allow()) {
          log::Warn("heartbeat failed",
                    {{"error", r.ok() ? StatusFromResponse(*r).ToString() : r.status().ToString()},
                     {"suppressed", heartbeat_log.TakeSuppressed()}});
        }
      }
    }
    auto until = next_heartbeat;
    if (has_check) until = std::min(until, next_health);
    if (wait_until(until)) return;
  }
}

}  // namespace hive::agent
