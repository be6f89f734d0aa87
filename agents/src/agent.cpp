#include "hive/agent/agent.h"

#include <signal.h>

#include "config_watcher.h"
#include "hive/agent/child.h"
#include "hive/agent/log_shipper.h"
#include "hive/core/http.h"
#include "hive/core/log.h"
#include "intake.h"
#include "metrics_scraper.h"
#include "registration.h"

namespace hive::agent {
namespace {

// With a token, every route but /healthz and /readyz needs it, as
// `Authorization: Bearer`; the server's own check compares digests, so the
// time taken says nothing of how much of a guess was right.
Result<std::shared_ptr<const TokenAuthenticator>> ListenerAuth(std::string_view name,
                                                               const ListenerConfig& listener,
                                                               Role role) {
  if (listener.token.empty()) return std::shared_ptr<const TokenAuthenticator>();
  auto auth = std::make_shared<TokenAuthenticator>();
  HIVE_RETURN_IF_ERROR(auth->Add(std::string(name), role, listener.token));
  return std::shared_ptr<const TokenAuthenticator>(std::move(auth));
}

// `role` is what the listener's token may do: the intake's routes need an
// agent's, the admin server's /metrics a reader's.
Result<std::unique_ptr<HttpServer>> StartServer(std::string_view name,
                                                const ListenerConfig& listener, Role role,
                                                std::shared_ptr<prometheus::Registry> metrics,
                                                const std::function<void(HttpServer&)>& routes) {
  HttpServerOptions o;
  HIVE_RETURN_IF_ERROR(ParseHostPort(listener.listen, &o.host, &o.port));
  auto auth = ListenerAuth(name, listener, role);
  if (!auth.ok()) return auth.status();
  o.auth = std::move(*auth);
  if (!o.auth && !IsLoopbackHost(o.host)) {
    log::Warn("listening beyond loopback without a token: anyone who reaches it is served",
              {{"listener", name}, {"address", listener.listen}});
  }
  o.worker_threads = 4;
  o.metrics = std::move(metrics);
  auto server = std::make_unique<HttpServer>(o);
  if (routes) routes(*server);
  HIVE_RETURN_IF_ERROR(server->Start());
  return server;
}

}  // namespace

Agent::Agent(AgentConfig config, AgentOptions options)
    : config_(std::move(config)), options_(options) {}

Agent::~Agent() { (void)Stop(); }

Status Agent::Start() {
  if (started_) return Status::FailedPrecondition("agent already started");
  started_ = true;
  if (config_.config && config_.config->on_change.kind == OnChangeConfig::Kind::kSignal &&
      config_.config->on_change.pid == 0 && config_.config->on_change.pid_file.empty() &&
      config_.exec.command.empty()) {
    return Status::InvalidArgument(
        "config.on_change.signal needs pid or pid_file, or a service started by hive-agent "
        "(-- command)");
  }
  if (!config_.admin.listen.empty()) {
    auto admin = StartServer("admin", config_.admin, Role::kReader, metrics_.registry(), nullptr);
    if (!admin.ok()) return admin.status().WithContext("admin.listen " + config_.admin.listen);
    admin_ = std::move(*admin);
    log::Info("admin endpoint listening", {{"address", admin_->host()},
                                           {"port", admin_->port()},
                                           {"token", !config_.admin.token.empty()}});
  }
  // The log thread also owns the spool directory; start it first so a bad
  // spool directory fails before anything was registered.
  shipper_ = std::make_unique<LogShipper>(config_, options_, metrics_);
  HIVE_RETURN_IF_ERROR(shipper_->Start());
  if (!config_.intake.listen.empty()) {
    intake_ = std::make_unique<Intake>(config_.service, config_.instance, *shipper_, metrics_);
    auto server = StartServer("intake", config_.intake, Role::kAgent, nullptr,
                              [&](HttpServer& s) { intake_->AddRoutes(s); });
    if (!server.ok()) return server.status().WithContext("intake.listen " + config_.intake.listen);
    intake_->SetServer(std::move(*server));
    log::Info("intake listening",
              {{"port", intake_->port()}, {"token", !config_.intake.token.empty()}});
  }
  if (!config_.exec.command.empty()) {
    LogShipper* shipper = shipper_.get();
    child_ = std::make_unique<ChildSupervisor>(
        config_.exec, options_, metrics_,
        [shipper](bool is_stderr, std::string_view line, bool truncated) {
          shipper->AddOutputLine(is_stderr, line, truncated);
        });
  }
  if (config_.config) {
    ChildSupervisor* child = child_.get();
    watcher_ = std::make_unique<ConfigWatcher>(config_, options_, metrics_, [child]() -> int {
      return child != nullptr ? child->pid() : 0;
    });
    HIVE_RETURN_IF_ERROR(watcher_->Start());
    // The service starts with its config file in place, as consul-template's
    // exec mode does: a signal for the first render could reach it before
    // it has a handler, and kill it.
    if (child_ && !watcher_->WaitFirstAttempt(options_.first_render_wait)) {
      log::Warn("no config yet; starting the service with the file as it is",
                {{"file", config_.config->file}});
    }
  }
  if (child_) HIVE_RETURN_IF_ERROR(child_->Start());
  if (config_.metrics) {
    scraper_ = std::make_unique<MetricsScraper>(config_, options_, metrics_);
    HIVE_RETURN_IF_ERROR(scraper_->Start());
  }
  registration_ = std::make_unique<RegistrationLoop>(config_, options_, metrics_);
  HIVE_RETURN_IF_ERROR(registration_->Start());
  log::Info("hive-agent started", {{"service", config_.service},
                                   {"instance", config_.instance},
                                   {"control_plane", config_.control_plane},
                                   {"log_sources", config_.logs.size()},
                                   {"exec", !config_.exec.command.empty()}});
  return Status::Ok();
}

void Agent::Signal(int sig) {
  if (child_) child_->Signal(sig);
}

std::optional<int> Agent::child_exit_code() const {
  return child_ ? child_->exit_code() : std::nullopt;
}

int Agent::admin_port() const { return admin_ ? admin_->port() : 0; }
int Agent::intake_port() const { return intake_ ? intake_->port() : 0; }

Status Agent::Stop(int child_signal) {
  if (!started_ || stopped_) return Status::Ok();
  stopped_ = true;
  if (child_) child_->Stop(child_signal);
  if (intake_) intake_->Stop();
  if (scraper_) scraper_->Stop();
  if (watcher_) watcher_->Stop();
  if (shipper_) shipper_->Stop();
  Status s;
  if (registration_) {
    registration_->Stop();
    s = registration_->Deregister();
    if (!s.ok()) log::Warn("cannot deregister", {{"error", s.ToString()}});
  }
  if (admin_) admin_->Stop();
  return s;
}

}  // namespace hive::agent
