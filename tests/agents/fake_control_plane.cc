#include "fake_control_plane.h"

#include <gtest/gtest.h>

#include <thread>

#include "hive/core/http_client.h"
#include "hive/core/text.h"

namespace hive::agent::testing {

AgentOptions FastAgentOptions() {
  AgentOptions o;
  o.poll_interval = std::chrono::milliseconds(20);
  o.batch_linger = std::chrono::milliseconds(20);
  o.retry_initial = std::chrono::milliseconds(20);
  o.retry_max = std::chrono::milliseconds(100);
  return o;
}

AgentConfig ShipperConfig(const std::string& control_plane, const std::string& dir) {
  AgentConfig c;
  c.service = "orders";
  c.instance = "orders-1";
  c.control_plane = control_plane;
  c.logs = {{dir + "/*.log"}};
  c.spool_dir = dir + "/spool";
  return c;
}

using nlohmann::json;

FakeControlPlane::FakeControlPlane(int port) : FakeControlPlane(port, {}, {}) {}

FakeControlPlane::FakeControlPlane(const hive::testing::TlsCerts& certs, bool require_client_cert)
    : FakeControlPlane(
          0,
          {.cert_file = certs.server_cert,
           .key_file = certs.server_key,
           .client_ca_file = require_client_cert ? certs.ca : ""},
          {.ca_file = certs.ca, .cert_file = certs.client_cert, .key_file = certs.client_key}) {}

FakeControlPlane::FakeControlPlane(int port, TlsOptions tls, HttpClientOptions probe)
    : https_(!tls.cert_file.empty()) {
  HttpServerOptions opts;
  opts.port = port;
  opts.tls = std::move(tls);
  opts.worker_threads = 8;
  opts.access_log = AccessLog::kNone;
  server_ = std::make_unique<HttpServer>(opts);

  auto record_auth = [this](const HttpRequest& req) {
    authorizations_.push_back(req.HeaderValue("Authorization").value_or(""));
  };

  server_->Route("PUT", "/api/v1/services/{service}/instances/{id}", {Access::kAgent},
                 [this, record_auth](const HttpRequest& req, HttpResponse& res) {
                   auto body = json::parse(req.body, nullptr, false);
                   if (!body.is_object()) {
                     res.SetError(Status::InvalidArgument("body must be a JSON object"));
                     return;
                   }
                   std::lock_guard lock(mu_);
                   record_auth(req);
                   body["service"] = req.PathParam("service");
                   body["id"] = req.PathParam("id");
                   registrations_.push_back(body);
                   registered_.insert(std::string(req.PathParam("id")));
                   res.SetJson(body.dump());
                 });
  server_->Route("PUT", "/api/v1/services/{service}/instances/{id}/heartbeat", {Access::kAgent},
                 [this, record_auth](const HttpRequest& req, HttpResponse& res) {
                   std::lock_guard lock(mu_);
                   record_auth(req);
                   if (!registered_.contains(std::string(req.PathParam("id")))) {
                     res.SetError(Status::NotFound("instance not registered"));
                     return;
                   }
                   heartbeats_.push_back(json::parse(req.body, nullptr, false));
                   res.SetJson(json{{"index", heartbeats_.size()}}.dump());
                 });
  server_->Route("DELETE", "/api/v1/services/{service}/instances/{id}", {Access::kAgent},
                 [this](const HttpRequest& req, HttpResponse& res) {
                   std::lock_guard lock(mu_);
                   ++deregistrations_;
                   if (registered_.erase(std::string(req.PathParam("id"))) == 0) {
                     res.SetError(Status::NotFound("instance not registered"));
                     return;
                   }
                   res.SetJson(R"({"index":1})");
                 });
  server_->Route("GET", "/api/v1/config/{app}/{profile}", {Access::kAgent},
                 [this](const HttpRequest& req, HttpResponse& res) {
                   std::unique_lock lock(mu_);
                   ++config_requests_;
                   if (auto index = req.Query("index")) {
                     const uint64_t wanted = std::stoull(*index);
                     auto wait = ParseDuration(req.Query("wait").value_or("30s"));
                     cv_.wait_for(lock, wait.ok() ? *wait : std::chrono::seconds(30),
                                  [&] { return shutting_down_ || config_index_ > wanted; });
                   }
                   const json answer = {
                       {"app", req.PathParam("app")},      {"profile", req.PathParam("profile")},
                       {"version", config_version_},       {"index", config_index_},
                       {"properties", config_properties_}, {"sources", json::array()}};
                   if (!raw_config_properties_.empty()) {
                     res.SetJson(R"({"version":)" + std::to_string(config_version_) +
                                 R"(,"index":)" + std::to_string(config_index_) +
                                 R"(,"properties":)" + raw_config_properties_ + "}");
                     return;
                   }
                   res.SetJson(answer.dump());
                 });
  server_->Route(
      "POST", "/api/v1/ingest/logs", {Access::kAgent, 64u << 20},
      [this](const HttpRequest& req, HttpResponse& res) {
        std::lock_guard lock(mu_);
        ++ingest_requests_;
        const std::string id = req.HeaderValue("X-Hive-Batch-Id").value_or("");
        batch_ids_.push_back(id);
        const std::string coding = req.HeaderValue("Content-Encoding").value_or("");
        ingest_codings_.push_back(coding);
        if (refuse_zstd_ && coding == "zstd") {
          res.SetJson(ErrorJson(Status::InvalidArgument("unsupported Content-Encoding 'zstd'")),
                      415);
          return;
        }
        if (ingest_status_ != 0) {
          res.SetJson(ErrorJson(Status::Unavailable("ingest is failing on purpose")),
                      ingest_status_);
          if (!retry_after_.empty()) res.SetHeader("Retry-After", retry_after_);
          return;
        }
        std::vector<json> batch;
        json errors = json::array();
        int line_no = 0;
        for (auto line : Split(req.body, '\n')) {
          if (line.empty()) continue;
          ++line_no;
          auto e = json::parse(line, nullptr, false);
          if (!e.is_object()) {
            errors.push_back({{"line", line_no}, {"message", "not a JSON object"}});
          } else if (!reject_message_.empty() && e.value("message", "") == reject_message_) {
            errors.push_back({{"line", line_no}, {"message", "rejected on purpose"}});
          } else {
            batch.push_back(std::move(e));
          }
        }
        if (batch.empty()) {
          res.SetError(Status::InvalidArgument("no valid line in the batch"));
          return;
        }
        if (accepted_batches_.insert(id).second) {
          for (auto& e : batch) events_.push_back(std::move(e));
        } else {
          ++duplicate_batches_;
        }
        res.SetJson(
            json{{"accepted", batch.size()}, {"rejected", errors.size()}, {"errors", errors}}
                .dump());
      });
  server_->Route("PUT", "/api/v1/config/{app}/{profile}/applied/{instance}", {Access::kAgent},
                 [this](const HttpRequest& req, HttpResponse& res) {
                   std::lock_guard lock(mu_);
                   if (applied_status_ != 0) {
                     res.SetJson(ErrorJson(Status::NotFound("no such route")), applied_status_);
                     return;
                   }
                   auto body = json::parse(req.body, nullptr, false);
                   if (!body.is_object()) {
                     res.SetError(Status::InvalidArgument("body must be a JSON object"));
                     return;
                   }
                   body["instance"] = req.PathParam("instance");
                   applied_.push_back(body);
                   res.SetJson("{}");
                 });
  server_->Route("POST", "/api/v1/ingest/metrics", {Access::kAgent},
                 [this](const HttpRequest& req, HttpResponse& res) {
                   std::lock_guard lock(mu_);
                   metric_posts_.push_back("service=" + req.Query("service").value_or("") +
                                           "&instance=" + req.Query("instance").value_or("") +
                                           "\n" + req.body);
                   res.SetJson(R"({"accepted":1})");
                 });
  const Status s = server_->Start();
  EXPECT_TRUE(s.ok()) << s.ToString();
  // Wait until the accept loop runs: a Stop() that comes earlier would leave
  // the listening socket open, and tests reuse freed ports.
  probe.base_url = url();
  auto client = HttpClient::Create(probe);
  EXPECT_TRUE(client.ok() && WaitFor([&] {
                auto r = (*client)->Get("/healthz");
                return r.ok() && r->ok();
              }));
}

FakeControlPlane::~FakeControlPlane() {
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
  }
  cv_.notify_all();
  server_->Stop();
}

