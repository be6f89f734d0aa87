// FakeControlPlane: the slice of hived's API that hive-agent talks to
// (registry register/heartbeat/deregister, config GET with blocking
// queries and rollout reports, POST /api/v1/ingest/logs de-duplicated by
// X-Hive-Batch-Id like the real collector, POST /api/v1/ingest/metrics),
// served by a real hive::HttpServer on
// 127.0.0.1 port 0. It answers in the shapes of docs/API.md and records
// what it receives. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "hive/agent/config.h"
#include "hive/core/http.h"
#include "hive/core/http_client.h"
#include "tls_certs.h"

namespace hive::agent::testing {

// Agent options that poll, linger and retry every few milliseconds, so that
// tests against the fake wait little. Tests set the rest they depend on.
AgentOptions FastAgentOptions();

// The config of instance orders-1 of service orders that ships `dir`/*.log
// to `control_plane` and spools in `dir`/spool.
AgentConfig ShipperConfig(const std::string& control_plane, const std::string& dir);

class FakeControlPlane {
 public:
  // `port` 0 picks a free port.
  explicit FakeControlPlane(int port = 0);
  // Serves https on a free port with the server certificate of `certs`;
  // with `require_client_cert`, only to clients with a certificate of certs.ca.
  FakeControlPlane(const hive::testing::TlsCerts& certs, bool require_client_cert);
  ~FakeControlPlane();

  std::string url() const {
    return (https_ ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port());
  }
  int port() const { return server_->port(); }

  // Registry.
  std::vector<nlohmann::json> registrations();  // PUT bodies, in order
  std::vector<nlohmann::json> heartbeats();     // heartbeat bodies, in order
  int deregistrations();
  bool registered(const std::string& id);
  // The registry loses the instance: its next heartbeat answers 404.
  void Forget(const std::string& id);
  std::vector<std::string> authorizations();  // Authorization headers seen

  // Collector.
  std::vector<nlohmann::json> events();  // accepted events, deduplicated by batch id
  std::vector<std::string> batch_ids();  // X-Hive-Batch-Id of every request
  int ingest_requests();
  // Content-Encoding of every ingest request ("" when plain), in order.
  std::vector<std::string> ingest_codings();
  // Plays a hived from before zstd: a zstd ingest body is answered 415.
  void RefuseZstd();
  // 0: accept; otherwise answer every ingest with this HTTP status.
  void SetIngestStatus(int status);
  // Sent as Retry-After with the failing status; empty: none.
  void SetRetryAfter(std::string value);
  // Ingest requests answered 2xx whose batch id had been accepted before.
  int duplicate_batches();
  // Rejects lines whose message equals `message` one by one (in "errors").
  void RejectMessage(std::string message);

  // Config store: a new version of {app}/{profile}.
  void PushConfig(const nlohmann::json& properties);
  // A new version whose properties are this JSON text as it is (which
  // nlohmann could not write back, e.g. nested 100,000 deep).
  void PushRawConfig(std::string properties_json);
  int config_requests();
  // PUT .../applied/{instance} bodies, in order (with "instance" added).
  std::vector<nlohmann::json> applied();
  // 0: accept rollout reports; 404 plays a hived without the route.
  void SetAppliedStatus(int status);

  // POST /api/v1/ingest/metrics: "service=..&instance=..\n" + body, in order.
  std::vector<std::string> metric_posts();
  // Polls `condition` until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  // `probe` reaches the server once it serves.
  FakeControlPlane(int port, TlsOptions tls, HttpClientOptions probe);

  std::unique_ptr<HttpServer> server_;
  bool https_ = false;
  std::mutex mu_;
  std::condition_variable cv_;
  bool shutting_down_ = false;
  std::vector<nlohmann::json> registrations_;
  std::vector<nlohmann::json> heartbeats_;
  std::vector<std::string> authorizations_;
  int deregistrations_ = 0;
  std::set<std::string> registered_;
  std::vector<nlohmann::json> events_;
  std::vector<std::string> batch_ids_;
  std::set<std::string> accepted_batches_;
  int ingest_requests_ = 0;
  std::vector<std::string> ingest_codings_;
  bool refuse_zstd_ = false;
  int ingest_status_ = 0;
  std::string retry_after_;
  int duplicate_batches_ = 0;
  std::vector<nlohmann::json> applied_;
  int applied_status_ = 0;
  std::vector<std::string> metric_posts_;
  std::string reject_message_;
  nlohmann::json config_properties_ = nlohmann::json::object();
  std::string raw_config_properties_;  // set: sent instead of config_properties_
  int64_t config_version_ = 0;
  uint64_t config_index_ = 1;
  int config_requests_ = 0;
};

}  // namespace hive::agent::testing
