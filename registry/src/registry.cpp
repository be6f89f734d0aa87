#include "hive/registry/registry.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <exception>
#include <utility>

#include "hive/core/log.h"
#include "hive/core/text.h"

namespace hive::registry {

namespace {

Status NotRegistered(std::string_view service, std::string_view id) {
  return Status::NotFound("instance '" + std::string(id) + "' of service '" + std::string(service) +
                          "' is not registered");
}

}  // namespace

struct Registry::Metrics {
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge* passing = nullptr;
  prometheus::Gauge* warning = nullptr;
  prometheus::Gauge* critical = nullptr;
  prometheus::Counter* registrations = nullptr;
  prometheus::Counter* heartbeats = nullptr;
  prometheus::Counter* deregistrations = nullptr;
  prometheus::Counter* expirations = nullptr;
  prometheus::Counter* removals = nullptr;
  prometheus::Gauge* blocked_watchers = nullptr;

  prometheus::Gauge& State(HealthStatus status) {
    switch (status) {
      case HealthStatus::kPassing:
        return *passing;
      case HealthStatus::kWarning:
        return *warning;
      case HealthStatus::kCritical:
        return *critical;
    }
    return *critical;
  }

  // prometheus-cpp throws on a name clash; that becomes a Status here.
  static Result<std::unique_ptr<Metrics>> Build(std::shared_ptr<prometheus::Registry> registry) {
    auto m = std::make_unique<Metrics>();
    m->registry = registry ? std::move(registry) : std::make_shared<prometheus::Registry>();
    prometheus::Registry& r = *m->registry;
    try {
      auto& instances = prometheus::BuildGauge()
                            .Name("hive_registry_instances")
                            .Help("Registered instances by effective health")
                            .Register(r);
      m->passing = &instances.Add({{"state", "passing"}});
      m->warning = &instances.Add({{"state", "warning"}});
      m->critical = &instances.Add({{"state", "critical"}});
      auto counter = [&](const char* name, const char* help) {
        return &prometheus::BuildCounter().Name(name).Help(help).Register(r).Add({});
      };
      m->registrations = counter("hive_registry_registrations_total",
                                 "Accepted registrations, replacements included");
      m->heartbeats = counter("hive_registry_heartbeats_total", "Accepted heartbeats");
      m->deregistrations =
          counter("hive_registry_deregistrations_total", "Instances removed by a DELETE");
      m->expirations =
          counter("hive_registry_expirations_total", "Leases that lapsed without a heartbeat");
      m->removals = counter("hive_registry_removals_total",
                            "Instances removed deregister_after past their lease expiry");
      m->blocked_watchers = &prometheus::BuildGauge()
                                 .Name("hive_registry_blocked_watchers")
                                 .Help("Blocking queries waiting for a change")
                                 .Register(r)
                                 .Add({});
    } catch (const std::exception& e) {
      return Status::Internal(std::string("registering registry metrics: ") + e.what());
    }
    return m;
  }
};

Result<std::unique_ptr<Registry>> Registry::Create(RegistryConfig config) {
  if (config.clock == nullptr) return Status::InvalidArgument("registry clock is null");
  if (config.default_ttl < kMinTtl || config.default_ttl > kMaxTtl) {
    return Status::InvalidArgument("default ttl " + FormatDuration(config.default_ttl) +
                                   " is outside " + FormatDuration(kMinTtl) + ".." +
                                   FormatDuration(kMaxTtl));
  }
  if (config.deregister_after < Duration::zero()) {
    return Status::InvalidArgument("deregister_after must not be negative");
  }
  auto metrics = Metrics::Build(config.metrics);
  if (!metrics.ok()) return metrics.status();
  return std::unique_ptr<Registry>(new Registry(std::move(config), std::move(*metrics)));
}

Registry::Registry(RegistryConfig config, std::unique_ptr<Metrics> metrics)
    : config_(std::move(config)), metrics_(std::move(metrics)) {}

Registry::~Registry() {
  // Leave the shared gauges as if this registry's instances were gone.
  std::lock_guard lock(mu_);
  for (auto& [name, svc] : services_) {
    for (auto& [id, rec] : svc.instances) metrics_->State(rec.instance.health.status).Decrement();
  }
}

void Registry::BumpLocked(Service& svc) {
  svc.index = ++index_;
  changed_.notify_all();
}

bool Registry::RefreshHealthLocked(Record& rec) {
  Health effective = rec.lease_expired
                         ? Health{HealthStatus::kCritical, std::string(kLeaseExpiredOutput)}
                         : rec.reported;
  if (effective == rec.instance.health) return false;
  if (effective.status != rec.instance.health.status) {
    metrics_->State(rec.instance.health.status).Decrement();
    metrics_->State(effective.status).Increment();
  }
  rec.instance.health = std::move(effective);
  return true;
}

Result<RegisterResult> Registry::Register(std::string_view service, std::string_view id,
                                          const Registration& reg) {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  HIVE_RETURN_IF_ERROR(ValidateName(id, "instance"));
  HIVE_RETURN_IF_ERROR(ValidateRegistration(reg));
  const TimePoint now = config_.clock->Now();
  const Duration ttl = reg.ttl.value_or(config_.default_ttl);
  const Health health = reg.health.value_or(Health{});

  RegisterResult result;
  bool is_new = false;
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    auto svc_it = services_.find(service);
    if (svc_it == services_.end())
      svc_it = services_.emplace(std::string(service), Service{}).first;
    Service& svc = svc_it->second;
    auto it = svc.instances.find(id);
    is_new = it == svc.instances.end();
    if (is_new) it = svc.instances.emplace(std::string(id), Record{}).first;
    Record& rec = it->second;
    Instance& inst = rec.instance;
    if (is_new) {
      inst.service = std::string(service);
      inst.id = std::string(id);
      inst.health = health;
      metrics_->State(health.status).Increment();
    }
    changed = is_new || inst.address != reg.address || inst.port != reg.port ||
              inst.version != reg.version || inst.tags != reg.tags ||
              inst.metadata != reg.metadata || inst.ttl != ttl;
    if (changed) {
      inst.address = reg.address;
      inst.port = reg.port;
      inst.version = reg.version;
      inst.tags = reg.tags;
      inst.metadata = reg.metadata;
      inst.ttl = ttl;
      inst.registered_at = now;
    }
    rec.reported = health;
    rec.lease_expired = false;
    if (RefreshHealthLocked(rec)) changed = true;
    inst.last_seen = now;
    inst.lease_expires_at = now + ttl;
    metrics_->registrations->Increment();
    if (changed) BumpLocked(svc);
    result.instance = inst;
    result.index = svc.index;
  }
  if (is_new) {
    log::Info(
        "instance registered",
        {{"service", service}, {"instance", id}, {"address", reg.address}, {"port", reg.port}});
  }
  return result;
}

