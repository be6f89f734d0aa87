// Helpers shared by the config store tests: the service on a real HTTP
// server, clients for it, and reading one metric value back out of a
// prometheus registry.
#pragma once

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <string_view>

#include "hive/config_store/config_store_service.h"
#include "hive/core/http.h"
#include "hive/core/http_client.h"

namespace hive::config_store::testing {

// Opens the service with `options` and serves it on 127.0.0.1 port 0 (8
// workers; options.metrics also holds the server's metrics; a null `auth`
// lets every caller in as admin). Fails the current test when either does
// not start.
inline void StartConfigStore(const ConfigStoreOptions& options,
                             std::shared_ptr<const TokenAuthenticator> auth,
                             std::unique_ptr<ConfigStoreService>* service,
                             std::unique_ptr<HttpServer>* server,
                             AccessLog access_log = AccessLog::kErrors) {
  auto opened = ConfigStoreService::Open(options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  *service = std::move(*opened);
  HttpServerOptions server_options;
  server_options.port = 0;
  server_options.worker_threads = 8;
  server_options.access_log = access_log;
  server_options.metrics = options.metrics;
  server_options.auth = std::move(auth);
  *server = std::make_unique<HttpServer>(server_options);
  (*service)->Mount(**server);
  ASSERT_TRUE((*server)->Start().ok());
}

// A client of `server` that sends `token` (none when empty).
inline std::unique_ptr<HttpClient> ClientOf(const HttpServer& server, std::string_view token) {
  HttpClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(server.port());
  o.bearer_token = std::string(token);
  auto c = HttpClient::Create(o);
  EXPECT_TRUE(c.ok());
  return c.ok() ? std::move(*c) : nullptr;
}

// The value of the counter or gauge `name` whose labels include
// label=label_value (any labels when `label` is empty); -1 when absent.
inline double MetricValue(prometheus::Registry& registry, std::string_view name,
                          std::string_view label = {}, std::string_view label_value = {}) {
  for (const auto& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const auto& metric : family.metric) {
      bool match = label.empty();
      for (const auto& l : metric.label) {
        if (l.name == label && l.value == label_value) match = true;
      }
      if (!match) continue;
      return family.type == prometheus::MetricType::Gauge ? metric.gauge.value
                                                          : metric.counter.value;
    }
  }
  return -1;
}

}  // namespace hive::config_store::testing
