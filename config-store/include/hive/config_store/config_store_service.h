// ConfigStoreService: the config store's HTTP API (docs/API.md, "Config
// store") over a ConfigStore and a RolloutTracker it owns.
//
//   PUT    /api/v1/config/{app}/{profile}[?dry_run=true]  push JSON/YAML/.properties (operator)
//   DELETE /api/v1/config/{app}/{profile}                 tombstone the document (operator)
//   GET    /api/v1/config/{app}/{profile}[?index=&wait=]  effective properties (any role)
//   GET    /api/v1/config/{app}/{profile}/history         versions, newest first
//   GET    /api/v1/config/{app}/{profile}/versions/{v}    one version's document
//   GET    /api/v1/config/{app}/{profile}/diff[?from=&to=] added/removed/changed keys
//   POST   /api/v1/config/{app}/{profile}/rollback        {"to": N} optional (operator)
//   PUT    /api/v1/config/{app}/{profile}/applied/{instance}  an agent's report (agent)
//   GET    /api/v1/config/{app}/{profile}/rollout         every instance's last report
//   GET    /api/v1/audit[?app=&profile=&limit=]           the audit log, newest first
//
// Secrets are answered in clear to admin and agent principals (an agent
// renders them into its service's file) and as "<redacted>" to everyone else.
//
// Thread-safe: handlers run concurrently on the server's workers. The service
// must outlive the HttpServer it is mounted on (or that server must be
// stopped first). Call Stop() before stopping the server so blocked GETs
// return promptly.
#pragma once

#include <memory>
#include <utility>

#include "hive/config_store/config_store.h"
#include "hive/config_store/rollout.h"
#include "hive/core/http.h"
#include "hive/core/status.h"

namespace hive::config_store {

class ConfigStoreService {
 public:
  // Opens the store and the rollout tracker; errors as ConfigStore::Open.
  static Result<std::unique_ptr<ConfigStoreService>> Open(ConfigStoreOptions options);

  // Registers the routes. REQUIRES: before server.Listen().
  void Mount(hive::HttpServer& server);

  // Wakes blocked watchers; later blocking GETs answer at once. Idempotent.
  void Stop();

  ConfigStore& store() { return *store_; }
  RolloutTracker& rollout() { return *rollout_; }

 private:
  ConfigStoreService(std::unique_ptr<ConfigStore> store, std::unique_ptr<RolloutTracker> rollout)
      : store_(std::move(store)), rollout_(std::move(rollout)) {}

  Status HandlePush(const HttpRequest& req, HttpResponse& res);
  Status HandleGet(const HttpRequest& req, HttpResponse& res);
  Status StartGet(const HttpRequest& req, HttpResponse& res);
  Status RenderEffective(const HttpRequest& req, HttpResponse& res);
  Status HandleHistory(const HttpRequest& req, HttpResponse& res);
  Status HandleVersion(const HttpRequest& req, HttpResponse& res);
  Status HandleRollback(const HttpRequest& req, HttpResponse& res);
  Status HandleDelete(const HttpRequest& req, HttpResponse& res);
  Status HandleDiff(const HttpRequest& req, HttpResponse& res);
  Status HandleApplied(const HttpRequest& req, HttpResponse& res);
  Status HandleRollout(const HttpRequest& req, HttpResponse& res);
  Status HandleAudit(const HttpRequest& req, HttpResponse& res);

  std::unique_ptr<ConfigStore> store_;
  std::unique_ptr<RolloutTracker> rollout_;
};

}  // namespace hive::config_store