Result<uint64_t> Registry::Heartbeat(std::string_view service, std::string_view id,
                                     const std::optional<Health>& health) {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  HIVE_RETURN_IF_ERROR(ValidateName(id, "instance"));
  if (health) HIVE_RETURN_IF_ERROR(ValidateHealth(*health));
  const TimePoint now = config_.clock->Now();

  std::lock_guard lock(mu_);
  auto svc_it = services_.find(service);
  if (svc_it == services_.end()) return NotRegistered(service, id);
  Service& svc = svc_it->second;
  auto it = svc.instances.find(id);
  if (it == svc.instances.end()) return NotRegistered(service, id);
  Record* rec = &it->second;
  rec->instance.last_seen = now;
  rec->instance.lease_expires_at = now + rec->instance.ttl;
  if (health) rec->reported = *health;
  const bool was_expired = rec->lease_expired;
  rec->lease_expired = false;
  metrics_->heartbeats->Increment();
  if (RefreshHealthLocked(*rec) || was_expired) BumpLocked(svc);
  return svc.index;
}

Result<uint64_t> Registry::Deregister(std::string_view service, std::string_view id) {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  HIVE_RETURN_IF_ERROR(ValidateName(id, "instance"));
  uint64_t index = 0;
  {
    std::lock_guard lock(mu_);
    auto svc_it = services_.find(service);
    if (svc_it == services_.end()) return NotRegistered(service, id);
    Service& svc = svc_it->second;
    auto it = svc.instances.find(id);
    if (it == svc.instances.end()) return NotRegistered(service, id);
    metrics_->State(it->second.instance.health.status).Decrement();
    svc.instances.erase(it);
    metrics_->deregistrations->Increment();
    BumpLocked(svc);
    index = svc.index;
  }
  log::Info("instance deregistered", {{"service", service}, {"instance", id}});
  return index;
}

