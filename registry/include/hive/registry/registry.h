// Registry: the table of service instances, their leases, health and
// operator overrides, with the change indexes that blocking queries wait on.
//
// Leases: every registration or heartbeat renews an instance's lease for its
// TTL. Reap() applies the one expiry rule: an instance whose lease lapsed turns
// critical with output "lease expired" (and so leaves healthy results); it is
// removed `deregister_after` past the lease expiry unless a heartbeat renews it
// first (which restores the health it last reported). Lease time comes from the
// injected Clock, so tests drive expiry with a FakeClock; state changes only in
// Reap(), so a lapse reaches the index and the health field at most one reaper
// interval late, but healthy=true results leave a lapsed lease out from the
// moment it lapses (unless self-preservation holds expiry back).
//
// Self-preservation (Eureka's idea): Reap() compares the renewals (heartbeats
// and re-registrations) of the last `self_preservation_window` with those
// expected — one per TTL/3 per live instance, the heartbeat interval agents
// use. When they fall below `self_preservation_threshold` of expected (and at
// least `self_preservation_min_instances` are live), many instances went
// silent at once, which is more likely a network partition than a mass crash:
// Reap() stops lapsing and removing leases until renewals recover, logs both
// transitions and reports the mode in self_preservation() and a gauge.
//
// Persistence: with a db_path, registrations, deregistrations, reported health
// changes, maintenance overrides, removals and the index are written to SQLite
// before they become visible (a failed write changes nothing and answers
// Unavailable). A heartbeat that changes nothing but the lease writes nothing,
// so last_seen on disk is the time of the last persisted change. On open every
// stored instance gets a fresh lease of its TTL (a grace period: agents have
// one TTL to heartbeat again) and the index continues past the stored one.
//
// Indexes: a global change index, and per service the global index of its
// last change. Both increase on every change a watcher would care about:
// register (unless identical to the current registration), deregister, a
// change of effective health or maintenance, a lease lapse and a removal. A
// heartbeat that changes nothing visible but the lease times does not bump
// them. A service whose instances are all gone keeps its index, so its
// watchers see the removal; a service never seen has index 0.
//
// Watching: nothing here blocks. A blocking query subscribes to its
// service's changes (SubscribeService) and asks ServiceChangedSince() each
// time it is woken; the event stream subscribes to every change
// (SubscribeEvents) and reads EventsSince(). A change wakes only the watchers
// of its service. The HTTP layer parks such requests without a thread.
//
// Thread safety: all methods are thread-safe; one mutex guards the table.
// Wake-ups run while it is held (see hive/core/notifier.h for what they may
// do).
//
// Errors: InvalidArgument for bad names or registrations, NotFound for an
// unknown instance, Unavailable when the database cannot be written. Nothing
// here throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/notifier.h"
#include "hive/core/status.h"
#include "hive/registry/instance.h"

namespace prometheus {
class Gauge;
class Registry;
}  // namespace prometheus

namespace hive::registry {

class RegistryStore;
struct StoreChange;

struct RegistryConfig {
  // Not owned; must outlive the Registry.
  Clock* clock = &Clock::System();
  // Where the hive_registry_* metrics go. Null: a private registry.
  std::shared_ptr<prometheus::Registry> metrics;
  // The TTL of a registration that names none; within [kMinTtl, kMaxTtl].
  Duration default_ttl = std::chrono::seconds(15);
  // How long a lapsed instance stays (as critical) before it is removed.
  Duration deregister_after = std::chrono::minutes(1);
  // SQLite database to persist to (created if missing; its directory must
  // exist). Empty: in memory only.
  std::string db_path;
  // Self-preservation engages below this fraction of expected renewals;
  // 0 disables it. Within [0, 1].
  double self_preservation_threshold = 0.85;
  // The window renewals are counted over; >= 1s.
  Duration self_preservation_window = std::chrono::seconds(15);
  // Below this many live instances one failure is too large a share to tell
  // from a partition, so self-preservation stays off.
  int self_preservation_min_instances = 10;
};

struct RegisterResult {
  Instance instance;
  uint64_t index = 0;  // the service's index after the registration
};

struct ServiceList {
  uint64_t index = 0;                    // the global index
  std::vector<ServiceSummary> services;  // by name; services with instances only
  bool self_preservation = false;
};

struct ServiceInstances {
  std::string service;
  uint64_t index = 0;               // the service's index
  std::vector<Instance> instances;  // by id
};

// What one Reap() pass did.
struct ReapResult {
  int expired = 0;                 // leases that lapsed in this pass
  int removed = 0;                 // instances removed in this pass
  bool self_preservation = false;  // the mode after this pass
};

enum class ChangeKind {
  kRegistered,    // a new instance
  kUpdated,       // a replacement that changed what readers see
  kHealth,        // effective health changed (a report, a lapse, a renewal after one)
  kMaintenance,   // the operator override was set or lifted
  kDeregistered,  // removed by a DELETE
  kRemoved,       // removed deregister_after past its lease expiry
};

// "registered", "updated", "health", "maintenance", "deregistered", "removed".
std::string_view ChangeKindName(ChangeKind kind);

// One change of one instance, as the event stream reports it.
struct ChangeEvent {
  uint64_t index = 0;  // the global index the change produced
  ChangeKind kind = ChangeKind::kRegistered;
  std::string service;
  std::string id;
  std::optional<Instance> instance;  // the state after; nullopt on removal
};

struct EventBatch {
  std::vector<ChangeEvent> events;  // oldest first, all with index > after
  // True when events after `after` were already dropped from the bounded
  // history, or `after` is ahead of the index (it went backwards): the
  // reader must re-read the full state.
  bool reset = false;
  uint64_t index = 0;  // the global index at the time of the answer
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

