#include "hive/registry/registry.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "hive/core/log.h"
#include "hive/core/text.h"
#include "registry_store.h"

namespace hive::registry {

namespace {

Status NotRegistered(std::string_view service, std::string_view id) {
  return Status::NotFound("instance '" + std::string(id) + "' of service '" + std::string(service) +
                          "' is not registered");
}

// What readers see of an instance given its lease state.
Health EffectiveHealth(const Health& reported, bool lease_expired) {
  return lease_expired ? Health{HealthStatus::kCritical, std::string(kLeaseExpiredOutput)}
                       : reported;
}

// The instance as stored: with the health it reported.
Instance StoredForm(const Instance& inst, const Health& reported) {
  Instance out = inst;
  out.health = reported;
  return out;
}

int64_t UnixSeconds(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kRegistered:
      return "registered";
    case ChangeKind::kUpdated:
      return "updated";
    case ChangeKind::kHealth:
      return "health";
    case ChangeKind::kMaintenance:
      return "maintenance";
    case ChangeKind::kDeregistered:
      return "deregistered";
    case ChangeKind::kRemoved:
      return "removed";
  }
  return "updated";
}

struct Registry::Metrics {
  std::shared_ptr<prometheus::Registry> registry;
  prometheus::Gauge* passing = nullptr;
  prometheus::Gauge* warning = nullptr;
  prometheus::Gauge* critical = nullptr;
  prometheus::Gauge* maintenance = nullptr;
  prometheus::Counter* registrations = nullptr;
  prometheus::Counter* heartbeats = nullptr;
  prometheus::Counter* deregistrations = nullptr;
  prometheus::Counter* expirations = nullptr;
  prometheus::Counter* removals = nullptr;
  prometheus::Counter* store_errors = nullptr;
  prometheus::Gauge* blocked_watchers = nullptr;
  prometheus::Gauge* self_preservation = nullptr;
  prometheus::Gauge* renewal_rate = nullptr;
  prometheus::Gauge* expected_renewal_rate = nullptr;

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
      auto gauge = [&](const char* name, const char* help) {
        return &prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
      };
      m->maintenance = gauge("hive_registry_maintenance_instances",
                             "Instances under an operator's maintenance override");
      m->registrations = counter("hive_registry_registrations_total",
                                 "Accepted registrations, replacements included");
      m->heartbeats = counter("hive_registry_heartbeats_total", "Accepted heartbeats");
      m->deregistrations =
          counter("hive_registry_deregistrations_total", "Instances removed by a DELETE");
      m->expirations =
          counter("hive_registry_expirations_total", "Leases that lapsed without a heartbeat");
      m->removals = counter("hive_registry_removals_total",
                            "Instances removed deregister_after past their lease expiry");
      m->store_errors = counter("hive_registry_store_errors_total",
                                "Failed writes to the registry database (the change was refused)");
      m->blocked_watchers =
          gauge("hive_registry_blocked_watchers", "Blocking queries waiting for a change");
      m->self_preservation = gauge("hive_registry_self_preservation",
                                   "1 while self-preservation holds lease expiry, else 0");
      m->renewal_rate = gauge("hive_registry_renewals_per_second",
                              "Renewals per second over the self-preservation window");
      m->expected_renewal_rate =
          gauge("hive_registry_expected_renewals_per_second",
                "Renewals per second expected from live instances (one per TTL/3 each)");
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
  if (!(config.self_preservation_threshold >= 0 && config.self_preservation_threshold <= 1)) {
    return Status::InvalidArgument("self-preservation threshold must be within 0..1");
  }
  if (config.self_preservation_window < std::chrono::seconds(1)) {
    return Status::InvalidArgument("self-preservation window must be at least 1s");
  }
  std::unique_ptr<RegistryStore> store;
  if (!config.db_path.empty()) {
    auto opened = RegistryStore::Open(config.db_path);
    if (!opened.ok()) return opened.status();
    store = std::move(*opened);
  }
  auto metrics = Metrics::Build(config.metrics);
  if (!metrics.ok()) return metrics.status();
  std::unique_ptr<Registry> registry(
      new Registry(std::move(config), std::move(*metrics), std::move(store)));
  HIVE_RETURN_IF_ERROR(registry->Load());
  return registry;
}

Registry::Registry(RegistryConfig config, std::unique_ptr<Metrics> metrics,
                   std::unique_ptr<RegistryStore> store)
    : config_(std::move(config)),
      metrics_(std::move(metrics)),
      store_(std::move(store)),
      started_at_(config_.clock->Now()) {}

Registry::~Registry() {
  // Leave the shared gauges as if this registry's instances were gone.
  std::lock_guard lock(mu_);
  for (auto& [name, svc] : services_) {
    for (auto& [id, rec] : svc.instances) AdjustGaugesLocked(rec.instance, -1);
  }
}

Status Registry::Load() {
  if (!store_) return Status::Ok();
  auto state = store_->Load();
  if (!state.ok()) return state.status();
  const TimePoint now = config_.clock->Now();
  std::lock_guard lock(mu_);
  // The restart itself is a change (every lease is new), and the index must
  // not go backwards for watchers that saw the previous process.
  index_ = state->index + (state->instances.empty() ? 0 : 1);
  history_floor_ = index_;
  for (Instance& inst : state->instances) {
    Service& svc = ServiceEntryLocked(inst.service);
    svc.index = index_;
    Record rec;
    rec.reported = inst.health;
    rec.tracked_since = now;
    inst.lease_expires_at = now + inst.ttl;  // the grace period
    std::string id = inst.id;
    rec.instance = std::move(inst);
    AdjustGaugesLocked(rec.instance, +1);
    CountRenewalLocked(now);  // as a registration would
    svc.instances.emplace(std::move(id), std::move(rec));
  }
  log::Info("registry loaded", {{"path", config_.db_path},
                                {"instances", static_cast<int64_t>(state->instances.size())},
                                {"index", static_cast<int64_t>(index_)}});
  return Status::Ok();
}

void Registry::BumpLocked(Service& svc, std::vector<ChangeEvent> events) {
  svc.index = ++index_;
  for (ChangeEvent& e : events) {
    e.index = index_;
    events_.push_back(std::move(e));
  }
  while (events_.size() > kMaxEventHistory) {
    history_floor_ = events_.front().index;
    events_.pop_front();
  }
  svc.changed.Notify();
  events_changed_.Notify();
}

Status Registry::PersistLocked(const std::vector<StoreChange>& changes, uint64_t index) {
  if (!store_) return Status::Ok();
  Status s = store_->Write(changes, index);
  if (!s.ok()) {
    metrics_->store_errors->Increment();
    log::Error("registry write failed", {{"error", s.ToString()}});
  }
  return s;
}

void Registry::AdjustGaugesLocked(const Instance& inst, int delta) {
  metrics_->State(inst.health.status).Increment(delta);
  if (inst.maintenance) metrics_->maintenance->Increment(delta);
}

void Registry::CountRenewalLocked(TimePoint now) {
  const int64_t sec = UnixSeconds(now);
  if (!renewals_.empty() && renewals_.back().first == sec) {
    ++renewals_.back().second;
  } else {
    renewals_.emplace_back(sec, 1);
  }
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
  {
    std::lock_guard lock(mu_);
    Service& svc = ServiceEntryLocked(service);
    auto it = svc.instances.find(id);
    is_new = it == svc.instances.end();
    Record next = is_new ? Record{} : it->second;
    Instance& inst = next.instance;
    if (is_new) {
      inst.service = std::string(service);
      inst.id = std::string(id);
      next.tracked_since = now;
    } else if (next.lease_expired) {
      next.tracked_since = now;
    }
    const bool changed = is_new || inst.address != reg.address || inst.port != reg.port ||
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
    next.reported = health;
    next.lease_expired = false;
    Health effective = EffectiveHealth(health, false);
    const bool health_changed = is_new || effective != inst.health;
    inst.health = std::move(effective);
    inst.last_seen = now;
    inst.lease_expires_at = now + ttl;
    const bool bump = changed || health_changed;
    if (bump) {
      const Instance stored = StoredForm(inst, next.reported);
      HIVE_RETURN_IF_ERROR(
          PersistLocked({{std::string(service), std::string(id), &stored}}, index_ + 1));
    }
    if (is_new) {
      it = svc.instances.emplace(std::string(id), Record{}).first;
    } else {
      AdjustGaugesLocked(it->second.instance, -1);
    }
    CountRenewalLocked(now);
    AdjustGaugesLocked(next.instance, +1);
    it->second = std::move(next);
    metrics_->registrations->Increment();
    if (bump) {
      const ChangeKind kind = is_new    ? ChangeKind::kRegistered
                              : changed ? ChangeKind::kUpdated
                                        : ChangeKind::kHealth;
      BumpLocked(svc, {{0, kind, std::string(service), std::string(id), it->second.instance}});
    }
    result.instance = it->second.instance;
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
  Record& rec = it->second;
  const Health& reported = health ? *health : rec.reported;
  Health effective = EffectiveHealth(reported, false);
  // The hot path: a heartbeat that only renews the lease touches no disk.
  const bool bump = rec.lease_expired || effective != rec.instance.health;
  if (bump) {
    const Instance stored = StoredForm(rec.instance, reported);
    HIVE_RETURN_IF_ERROR(
        PersistLocked({{std::string(service), std::string(id), &stored}}, index_ + 1));
    AdjustGaugesLocked(rec.instance, -1);
    rec.reported = reported;
    if (rec.lease_expired) rec.tracked_since = now;
    rec.lease_expired = false;
    rec.instance.health = std::move(effective);
    AdjustGaugesLocked(rec.instance, +1);
  }
  rec.instance.last_seen = now;
  rec.instance.lease_expires_at = now + rec.instance.ttl;
  CountRenewalLocked(now);
  metrics_->heartbeats->Increment();
  if (bump) {
    BumpLocked(svc,
               {{0, ChangeKind::kHealth, std::string(service), std::string(id), rec.instance}});
  }
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
    HIVE_RETURN_IF_ERROR(
        PersistLocked({{std::string(service), std::string(id), nullptr}}, index_ + 1));
    AdjustGaugesLocked(it->second.instance, -1);
    svc.instances.erase(it);
    metrics_->deregistrations->Increment();
    BumpLocked(svc, {{0, ChangeKind::kDeregistered, std::string(service), std::string(id), {}}});
    index = svc.index;
  }
  log::Info("instance deregistered", {{"service", service}, {"instance", id}});
  return index;
}

Result<uint64_t> Registry::SetMaintenance(std::string_view service, std::string_view id,
                                          bool enabled, std::string_view reason) {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  HIVE_RETURN_IF_ERROR(ValidateName(id, "instance"));
  if (reason.size() > kMaxMaintenanceReasonLength) {
    return Status::InvalidArgument("reason is longer than " +
                                   std::to_string(kMaxMaintenanceReasonLength) + " characters");
  }
  const std::string new_reason = enabled ? std::string(reason) : std::string();
  uint64_t index = 0;
  {
    std::lock_guard lock(mu_);
    auto svc_it = services_.find(service);
    if (svc_it == services_.end()) return NotRegistered(service, id);
    Service& svc = svc_it->second;
    auto it = svc.instances.find(id);
    if (it == svc.instances.end()) return NotRegistered(service, id);
    Record& rec = it->second;
    if (rec.instance.maintenance == enabled && rec.instance.maintenance_reason == new_reason) {
      return svc.index;
    }
    Instance stored = StoredForm(rec.instance, rec.reported);
    stored.maintenance = enabled;
    stored.maintenance_reason = new_reason;
    HIVE_RETURN_IF_ERROR(
        PersistLocked({{std::string(service), std::string(id), &stored}}, index_ + 1));
    AdjustGaugesLocked(rec.instance, -1);
    rec.instance.maintenance = enabled;
    rec.instance.maintenance_reason = new_reason;
    AdjustGaugesLocked(rec.instance, +1);
    BumpLocked(
        svc, {{0, ChangeKind::kMaintenance, std::string(service), std::string(id), rec.instance}});
    index = svc.index;
  }
  log::Info(enabled ? "instance in maintenance" : "instance out of maintenance",
            {{"service", service}, {"instance", id}, {"reason", new_reason}});
  return index;
}

ServiceList Registry::ListServices() const {
  ServiceList out;
  std::lock_guard lock(mu_);
  out.index = index_;
  out.self_preservation = self_preservation_;
  for (const auto& [name, svc] : services_) {
    if (svc.instances.empty()) continue;
    ServiceSummary& s = out.services.emplace_back();
    s.name = name;
    for (const auto& [id, rec] : svc.instances) {
      ++s.instances;
      if (rec.instance.maintenance) ++s.maintenance;
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

ServiceInstances Registry::SnapshotLocked(std::string_view service,
                                          const InstanceFilter& filter) const {
  ServiceInstances out;
  out.service = std::string(service);
  auto it = services_.find(service);
  if (it == services_.end()) return out;
  out.index = it->second.index;
  // A lease that lapsed since the last reaper pass already leaves healthy
  // results, so a dead instance is out exactly at its TTL, not up to one
  // reap interval later — unless self-preservation holds expiry back.
  const TimePoint now = config_.clock->Now();
  for (const auto& [id, rec] : it->second.instances) {
    const Instance& inst = rec.instance;
    const bool lapsed = !self_preservation_ && inst.lease_expires_at <= now;
    if (filter.healthy_only &&
        (inst.health.status == HealthStatus::kCritical || inst.maintenance || lapsed)) {
      continue;
    }
    if (!filter.version.empty() && inst.version != filter.version) continue;
    if (!filter.tag.empty() &&
        std::find(inst.tags.begin(), inst.tags.end(), filter.tag) == inst.tags.end()) {
      continue;
    }
    out.instances.push_back(inst);
  }
  return out;
}

Result<ServiceInstances> Registry::GetService(std::string_view service,
                                              const InstanceFilter& filter) const {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  HIVE_RETURN_IF_ERROR(ValidateFilter(filter));
  std::lock_guard lock(mu_);
  return SnapshotLocked(service, filter);
}

bool Registry::ServiceChangedSince(std::string_view service, uint64_t after_index,
                                   uint64_t* index) const {
  std::lock_guard lock(mu_);
  auto it = services_.find(service);
  const uint64_t current = it == services_.end() ? 0 : it->second.index;
  if (index != nullptr) *index = current;
  return watches_cancelled_ || after_index > index_ || current > after_index;
}

Result<Subscription> Registry::SubscribeService(std::string_view service, Notifier::Listener wake) {
  HIVE_RETURN_IF_ERROR(ValidateName(service, "service"));
  std::lock_guard lock(mu_);
  // A never-seen service gets its (empty) entry so its watchers have a
  // notifier; ListServices() skips it.
  return ServiceEntryLocked(service).changed.Subscribe(std::move(wake));
}

Registry::Service& Registry::ServiceEntryLocked(std::string_view service) {
  auto it = services_.find(service);
  if (it != services_.end()) return it->second;
  return services_.try_emplace(std::string(service), metrics_->blocked_watchers).first->second;
}

Subscription Registry::SubscribeEvents(Notifier::Listener wake) {
  return events_changed_.Subscribe(std::move(wake));
}

EventBatch Registry::EventsSince(uint64_t after) const {
  EventBatch batch;
  std::lock_guard lock(mu_);
  batch.index = index_;
  // An index ahead of ours went backwards (a wiped data dir): start over.
  batch.reset = after > index_ || after < history_floor_;
  if (after >= index_) return batch;
  auto first = std::upper_bound(events_.begin(), events_.end(), after,
                                [](uint64_t i, const ChangeEvent& e) { return i < e.index; });
  batch.events.assign(first, events_.end());
  return batch;
}

bool Registry::RenewalsTooLowLocked(TimePoint now, double* actual, double* expected) {
  // Whole seconds only: the window is [end - window, end) with end the start
  // of the current (still filling) second.
  const Duration window = config_.self_preservation_window;
  const int64_t end_sec = UnixSeconds(now);
  const int64_t window_sec = std::chrono::duration_cast<std::chrono::seconds>(window).count();
  const int64_t start_sec = end_sec - window_sec;
  while (!renewals_.empty() && renewals_.front().first < start_sec) renewals_.pop_front();
  *actual = 0;
  for (const auto& [sec, count] : renewals_) {
    if (sec < end_sec) *actual += static_cast<double>(count);
  }
  const TimePoint start = TimePoint(std::chrono::seconds(start_sec));
  const TimePoint end = TimePoint(std::chrono::seconds(end_sec));
  *expected = 0;
  int live = 0;
  for (const auto& [name, svc] : services_) {
    for (const auto& [id, rec] : svc.instances) {
      if (rec.lease_expired) continue;
      ++live;
      // A (re)registration counts as a renewal at tracked_since, so an
      // instance is expected to renew at its start and every TTL/3 after.
      const TimePoint since = std::max(rec.tracked_since, start);
      if (since >= end) continue;
      const double interval = std::chrono::duration<double>(rec.instance.ttl).count() / 3;
      *expected += std::chrono::duration<double>(end - since).count() / interval;
    }
  }
  const double seconds = static_cast<double>(window_sec);
  metrics_->renewal_rate->Set(*actual / seconds);
  metrics_->expected_renewal_rate->Set(*expected / seconds);
  // Until a whole window has passed (after a start or restart) there is no
  // history to judge by.
  if (config_.self_preservation_threshold <= 0 || now - started_at_ < window ||
      live < config_.self_preservation_min_instances) {
    return false;
  }
  return *actual < config_.self_preservation_threshold * *expected;
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
  double actual = 0;
  double expected = 0;
  bool mode_changed = false;
  {
    std::lock_guard lock(mu_);
    const bool too_low = RenewalsTooLowLocked(now, &actual, &expected);
    mode_changed = too_low != self_preservation_;
    self_preservation_ = too_low;
    metrics_->self_preservation->Set(too_low ? 1 : 0);
    result.self_preservation = too_low;
    if (!too_low) {
      // First decide, then persist, then apply: a failed write changes nothing.
      struct Due {
        Service* svc;
        std::map<std::string, Record, std::less<>>::iterator it;
        bool lapse;
        bool remove;
      };
      std::vector<Due> due;
      std::vector<StoreChange> removals;
      int services_changed = 0;
      for (auto& [name, svc] : services_) {
        bool svc_changed = false;
        for (auto it = svc.instances.begin(); it != svc.instances.end(); ++it) {
          const Record& rec = it->second;
          const bool lapse = !rec.lease_expired && now >= rec.instance.lease_expires_at;
          const bool remove = (rec.lease_expired || lapse) &&
                              now >= rec.instance.lease_expires_at + config_.deregister_after;
          if (!lapse && !remove) continue;
          due.push_back({&svc, it, lapse, remove});
          if (remove) removals.push_back({name, it->first, nullptr});
          svc_changed = true;
        }
        if (svc_changed) ++services_changed;
      }
      if (!due.empty() &&
          PersistLocked(removals, index_ + static_cast<uint64_t>(services_changed)).ok()) {
        Service* current = nullptr;
        std::vector<ChangeEvent> svc_events;
        auto flush = [&] {
          if (current != nullptr) BumpLocked(*current, std::move(svc_events));
          svc_events.clear();
        };
        for (Due& d : due) {
          if (d.svc != current) {
            flush();
            current = d.svc;
          }
          Record& rec = d.it->second;
          const std::string& service = rec.instance.service;
          const std::string id = d.it->first;
          if (d.lapse) {
            AdjustGaugesLocked(rec.instance, -1);
            rec.lease_expired = true;
            rec.instance.health = EffectiveHealth(rec.reported, true);
            AdjustGaugesLocked(rec.instance, +1);
            metrics_->expirations->Increment();
            ++result.expired;
            events.push_back({service, id, false});
            if (!d.remove)
              svc_events.push_back({0, ChangeKind::kHealth, service, id, rec.instance});
          }
          if (d.remove) {
            AdjustGaugesLocked(rec.instance, -1);
            metrics_->removals->Increment();
            ++result.removed;
            events.push_back({service, id, true});
            svc_events.push_back({0, ChangeKind::kRemoved, service, id, {}});
            d.svc->instances.erase(d.it);
          }
        }
        flush();
      }
    }
  }
  if (mode_changed) {
    const log::Fields fields = {{"renewals", static_cast<int64_t>(actual)},
                                {"expected", static_cast<int64_t>(expected)},
                                {"threshold", config_.self_preservation_threshold}};
    if (result.self_preservation) {
      log::Warn("self-preservation on: renewals fell below the threshold; leases will not expire",
                fields);
    } else {
      log::Info("self-preservation off: renewals recovered; leases expire again", fields);
    }
  }
  for (const Event& e : events) {
    log::Info(e.removed ? "instance removed after lease expiry" : "lease expired",
              {{"service", e.service}, {"instance", e.id}});
  }
  return result;
}

bool Registry::self_preservation() const {
  std::lock_guard lock(mu_);
  return self_preservation_;
}

bool Registry::watches_cancelled() const {
  std::lock_guard lock(mu_);
  return watches_cancelled_;
}

void Registry::CancelWatches() {
  std::lock_guard lock(mu_);
  watches_cancelled_ = true;
  for (auto& [name, svc] : services_) svc.changed.Notify();
  events_changed_.Notify();
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
