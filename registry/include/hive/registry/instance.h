// The registry's data model: a registered service instance, its health, what a
// registration carries, and the per-service summary. Plain values: copyable and
// safe to hand between threads. The limits below are the contract of both the
// C++ API and the HTTP API (docs/API.md "Registry").
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/status.h"

namespace hive::registry {

enum class HealthStatus { kPassing, kWarning, kCritical };

// "passing", "warning", "critical".
std::string_view HealthStatusName(HealthStatus status);
// InvalidArgument for anything but the three names above.
Result<HealthStatus> ParseHealthStatus(std::string_view name);

struct Health {
  HealthStatus status = HealthStatus::kPassing;
  std::string output;
  friend bool operator==(const Health&, const Health&) = default;
};

// The output an instance reports once its lease lapsed without a heartbeat.
inline constexpr std::string_view kLeaseExpiredOutput = "lease expired";

inline constexpr size_t kMaxAddressLength = 255;
inline constexpr size_t kMaxVersionLength = 255;
inline constexpr size_t kMaxTags = 64;
inline constexpr size_t kMaxTagLength = 255;
inline constexpr size_t kMaxMetadataKeys = 64;
inline constexpr size_t kMaxMetadataKeyLength = 255;
inline constexpr size_t kMaxMetadataValueLength = 1024;
inline constexpr size_t kMaxHealthOutputLength = 4096;
inline constexpr Duration kMinTtl = std::chrono::seconds(1);
inline constexpr Duration kMaxTtl = std::chrono::hours(1);

// What a registration carries: the body of PUT /api/v1/services/{s}/instances/{id}.
struct Registration {
  std::string address;  // required
  int port = 0;         // required, 1..65535
  std::string version;
  std::vector<std::string> tags;
  std::map<std::string, std::string> metadata;
  std::optional<Duration> ttl;   // nullopt: the registry's default TTL
  std::optional<Health> health;  // nullopt: passing
};

// InvalidArgument naming the offending field when `reg` breaks a limit above.
Status ValidateRegistration(const Registration& reg);
// InvalidArgument when the output is over kMaxHealthOutputLength.
Status ValidateHealth(const Health& health);

// A registered instance as readers see it.
struct Instance {
  std::string service;
  std::string id;
  std::string address;
  int port = 0;
  std::string version;
  std::vector<std::string> tags;
  std::map<std::string, std::string> metadata;
  Duration ttl{};
  // The effective health: what the instance last reported, or critical with
  // kLeaseExpiredOutput while its lease is lapsed.
  Health health;
  TimePoint registered_at;
  TimePoint last_seen;  // last registration or heartbeat
  TimePoint lease_expires_at;
  // The operator's status override (Eureka's OUT_OF_SERVICE): an instance in
  // maintenance keeps its lease and health but leaves healthy results until
  // the override is lifted. Registrations and heartbeats keep it.
  bool maintenance = false;
  std::string maintenance_reason;
};

inline constexpr size_t kMaxMaintenanceReasonLength = 1024;

// Which instances of a service a query wants. Empty strings match all.
struct InstanceFilter {
  // Leaves out critical instances and those in maintenance (warning ones
  // stay: they still serve).
  bool healthy_only = false;
  std::string tag;      // instances carrying this tag
  std::string version;  // instances of exactly this version
};

// InvalidArgument when the tag or version is over its length limit.
Status ValidateFilter(const InstanceFilter& filter);

// One service with its instance counts by effective health.
struct ServiceSummary {
  std::string name;
  int instances = 0;
  int passing = 0;
  int warning = 0;
  int critical = 0;
  int maintenance = 0;  // counted in their health too
};

}  // namespace hive::registry