  // Sets (enabled) or lifts the operator's maintenance override; returns the
  // service's index. NotFound when unknown; InvalidArgument for a reason over
  // kMaxMaintenanceReasonLength.
  Result<uint64_t> SetMaintenance(std::string_view service, std::string_view id, bool enabled,
                                  std::string_view reason);

  ServiceList ListServices() const;

  // The service's instances that pass `filter`. An unknown service has none.
  // InvalidArgument for a bad service name or filter.
  Result<ServiceInstances> GetService(std::string_view service, const InstanceFilter& filter) const;

  // Whether a watcher of `service` that saw `after_index` has something new:
  // the service's index moved past it, the registry's index is behind it (the
  // caller saw an index this registry never reached, its data was wiped, and
  // as Consul documents it must then start again from index 0), or
  // CancelWatches() was called. The answer is then GetService().
  // With `index`, also gives the service's index at that moment.
  bool ServiceChangedSince(std::string_view service, uint64_t after_index,
                           uint64_t* index = nullptr) const;

  // Calls `wake` after each change of `service`'s index and on
  // CancelWatches(), until the Subscription ends; hive_registry_blocked_watchers
  // counts the live subscriptions. InvalidArgument for a bad name.
  Result<Subscription> SubscribeService(std::string_view service, Notifier::Listener wake);

  // The changes after global index `after` (none when there are none yet).
  // The history holds the last kMaxEventHistory changes.
  EventBatch EventsSince(uint64_t after) const;
  static constexpr size_t kMaxEventHistory = 4096;
  // Calls `wake` after every change and on CancelWatches().
  Subscription SubscribeEvents(Notifier::Listener wake);

  // True while self-preservation holds expiry (see the top of this file).
  bool self_preservation() const;
  // True once CancelWatches() was called.
  bool watches_cancelled() const;

  // One expiry pass at the Clock's current time (see the top of this file).
  ReapResult Reap();

  // Wakes every watcher; from then on ServiceChangedSince() is true and
  // watches_cancelled() says the event stream should end. For shutdown.
  void CancelWatches();

  uint64_t index() const;
  uint64_t ServiceIndex(std::string_view service) const;

 private:
  struct Metrics;
  struct Record {
    Instance instance;  // health is the effective health
    Health reported;    // what the instance last reported
    bool lease_expired = false;
    TimePoint tracked_since;  // when renewals started to be expected
  };
  struct Service {
    // `watchers`: the gauge of blocked watchers, which each service's
    // notifier adds its listeners to.
    explicit Service(prometheus::Gauge* watchers) : changed(watchers) {}
    uint64_t index = 0;
    std::map<std::string, Record, std::less<>> instances;
    Notifier changed;  // notified when index moves
  };
  // The entry of `service`, made if it is new. REQUIRES: mu_ held.
  Service& ServiceEntryLocked(std::string_view service);

  Registry(RegistryConfig config, std::unique_ptr<Metrics> metrics,
           std::unique_ptr<RegistryStore> store);
  // Loads the stored instances with fresh leases. REQUIRES: before use.
  Status Load();

  // Bumps the global index, stamps `svc` with it, records `events` and wakes
  // the service's watchers and the event stream. REQUIRES: mu_ held.
  void BumpLocked(Service& svc, std::vector<ChangeEvent> events);
  // Writes `changes` with the index `index` when persisting. REQUIRES: mu_ held.
  Status PersistLocked(const std::vector<StoreChange>& changes, uint64_t index);
  // Adds `delta` to the gauges `inst` counts in. REQUIRES: mu_ held.
  void AdjustGaugesLocked(const Instance& inst, int delta);
  ServiceInstances SnapshotLocked(std::string_view service, const InstanceFilter& filter) const;
  void CountRenewalLocked(TimePoint now);
  // Whether renewals in the window are below the threshold. REQUIRES: mu_ held.
  bool RenewalsTooLowLocked(TimePoint now, double* actual, double* expected);

  const RegistryConfig config_;
  const std::unique_ptr<Metrics> metrics_;
  const std::unique_ptr<RegistryStore> store_;  // null: in memory only
  const TimePoint started_at_;

  mutable std::mutex mu_;
  std::map<std::string, Service, std::less<>> services_;  // guarded by mu_
  uint64_t index_ = 0;                                    // guarded by mu_
  bool watches_cancelled_ = false;                        // guarded by mu_
  bool self_preservation_ = false;                        // guarded by mu_
  // Renewals per Clock second, oldest first. Guarded by mu_.
  std::deque<std::pair<int64_t, int64_t>> renewals_;
  std::deque<ChangeEvent> events_;  // guarded by mu_; the last kMaxEventHistory
  // events_ holds every change after this index. Guarded by mu_.
  uint64_t history_floor_ = 0;
  Notifier events_changed_;  // notified on every bump
};

}  // namespace hive::registry
