#include "hive/agent/agent.h"

#include "config_watcher.h"
#include "hive/agent/log_shipper.h"
#include "hive/core/log.h"
#include "registration.h"

namespace hive::agent {

Agent::Agent(AgentConfig config, AgentOptions options)
    : config_(std::move(config)), options_(options) {}

Agent::~Agent() { (void)Stop(); }

Status Agent::Start() {
  if (started_) return Status::FailedPrecondition("agent already started");
  started_ = true;
  // The log thread also owns the spool directory; start it first so a bad
  // spool directory fails before anything was registered.
  shipper_ = std::make_unique<LogShipper>(config_, options_, metrics_);
  HIVE_RETURN_IF_ERROR(shipper_->Start());
  if (config_.config) {
    watcher_ = std::make_unique<ConfigWatcher>(config_, options_, metrics_);
    HIVE_RETURN_IF_ERROR(watcher_->Start());
  }
  registration_ = std::make_unique<RegistrationLoop>(config_, options_, metrics_);
  HIVE_RETURN_IF_ERROR(registration_->Start());
  log::Info("hive-agent started", {{"service", config_.service},
                                   {"instance", config_.instance},
                                   {"control_plane", config_.control_plane},
                                   {"log_sources", config_.logs.size()}});
  return Status::Ok();
}

Status Agent::Stop() {
  if (!started_ || stopped_) return Status::Ok();
  stopped_ = true;
  if (watcher_) watcher_->Stop();
  if (shipper_) shipper_->Stop();
  if (!registration_) return Status::Ok();
  registration_->Stop();
  Status s = registration_->Deregister();
  if (!s.ok()) log::Warn("cannot deregister", {{"error", s.ToString()}});
  return s;
}

}  // namespace hive::agent