std::vector<json> FakeControlPlane::registrations() {
  std::lock_guard lock(mu_);
  return registrations_;
}
std::vector<json> FakeControlPlane::heartbeats() {
  std::lock_guard lock(mu_);
  return heartbeats_;
}
int FakeControlPlane::deregistrations() {
  std::lock_guard lock(mu_);
  return deregistrations_;
}
bool FakeControlPlane::registered(const std::string& id) {
  std::lock_guard lock(mu_);
  return registered_.contains(id);
}
void FakeControlPlane::Forget(const std::string& id) {
  std::lock_guard lock(mu_);
  registered_.erase(id);
}
std::vector<std::string> FakeControlPlane::authorizations() {
  std::lock_guard lock(mu_);
  return authorizations_;
}
std::vector<json> FakeControlPlane::events() {
  std::lock_guard lock(mu_);
  return events_;
}
std::vector<std::string> FakeControlPlane::batch_ids() {
  std::lock_guard lock(mu_);
  return batch_ids_;
}
std::vector<std::string> FakeControlPlane::ingest_codings() {
  std::lock_guard lock(mu_);
  return ingest_codings_;
}

void FakeControlPlane::RefuseZstd() {
  std::lock_guard lock(mu_);
  refuse_zstd_ = true;
}

int FakeControlPlane::ingest_requests() {
  std::lock_guard lock(mu_);
  return ingest_requests_;
}
void FakeControlPlane::SetIngestStatus(int status) {
  std::lock_guard lock(mu_);
  ingest_status_ = status;
}
void FakeControlPlane::RejectMessage(std::string message) {
  std::lock_guard lock(mu_);
  reject_message_ = std::move(message);
}
void FakeControlPlane::PushRawConfig(std::string properties_json) {
  {
    std::lock_guard lock(mu_);
    raw_config_properties_ = std::move(properties_json);
    ++config_version_;
    ++config_index_;
  }
  cv_.notify_all();
}
void FakeControlPlane::PushConfig(const json& properties) {
  {
    std::lock_guard lock(mu_);
    raw_config_properties_.clear();
    config_properties_ = properties;
    ++config_version_;
    ++config_index_;
  }
  cv_.notify_all();
}
void FakeControlPlane::SetRetryAfter(std::string value) {
  std::lock_guard lock(mu_);
  retry_after_ = std::move(value);
}
int FakeControlPlane::duplicate_batches() {
  std::lock_guard lock(mu_);
  return duplicate_batches_;
}
std::vector<json> FakeControlPlane::applied() {
  std::lock_guard lock(mu_);
  return applied_;
}
void FakeControlPlane::SetAppliedStatus(int status) {
  std::lock_guard lock(mu_);
  applied_status_ = status;
}
std::vector<std::string> FakeControlPlane::metric_posts() {
  std::lock_guard lock(mu_);
  return metric_posts_;
}
int FakeControlPlane::config_requests() {
  std::lock_guard lock(mu_);
  return config_requests_;
}

bool FakeControlPlane::WaitFor(const std::function<bool()>& condition,
                               std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace hive::agent::testing
