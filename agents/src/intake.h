// Intake (internal): the agent's local ingest endpoint, for services that
// send their logs instead of writing files:
//   POST /api/v1/ingest/logs  NDJSON events as the collector takes them
//                             (field aliases as for JSON log lines)
//   POST /v1/logs             OTLP/HTTP JSON logs (resourceLogs → scopeLogs
//                             → logRecords)
// Events get the agent's service and instance and go through the same spool
// as file lines; a request is answered once its events are in the spool
// (429 with Retry-After while the spool is full).
//
// Thread-safety: handlers run on the server's workers concurrently; each
// request maps with its own LogLineMapper.
#pragma once

#include <memory>
#include <string>

#include "hive/agent/log_shipper.h"
#include "hive/agent/metrics.h"
#include "hive/core/http.h"

namespace hive::agent {

class Intake {
 public:
  // `shipper` and `metrics` must outlive the intake.
  Intake(std::string service, std::string instance, LogShipper& shipper, AgentMetrics& metrics);
  ~Intake();

  // REQUIRES: before the server listens.
  void AddRoutes(HttpServer& server);
  // Takes the started server that carries the routes.
  void SetServer(std::unique_ptr<HttpServer> server) { server_ = std::move(server); }
  int port() const { return server_ ? server_->port() : 0; }
  void Stop();

 private:
  void HandleNdjson(const HttpRequest& req, HttpResponse& res);
  void HandleOtlp(const HttpRequest& req, HttpResponse& res);
  void Store(std::string events, uint64_t lines, HttpResponse& res);

  std::string service_;
  std::string instance_;
  LogShipper& shipper_;
  AgentMetrics& metrics_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace hive::agent
