// Registry: the in-memory table of service instances, their leases and health,
// with the change indexes that blocking queries wait on.
//
// Leases: every registration or heartbeat renews an instance's lease for its
// TTL. Reap() applies the one expiry rule: an instance whose lease lapsed turns
// critical with output "lease expired" (and so leaves healthy results); it is
// removed `deregister_after` past the lease expiry unless a heartbeat renews it
// first (which restores the health it last reported). Lease time comes from the
// injected Clock, so tests drive expiry with a FakeClock; state changes only in
// Reap(), so a lapse shows at most one reaper interval late.
//
// Indexes: a global change index, and per service the global index of its
// last change. Both increase on every change a watcher would care about:
// register (unless identical to the current registration), deregister, a
// change of effective health, a lease lapse and a removal. A heartbeat that
// changes nothing visible but the lease times does not bump them. A service
// whose instances are all gone keeps its index, so its watchers see the
// removal; a service never seen has index 0.
//
// Thread safety: all methods are thread-safe; one mutex guards the table.
// WatchService() waits on a condition variable, holding no lock while waiting.
//
// Errors: InvalidArgument for bad names or registrations, NotFound for an
// unknown instance. Nothing here throws.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/status.h"
#include "hive/registry/instance.h"

namespace prometheus {
class Registry;
}

namespace hive::registry {

struct RegistryConfig {
  // Not owned; must outlive the Registry.
  Clock* clock = &Clock::System();
  // Where the hive_registry_* metrics go. Null: a private registry.
  std::shared_ptr<prometheus::Registry> metrics;
  // The TTL of a registration that names none; within [kMinTtl, kMaxTtl].
  Duration default_ttl = std::chrono::seconds(15);
  // How long a lapsed instance stays (as critical) before it is removed.
  Duration deregister_after = std::chrono::minutes(1);
};

struct RegisterResult {
  Instance instance;
  uint64_t index = 0;  // the service's index after the registration
};

struct ServiceList {
  uint64_t index = 0;                    // the global index
  std::vector<ServiceSummary> services;  // by name; services with instances only
};

struct ServiceInstances {
  std::string service;
  uint64_t index = 0;               // the service's index
  std::vector<Instance> instances;  // by id
};

// What one Reap() pass did.
struct ReapResult {
  int expired = 0;  // leases that lapsed in this pass
  int removed = 0;  // instances removed in this pass
};

class Registry {
 public:
  // InvalidArgument for a bad config; Internal when the metrics cannot be
  // registered (a name clash in config.metrics).
  static Result<std::unique_ptr<Registry>> Create(RegistryConfig config);
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers or replaces `service`/`id`. A replacement keeps registered_at
  // when nothing visible changed and then does not bump the index.
  Result<RegisterResult> Register(std::string_view service, std::string_view id,
                                  const Registration& reg);

  // Renews the lease; with `health`, also records the reported health.
  // Returns the service's index. NotFound when the instance is unknown (the
  // agent then registers again).
  Result<uint64_t> Heartbeat(std::string_view service, std::string_view id,
                             const std::optional<Health>& health = std::nullopt);

  // Removes the instance; returns the service's index. NotFound when unknown.
  Result<uint64_t> Deregister(std::string_view service, std::string_view id);

  ServiceList ListServices() const;

  // The service's instances; with `healthy_only`, critical ones are left out
  // (warning ones stay: they still serve). An unknown service has none.
  // InvalidArgument for a bad service name.
  Result<ServiceInstances> GetService(std::string_view service, bool healthy_only) const;

  // A blocking GetService(): waits until the service's index exceeds
  // `after_index`, `timeout` (steady time, not the Clock) passes, or
  // CancelWatches() is called, then answers as GetService(). Answers at once
  // when `after_index` is ahead of the global index (the caller saw an index
  // from an earlier process: this registry is not persisted).
  Result<ServiceInstances> WatchService(std::string_view service, bool healthy_only,
                                        uint64_t after_index, std::chrono::milliseconds timeout);

  // One expiry pass at the Clock's current time (see the top of this file).
  ReapResult Reap();

  // Releases every blocked WatchService() and makes later ones answer at
  // once. For shutdown: the HTTP server waits for in-flight requests.
  void CancelWatches();

  uint64_t index() const;
  uint64_t ServiceIndex(std::string_view service) const;

 private:
  struct Metrics;
  struct Record {
    Instance instance;  // health is the effective health
    Health reported;    // what the instance last reported
    bool lease_expired = false;
  };
  struct Service {
    uint64_t index = 0;
    std::map<std::string, Record, std::less<>> instances;
  };

  Registry(RegistryConfig config, std::unique_ptr<Metrics> metrics);

  // Bumps the global index, stamps `svc` with it and wakes watchers.
  // REQUIRES: mu_ held.
  void BumpLocked(Service& svc);
  // Recomputes `rec`'s effective health, keeping the state gauges in step.
  // Returns true when it changed. REQUIRES: mu_ held.
  bool RefreshHealthLocked(Record& rec);
  ServiceInstances SnapshotLocked(std::string_view service, bool healthy_only) const;

  const RegistryConfig config_;
  const std::unique_ptr<Metrics> metrics_;

  mutable std::mutex mu_;
  std::condition_variable changed_;                       // notified on every index bump
  std::map<std::string, Service, std::less<>> services_;  // guarded by mu_
  uint64_t index_ = 0;                                    // guarded by mu_
  bool watches_cancelled_ = false;                        // guarded by mu_
};

}  // namespace hive::registry
