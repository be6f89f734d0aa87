// ConfigStoreService: the config store's HTTP API (docs/API.md, "Config
// store") over a ConfigStore it owns.
//
//   PUT  /api/v1/config/{app}/{profile}                 push a JSON document (operator)
//   GET  /api/v1/config/{app}/{profile}[?index=&wait=]  effective properties (any role)
//   GET  /api/v1/config/{app}/{profile}/history         versions, newest first
//   GET  /api/v1/config/{app}/{profile}/versions/{v}    one version's document
//   POST /api/v1/config/{app}/{profile}/rollback        {"to": N} optional (operator)
//
// Thread-safe: handlers run concurrently on the server's workers. The service
// must outlive the HttpServer it is mounted on (or that server must be
// stopped first). Call Stop() before stopping the server so blocked GETs
// return promptly.
#pragma once

#include <memory>
#include <utility>

#include "hive/config_store/config_store.h"
#include "hive/core/http.h"
#include "hive/core/status.h"

namespace hive::config_store {

class ConfigStoreService {
 public:
  // Opens the store; errors as ConfigStore::Open.
  static Result<std::unique_ptr<ConfigStoreService>> Open(ConfigStoreOptions options);

  // Registers the routes. REQUIRES: before server.Listen().
  void Mount(hive::HttpServer& server);

  // Wakes blocked watchers; later blocking GETs answer at once. Idempotent.
  void Stop();

  ConfigStore& store() { return *store_; }

 private:
  explicit ConfigStoreService(std::unique_ptr<ConfigStore> store) : store_(std::move(store)) {}

  void HandlePush(const HttpRequest& req, HttpResponse& res);
  void HandleGet(const HttpRequest& req, HttpResponse& res);
  void HandleHistory(const HttpRequest& req, HttpResponse& res);
  void HandleVersion(const HttpRequest& req, HttpResponse& res);
  void HandleRollback(const HttpRequest& req, HttpResponse& res);

  std::unique_ptr<ConfigStore> store_;
};

}  // namespace hive::config_store
