// RegistryService: the registry role of hived. It owns the in-memory Registry,
// the background reaper thread that applies lease expiry every reap_interval,
// and the HTTP routes of docs/API.md "Registry":
//
//   PUT    /api/v1/services/{service}/instances/{id}            register (agent)
//   PUT    /api/v1/services/{service}/instances/{id}/heartbeat  renew (agent)
//   DELETE /api/v1/services/{service}/instances/{id}            deregister (agent)
//   GET    /api/v1/services                                     list (read)
//   GET    /api/v1/services/{service}[?healthy=&index=&wait=]   instances (read)
//
// State lives in memory only: a restart forgets every instance, and agents
// register again on their next heartbeat's 404. Persistence to SQLite comes
// with a later issue.
//
// Use (hived):
//   auto svc = RegistryService::Open({.metrics = metrics});
//   (*svc)->Mount(server);   // before server.Start()
//   ...
//   (*svc)->Stop();          // first: releases blocked queries at once
//   server.Stop();           // then the server, whose handlers use the service
// The service must outlive the server's handlers.
//
// Thread safety: registry() and the mounted handlers are thread-safe; Open,
// Mount and Stop are called by the owner thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "hive/core/clock.h"
#include "hive/core/http.h"
#include "hive/core/status.h"
#include "hive/registry/registry.h"

namespace prometheus {
class Registry;
}

namespace hive::registry {

struct RegistryOptions {
  // Not owned; must outlive the service.
  hive::Clock* clock = &hive::Clock::System();
  // Where the hive_registry_* metrics go. Null: a private registry.
  std::shared_ptr<prometheus::Registry> metrics;
  Duration default_ttl = std::chrono::seconds(15);
  Duration deregister_after = std::chrono::minutes(1);
  // Real (steady) time between reaper passes; > 0.
  Duration reap_interval = std::chrono::seconds(1);
};

class RegistryService {
 public:
  // Creates the registry and starts the reaper. InvalidArgument for bad
  // options (null clock, TTL outside [1s, 1h], negative deregister_after,
  // non-positive reap_interval); Internal on a metrics name clash.
  static Result<std::unique_ptr<RegistryService>> Open(RegistryOptions options);
  ~RegistryService();  // calls Stop()
  RegistryService(const RegistryService&) = delete;
  RegistryService& operator=(const RegistryService&) = delete;

  // Registers the routes above on `server`. REQUIRES: before server.Listen().
  void Mount(hive::HttpServer& server);

  // Joins the reaper and releases blocked queries (later ones answer at
  // once). The registry keeps serving reads and writes. Idempotent.
  void Stop();

  Registry& registry() { return *registry_; }

 private:
  RegistryService(RegistryOptions options, std::unique_ptr<Registry> registry);
  void ReapLoop();

  const RegistryOptions options_;
  const std::unique_ptr<Registry> registry_;

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread reaper_;
};

}  // namespace hive::registry
