// A CollectorService served by a real HttpServer on 127.0.0.1 port 0, as
// hived serves it: what the collector's HTTP tests talk to.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "hive/collector/collector_service.h"
#include "hive/core/http.h"

namespace hive::collector {

// Opens the service with `options` and serves it (8 workers; options.metrics
// also holds the server's metrics). Fails the current test when either does
// not start.
inline void StartCollector(const CollectorOptions& options,
                           std::unique_ptr<CollectorService>* service,
                           std::unique_ptr<HttpServer>* server) {
  auto opened = CollectorService::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  *service = std::move(*opened);
  HttpServerOptions so;
  so.port = 0;
  so.worker_threads = 8;
  so.metrics = options.metrics;
  *server = std::make_unique<HttpServer>(so);
  (*service)->Mount(**server);
  ASSERT_TRUE((*server)->Start().ok());
}

// Stops the server, then the service, and destroys both; either may be null.
inline void StopCollector(std::unique_ptr<CollectorService>* service,
                          std::unique_ptr<HttpServer>* server) {
  if (*server) (*server)->Stop();
  if (*service) (*service)->Stop();
  server->reset();
  service->reset();
}

}  // namespace hive::collector
