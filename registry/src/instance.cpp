#include "hive/registry/instance.h"

#include "hive/core/text.h"

namespace hive::registry {

std::string_view HealthStatusName(HealthStatus status) {
  switch (status) {
    case HealthStatus::kPassing:
      return "passing";
    case HealthStatus::kWarning:
      return "warning";
    case HealthStatus::kCritical:
      return "critical";
  }
  return "critical";
}

Result<HealthStatus> ParseHealthStatus(std::string_view name) {
  if (name == "passing") return HealthStatus::kPassing;
  if (name == "warning") return HealthStatus::kWarning;
  if (name == "critical") return HealthStatus::kCritical;
  return Status::InvalidArgument("bad health status " + JsonString(name) +
                                 ": expected passing, warning or critical");
}

Status ValidateHealth(const Health& health) {
  if (health.output.size() > kMaxHealthOutputLength) {
    return Status::InvalidArgument("health output is " + std::to_string(health.output.size()) +
                                   " bytes; the limit is " +
                                   std::to_string(kMaxHealthOutputLength));
  }
  return Status::Ok();
}

Status ValidateFilter(const InstanceFilter& filter) {
  if (filter.tag.size() > kMaxTagLength) {
    return Status::InvalidArgument("tag is longer than " + std::to_string(kMaxTagLength) +
                                   " characters");
  }
  if (filter.version.size() > kMaxVersionLength) {
    return Status::InvalidArgument("version is longer than " + std::to_string(kMaxVersionLength) +
                                   " characters");
  }
  return Status::Ok();
}

Status ValidateRegistration(const Registration& reg) {
  if (reg.address.empty()) return Status::InvalidArgument("address is required");
  if (reg.address.size() > kMaxAddressLength) {
    return Status::InvalidArgument("address is longer than " + std::to_string(kMaxAddressLength) +
                                   " characters");
  }
  if (reg.port < 1 || reg.port > 65535) {
    return Status::InvalidArgument("port " + std::to_string(reg.port) +
                                   " is out of range 1..65535");
  }
  if (reg.version.size() > kMaxVersionLength) {
    return Status::InvalidArgument("version is longer than " + std::to_string(kMaxVersionLength) +
                                   " characters");
  }
  if (reg.tags.size() > kMaxTags) {
    return Status::InvalidArgument("tags has " + std::to_string(reg.tags.size()) +
                                   " entries; the limit is " + std::to_string(kMaxTags));
  }
  for (size_t i = 0; i < reg.tags.size(); ++i) {
    if (reg.tags[i].size() > kMaxTagLength) {
      return Status::InvalidArgument("tags[" + std::to_string(i) + "] is longer than " +
                                     std::to_string(kMaxTagLength) + " characters");
    }
  }
  if (reg.metadata.size() > kMaxMetadataKeys) {
    return Status::InvalidArgument("metadata has " + std::to_string(reg.metadata.size()) +
                                   " keys; the limit is " + std::to_string(kMaxMetadataKeys));
  }
  for (const auto& [key, value] : reg.metadata) {
    if (key.empty() || key.size() > kMaxMetadataKeyLength) {
      return Status::InvalidArgument("metadata key " + JsonString(key.substr(0, 64)) +
                                     " must have 1.." + std::to_string(kMaxMetadataKeyLength) +
                                     " characters");
    }
    if (value.size() > kMaxMetadataValueLength) {
      return Status::InvalidArgument("metadata." + key + " is longer than " +
                                     std::to_string(kMaxMetadataValueLength) + " characters");
    }
  }
  if (reg.ttl && (*reg.ttl < kMinTtl || *reg.ttl > kMaxTtl)) {
    return Status::InvalidArgument("ttl " + FormatDuration(*reg.ttl) + " is outside " +
                                   FormatDuration(kMinTtl) + ".." + FormatDuration(kMaxTtl));
  }
  if (reg.health) return ValidateHealth(*reg.health);
  return Status::Ok();
}

}  // namespace hive::registry
