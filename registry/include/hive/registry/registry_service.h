// RegistryService: the registry role of hived. It owns the Registry (in
// memory, persisted to <data_dir>/registry.db), the background reaper thread
// that applies lease expiry and self-preservation every reap_interval, and the
// HTTP routes of docs/API.md "Registry":
//
//   PUT    /api/v1/services/{service}/instances/{id}              register (agent)
//   PUT    /api/v1/services/{service}/instances/{id}/heartbeat    renew (agent)
//   DELETE /api/v1/services/{service}/instances/{id}              deregister (agent)
//   PUT    /api/v1/services/{service}/instances/{id}/maintenance  override (operator)
//   GET    /api/v1/services                                       list (read)
//   GET    /api/v1/services/{service}[?healthy=&tag=&version=&index=&wait=]
//   GET    /api/v1/events                                         changes as SSE (read)
//
// Use (hived):
//   auto svc = RegistryService::Open({.metrics = metrics, .data_dir = dir});
//   (*svc)->Mount(server);   // before server.Start()
//   ...
//   (*svc)->Stop();          // first: releases blocked queries and streams
//   server.Stop();           // then the server, whose handlers use the service
// The service must outlive the server's handlers. Every blocking query and
// event stream holds one HTTP worker thread while it waits, so the server
// needs more workers than the watchers it should carry.
//
// Thread safety: registry() and the mounted handlers are thread-safe; Open,
// Mount and Stop are called by the owner thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
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
  // Real (steady) time between reaper passes; > 0. A lapsed lease shows at
  // most this late, so it is kept small next to the 15 s TTL.
  Duration reap_interval = std::chrono::milliseconds(250);
  // Where registry.db lives (the directory must exist). Empty: in memory
  // only, for tests.
  std::string data_dir;
  // See RegistryConfig.
  double self_preservation_threshold = 0.85;
  Duration self_preservation_window = std::chrono::seconds(15);
  int self_preservation_min_instances = 10;
};

class RegistryService {
 public:
  // Opens (or creates) the registry and starts the reaper. InvalidArgument
  // for bad options (null clock, TTL outside [1s, 1h], negative
  // deregister_after, non-positive reap_interval, a threshold outside 0..1);
  // Unavailable when the database cannot be opened; Internal on a metrics
  // name clash or a corrupt database.
  static Result<std::unique_ptr<RegistryService>> Open(RegistryOptions options);
  ~RegistryService();  // calls Stop()
  RegistryService(const RegistryService&) = delete;
  RegistryService& operator=(const RegistryService&) = delete;

  // Registers the routes above on `server`. REQUIRES: before server.Listen().
  void Mount(hive::HttpServer& server);

  // Joins the reaper, releases blocked queries (later ones answer at once)
  // and ends event streams within a second. The registry keeps serving reads
  // and writes. Idempotent.
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
