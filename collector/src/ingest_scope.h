// What a scoped token may ingest: events of its own services (hive/core/auth.h).
#pragma once

#include <string>
#include <vector>

#include "hive/core/auth.h"
#include "hive/core/status.h"

namespace hive::collector {

// For a scoped principal: OK when `service` is one of its services; an
// empty one becomes the token's service when it has exactly one; any other
// is PermissionDenied. Unscoped: OK, unchanged.
inline Status ScopeService(const Principal& who, std::string& service) {
  if (!who.scoped()) return Status::Ok();
  if (service.empty() && who.services->size() == 1) {
    service = who.services->front();
    return Status::Ok();
  }
  return CheckScope(who, service, ScopeTarget::kService);
}

// ScopeService for every event of a batch: the first foreign event refuses
// the whole batch, so nothing of it is stored.
template <typename Event>
Status ScopeEvents(const Principal& who, std::vector<Event>& events) {
  if (!who.scoped()) return Status::Ok();
  for (Event& e : events) HIVE_RETURN_IF_ERROR(ScopeService(who, e.service));
  return Status::Ok();
}

}  // namespace hive::collector
