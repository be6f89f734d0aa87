// The registry's HTTP routes (docs/API.md "Registry"): the only place where
// the registry meets JSON.
#pragma once

#include "hive/core/http.h"
#include "hive/registry/registry.h"

namespace hive::registry {

// Registers the routes on `server`; the handlers use `registry`, which must
// outlive them. REQUIRES: before server.Listen().
void MountRegistryRoutes(HttpServer& server, Registry& registry);

}  // namespace hive::registry