ServiceList Registry::ListServices() const {
  ServiceList out;
  std::lock_guard lock(mu_);
  out.index = index_;
  for (const auto& [name, svc] : services_) {
    if (svc.instances.empty()) continue;
    ServiceSummary& s = out.services.emplace_back();
    s.name = name;
    for (const auto& [id, rec] : svc.instances) {
      ++s.instances;
      switch (rec.instance.health.status) {
        case HealthStatus::kPassing:
          ++s.passing;
          break;
        case HealthStatus::kWarning:
          ++s.warning;
          break;
        case HealthStatus::kCritical:
          ++s.critical;
          break;
      }
    }
  }
  return out;
}

ServiceInstances Registry::SnapshotLocked(std::string_view service, bool healthy_only) const {
  ServiceInstances out;
  out.service = std::string(service);
  auto it = services_.find(service);
  if (it == services_.end()) return out;
  out.index = it->second.index;
  for (const auto& [id, rec] : it->second.instances) {
    if (healthy_only && rec.instance.health.status == HealthStatus::kCritical) continue;
    out.instances.push_back(rec.instance);
  }
  return out;
}

Result<ServiceInstances> Registry::GetService(std::string_view service, bool healthy_only) const {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  std::lock_guard lock(mu_);
  return SnapshotLocked(service, healthy_only);
}

Result<ServiceInstances> Registry::WatchService(std::string_view service, bool healthy_only,
                                                uint64_t after_index,
                                                std::chrono::milliseconds timeout) {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  auto ready = [&] {
    if (watches_cancelled_ || after_index > index_) return true;
    auto it = services_.find(service);
    return it != services_.end() && it->second.index > after_index;
  };
  if (!ready()) {
    metrics_->blocked_watchers->Increment();
    changed_.wait_until(lock, deadline, ready);
    metrics_->blocked_watchers->Decrement();
  }
  return SnapshotLocked(service, healthy_only);
}

ReapResult Registry::Reap() {
  struct Event {
    std::string service;
    std::string id;
    bool removed;
  };
  std::vector<Event> events;
  ReapResult result;
  const TimePoint now = config_.clock->Now();
  {
    std::lock_guard lock(mu_);
    for (auto& [name, svc] : services_) {
      bool svc_changed = false;
      for (auto it = svc.instances.begin(); it != svc.instances.end();) {
        Record& rec = it->second;
        if (!rec.lease_expired && now >= rec.instance.lease_expires_at) {
          rec.lease_expired = true;
          RefreshHealthLocked(rec);
          metrics_->expirations->Increment();
          ++result.expired;
          svc_changed = true;
          events.push_back({name, it->first, false});
        }
        if (rec.lease_expired && now >= rec.instance.lease_expires_at + config_.deregister_after) {
          metrics_->State(rec.instance.health.status).Decrement();
          metrics_->removals->Increment();
          ++result.removed;
          svc_changed = true;
          events.push_back({name, it->first, true});
          it = svc.instances.erase(it);
          continue;
        }
        ++it;
      }
      if (svc_changed) BumpLocked(svc);
    }
  }
  for (const Event& e : events) {
    log::Info(e.removed ? "instance removed after lease expiry" : "lease expired",
              {{"service", e.service}, {"instance", e.id}});
  }
  return result;
}

void Registry::CancelWatches() {
  std::lock_guard lock(mu_);
  watches_cancelled_ = true;
  changed_.notify_all();
}

uint64_t Registry::index() const {
  std::lock_guard lock(mu_);
  return index_;
}

uint64_t Registry::ServiceIndex(std::string_view service) const {
  std::lock_guard lock(mu_);
  auto it = services_.find(service);
  return it == services_.end() ? 0 : it->second.index;
}

}  // namespace hive::registry
