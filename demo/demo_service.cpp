#include "demo_service.h"

#include <httplib.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>

#include "json_log.h"
#include "request_metrics.h"
#include "service_config.h"
#include "trace_context.h"

namespace hive::demo {
namespace {

using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// Server side: idle keep-alive connections are closed after this long, which
// also bounds how long Stop() waits for them.
constexpr int kServerKeepAliveSeconds = 2;
// Client side: a pooled connection idle longer than this is dropped instead of
// reused, so a request never races the server closing it.
constexpr auto kClientMaxIdle = std::chrono::milliseconds(1000);
constexpr size_t kMaxIdleClients = 16;
constexpr size_t kServerThreads = 32;

bool IsName(std::string_view s) {
  static const std::regex kName("^[a-z0-9][a-z0-9._-]{0,62}$");
  return std::regex_match(s.begin(), s.end(), kName);
}

// Item SKUs and order ids travel in query strings; this charset needs no encoding.
bool IsToken(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

std::optional<int> ParseInt(std::string_view s) {
  int value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::string FormatNumber(double value) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", value);
  return buf;
}

std::string FormatCents(int64_t cents) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%lld.%02lld", static_cast<long long>(cents / 100),
                static_cast<long long>(cents % 100));
  return buf;
}

// "12.34" → 1234; at most two decimals, positive, at most a million.
std::optional<int64_t> ParseCents(std::string_view s) {
  size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 7 || frac.size() > 2) return std::nullopt;
  std::optional<int> units = ParseInt(whole);
  std::optional<int> hundredths = frac.empty() ? 0 : ParseInt(frac);
  if (!units || !hundredths || *units < 0 || *hundredths < 0) return std::nullopt;
  int64_t cents = int64_t{*units} * 100 + (frac.size() == 1 ? *hundredths * 10 : *hundredths);
  if (cents <= 0 || cents > 100'000'000) return std::nullopt;
  return cents;
}

// A stable price per SKU between 5.00 and 99.99.
int64_t PriceCents(const std::string& item) {
  return 500 + static_cast<int64_t>(std::hash<std::string>{}(item) % 9500);
}

double RoundMs(Clock::duration d) {
  double ms = std::chrono::duration<double, std::milli>(d).count();
  return std::round(ms * 1000) / 1000;
}

Json ErrorBody(std::string_view code, std::string_view message) {
  return Json{{"error", {{"code", code}, {"message", message}}}};
}

// What a route handler answers.
struct Outcome {
  int status = 200;
  Json body;
};

// A string member of an upstream's JSON answer, "" when absent.
std::string StringField(const Json& body, const char* key) {
  if (!body.is_object()) return "";
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : "";
}

Outcome BadRequest(const std::string& message) {
  return {400, ErrorBody("invalid_argument", message)};
}

// A request being served: its span and the attributes every line carries.
struct RequestContext {
  TraceIds ids;                 // trace, this server span, the caller's span
  std::vector<LogField> attrs;  // http.method, http.path, item, ...
  ServiceSettings settings;     // one snapshot per request
};

// Result of a call to an upstream service.
struct UpstreamReply {
  bool ok = false;
  int status = 0;       // 0: no answer (transport error)
  Json body;            // the parsed answer, null when not JSON
  std::string failure;  // why it failed, for the error log line
};

// Keep-alive clients to one upstream, reused across requests. Thread-safe.
class UpstreamPool {
 public:
  UpstreamPool(std::string name, std::string url) : name_(std::move(name)), url_(std::move(url)) {}

  const std::string& name() const { return name_; }

  std::unique_ptr<httplib::Client> Acquire() {
    {
      std::lock_guard lock(mu_);
      auto now = Clock::now();
      while (!idle_.empty()) {
        IdleClient entry = std::move(idle_.back());
        idle_.pop_back();
        if (now - entry.since <= kClientMaxIdle) return std::move(entry.client);
      }
    }
    auto client = std::make_unique<httplib::Client>(url_);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);
    client->set_connection_timeout(std::chrono::seconds(2));
    client->set_read_timeout(std::chrono::seconds(30));
    return client;
  }

  void Release(std::unique_ptr<httplib::Client> client) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleClients) idle_.push_back({std::move(client), Clock::now()});
  }

 private:
  struct IdleClient {
    std::unique_ptr<httplib::Client> client;
    Clock::time_point since;
  };

  const std::string name_;
  const std::string url_;
  std::mutex mu_;
  std::vector<IdleClient> idle_;
};

std::string_view UpstreamPath(const std::string& name) {
  if (name == "orders") return "/orders";
  if (name == "inventory") return "/reserve";
  return "/charge";
}

std::vector<std::string> RequiredUpstreams(Role role) {
  switch (role) {
    case Role::kGateway:
      return {"orders"};
    case Role::kOrders:
      return {"inventory", "payments"};
    case Role::kInventory:
    case Role::kPayments:
      return {};
  }
  return {};
}

}  // namespace

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "gateway") return Role::kGateway;
  if (name == "orders") return Role::kOrders;
  if (name == "inventory") return Role::kInventory;
  if (name == "payments") return Role::kPayments;
  return std::nullopt;
}

std::optional<Upstream> ParseUpstream(std::string_view flag, std::string* error) {
  static const std::regex kUrl(R"(^http://[A-Za-z0-9.-]+:[0-9]{1,5}$)");
  size_t eq = flag.find('=');
  if (eq == std::string_view::npos) {
    *error = "upstream '" + std::string(flag) + "' is not NAME=http://HOST:PORT";
    return std::nullopt;
  }
  Upstream upstream{std::string(flag.substr(0, eq)), std::string(flag.substr(eq + 1))};
  if (!IsName(upstream.name)) {
    *error = "invalid upstream name '" + upstream.name + "'";
    return std::nullopt;
  }
  if (!std::regex_match(upstream.url, kUrl)) {
    *error = "upstream URL '" + upstream.url + "' is not http://HOST:PORT";
    return std::nullopt;
  }
  return upstream;
}

bool ParseListenAddress(std::string_view flag, std::string* host, int* port, std::string* error) {
  size_t colon = flag.rfind(':');
  std::optional<int> parsed =
      colon == std::string_view::npos ? std::nullopt : ParseInt(flag.substr(colon + 1));
  if (!parsed || *parsed < 0 || *parsed > 65535 || colon == 0) {
    *error = "listen address '" + std::string(flag) + "' is not HOST:PORT";
    return false;
  }
  *host = std::string(flag.substr(0, colon));
  *port = *parsed;
  return true;
}

class DemoService::Impl {
 public:
  Impl(ServiceOptions options, std::unique_ptr<JsonLog> log)
      : options_(std::move(options)), log_(std::move(log)) {
    for (const Upstream& upstream : options_.upstreams) {
      upstreams_.emplace(upstream.name,
                         std::make_unique<UpstreamPool>(upstream.name, upstream.url));
    }
    if (!options_.config_file.empty()) {
      config_ = std::make_unique<ConfigWatcher>(options_.config_file, log_.get());
    }
  }

  bool Bind(std::string* error) {
    server_.new_task_queue = [] { return new httplib::ThreadPool(kServerThreads); };
    server_.set_keep_alive_timeout(kServerKeepAliveSeconds);
    // Without it Nagle's algorithm and delayed ACKs add ~40 ms per hop.
    server_.set_tcp_nodelay(true);
    server_.set_keep_alive_max_count(1000);
    Routes();
    if (options_.port == 0) {
      port_ = server_.bind_to_any_port(options_.host);
    } else {
      port_ = server_.bind_to_port(options_.host, options_.port) ? options_.port : -1;
    }
    if (port_ <= 0) {
      *error = "cannot listen on " + options_.host + ":" + std::to_string(options_.port);
      return false;
    }
    return true;
  }

  int port() const { return port_; }

  void Run() {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      state_ = RunState::kRunning;
    }
    log_->Write(LogLevel::kInfo,
                options_.name + " listening on " + options_.host + ":" + std::to_string(port_), {},
                {{"listen.port", port_}});
    server_.listen_after_bind();
    {
      std::lock_guard lock(mu_);
      state_ = RunState::kDone;
    }
    cv_.notify_all();
    log_->Write(LogLevel::kInfo, options_.name + " stopped", {});
  }

  void Stop() {
    std::unique_lock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.notify_all();
    // httplib ignores stop() until listen_after_bind() has marked the server
    // running, so wait for that (or for Run() to end) before stopping it.
    while (state_ == RunState::kRunning) {
      if (server_.is_running()) {
        server_.stop();
        return;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(1));
    }
  }

  void ReloadConfig() {
    if (config_) config_->Reload();
  }

 private:
  enum class RunState { kIdle, kRunning, kDone };
  using Handler = Outcome (Impl::*)(const httplib::Request&, RequestContext&);

  ServiceSettings Settings() const { return config_ ? config_->Current() : ServiceSettings{}; }

  void Routes() {
    switch (options_.role) {
      case Role::kGateway:
        Traced("/", &Impl::Checkout);
        Traced("/checkout", &Impl::Checkout);
        break;
      case Role::kOrders:
        Traced("/orders", &Impl::CreateOrder);
        break;
      case Role::kInventory:
        Traced("/reserve", &Impl::Reserve);
        break;
      case Role::kPayments:
        Traced("/charge", &Impl::Charge);
        break;
    }
    server_.Get("/health", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_.Render(Settings(), config_ ? config_->reloads() : 0),
                      "text/plain; version=0.0.4");
    });
    server_.Post("/refresh", [this](const httplib::Request&, httplib::Response& res) {
      ReloadConfig();
      res.set_content(config_ ? R"({"status":"reloading"})" : R"({"status":"no config file"})",
                      "application/json");
    });
    server_.set_error_handler(httplib::Server::HandlerWithResponse(
        [](const httplib::Request& req, httplib::Response& res) {
          if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
          std::string message =
              res.status == 404 ? "no route for " + req.method + " " + req.path : "request failed";
          std::string code = res.status == 404 ? "not_found" : "invalid_argument";
          res.set_content(ErrorBody(code, message).dump(), "application/json");
          return httplib::Server::HandlerResponse::Handled;
        }));
    server_.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
          res.status = 500;
          res.set_content(ErrorBody("internal", "unexpected error").dump(), "application/json");
        });
  }

  // Serves `route` inside a server span: trace context in and out, metrics and
  // the span log line.
  void Traced(const std::string& route, Handler handler) {
    server_.Get(route, [this, route, handler](const httplib::Request& req, httplib::Response& res) {
      LogTime wall_start = std::chrono::system_clock::now();
      Clock::time_point start = Clock::now();
      RequestContext ctx;
      if (auto parent = ParseTraceparent(req.get_header_value("traceparent"))) {
        ctx.ids.trace_id = parent->trace_id;
        ctx.ids.parent_span_id = parent->parent_id;
      } else {
        ctx.ids.trace_id = NewTraceId();
      }
      ctx.ids.span_id = NewSpanId();
      ctx.settings = Settings();
      ctx.attrs = {{"http.method", req.method}, {"http.path", req.path}};

      Outcome outcome = (this->*handler)(req, ctx);

      Clock::duration elapsed = Clock::now() - start;
      res.status = outcome.status;
      res.set_header("traceparent", FormatTraceparent(ctx.ids.trace_id, ctx.ids.span_id));
      res.set_header("X-Trace-Id", ctx.ids.trace_id);
      res.set_content(outcome.body.dump(-1, ' ', false, Json::error_handler_t::replace),
                      "application/json");
      metrics_.RecordRequest(outcome.status, std::chrono::duration<double>(elapsed).count());

      double ms = RoundMs(elapsed);
      bool failed = outcome.status >= 500;
      std::string name = "GET " + route;
      std::vector<LogField> fields = ctx.attrs;
      fields.emplace_back("kind", "server");
      fields.emplace_back("name", name);
      fields.emplace_back("duration_ms", ms);
      fields.emplace_back("status", failed ? "error" : "ok");
      fields.emplace_back("http.status_code", outcome.status);
      // A span line is stamped with the span's start, as spans are.
      log_->WriteAt(wall_start, failed ? LogLevel::kError : LogLevel::kInfo,
                    name + " " + std::to_string(outcome.status) + " in " + FormatNumber(ms) + " ms",
                    ctx.ids, fields);
    });
  }

  void Log(const RequestContext& ctx, LogLevel level, const std::string& message,
           std::vector<LogField> extra = {}) {
    std::vector<LogField> fields = ctx.attrs;
    for (LogField& field : extra) fields.push_back(std::move(field));
    log_->Write(level, message, ctx.ids, fields);
  }

  // The service's own work: a random few milliseconds plus the configured
  // latency. Stop() cuts it short.
  void SimulateWork(const RequestContext& ctx, int min_ms, int max_ms) {
    auto duration = std::chrono::duration<double, std::milli>(RandomInt(min_ms, max_ms) +
                                                              ctx.settings.latency_ms);
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, duration, [this] { return stopping_; });
  }

  // Fails this request on purpose with probability failure_rate.
  std::optional<Outcome> InjectFailure(const RequestContext& ctx) {
    double rate = ctx.settings.failure_rate;
    if (rate <= 0 || RandomUnit() >= rate) return std::nullopt;
    std::string what =
        options_.role == Role::kPayments ? "payment declined" : options_.name + " request failed";
    std::string message = what + " by failure injection (failure_rate=" + FormatNumber(rate) + ")";
    Log(ctx, LogLevel::kError, message, {{"error.type", "failure_injection"}});
    return Outcome{500, ErrorBody("internal", message)};
  }

  // Calls an upstream inside a client span whose id goes out as the parent in
  // `traceparent`; logs the span line.
  UpstreamReply CallUpstream(const RequestContext& ctx, const std::string& name,
                             const std::string& query) {
    UpstreamPool& pool = *upstreams_.at(name);
    std::string path(UpstreamPath(name));
    TraceIds ids{ctx.ids.trace_id, NewSpanId(), ctx.ids.span_id};
    httplib::Headers headers = {{"traceparent", FormatTraceparent(ids.trace_id, ids.span_id)}};

    LogTime wall_start = std::chrono::system_clock::now();
    Clock::time_point start = Clock::now();
    std::unique_ptr<httplib::Client> client = pool.Acquire();
    httplib::Result result = client->Get(path + "?" + query, headers);
    Clock::duration elapsed = Clock::now() - start;

    UpstreamReply reply;
    if (!result) {
      reply.failure = "no answer from " + name + " (" + httplib::to_string(result.error()) + ")";
    } else {
      pool.Release(std::move(client));
      reply.status = result->status;
      reply.ok = reply.status >= 200 && reply.status < 300;
      reply.body = Json::parse(result->body, nullptr, /*allow_exceptions=*/false);
      if (!reply.ok) {
        std::string detail = result->body.substr(0, 200);
        if (reply.body.is_object() && reply.body.contains("error")) {
          std::string message = StringField(reply.body["error"], "message");
          if (!message.empty()) detail = message;
        }
        reply.failure = name + " answered " + std::to_string(reply.status) + ": " + detail;
      }
    }
    metrics_.RecordUpstream(name, reply.status);

    double ms = RoundMs(elapsed);
    std::string span_name = "GET " + path;
    std::vector<LogField> fields = {{"http.method", "GET"}, {"http.path", path}};
    for (const LogField& attr : ctx.attrs) {
      if (attr.key != "http.method" && attr.key != "http.path") fields.push_back(attr);
    }
    fields.emplace_back("kind", "client");
    fields.emplace_back("name", span_name);
    fields.emplace_back("peer.service", name);
    fields.emplace_back("duration_ms", ms);
    fields.emplace_back("status", reply.ok ? "ok" : "error");
    if (reply.status != 0) fields.emplace_back("http.status_code", reply.status);
    std::string message = span_name + " -> " + name + " " +
                          (reply.status != 0 ? std::to_string(reply.status) : "failed") + " in " +
                          FormatNumber(ms) + " ms";
    log_->WriteAt(wall_start, reply.ok ? LogLevel::kInfo : LogLevel::kError, message, ids, fields);
    return reply;
  }

  // Reads a required item and quantity; answers 400 for bad ones.
  std::optional<Outcome> ItemAndQuantity(const httplib::Request& req, RequestContext& ctx,
                                         const std::string& default_item, std::string* item,
                                         int* qty) {
    *item = req.has_param("item") ? req.get_param_value("item") : default_item;
    if (!IsToken(*item)) return BadRequest("item must be 1-64 characters of [A-Za-z0-9._-]");
    std::string qty_text = req.has_param("qty") ? req.get_param_value("qty") : "1";
    std::optional<int> parsed = ParseInt(qty_text);
    if (!parsed || *parsed < 1 || *parsed > 100) {
      return BadRequest("qty must be an integer between 1 and 100");
    }
    *qty = *parsed;
    ctx.attrs.emplace_back("item", *item);
    ctx.attrs.emplace_back("qty", *qty);
    return std::nullopt;
  }

  Outcome Checkout(const httplib::Request& req, RequestContext& ctx) {
    std::string item;
    int qty = 0;
    if (auto bad = ItemAndQuantity(req, ctx, "sku-1", &item, &qty)) return *bad;
    Log(ctx, LogLevel::kInfo, "checkout of " + std::to_string(qty) + " x " + item);
    SimulateWork(ctx, 1, 3);
    if (auto failure = InjectFailure(ctx)) return *failure;
    UpstreamReply order =
        CallUpstream(ctx, "orders", "item=" + item + "&qty=" + std::to_string(qty));
    if (!order.ok) {
      std::string message = "checkout of " + item + " failed: " + order.failure;
      Log(ctx, LogLevel::kError, message);
      return {502, ErrorBody("unavailable", message)};
    }
    std::string order_id = StringField(order.body, "order_id");
    Log(ctx, LogLevel::kInfo, "checkout of " + item + " confirmed as order " + order_id,
        {{"order.id", order_id}});
    return {200, Json{{"status", "confirmed"},
                      {"order_id", order_id},
                      {"item", item},
                      {"qty", qty},
                      {"amount", StringField(order.body, "amount")},
                      {"currency", StringField(order.body, "currency")},
                      {"trace_id", ctx.ids.trace_id}}};
  }

  Outcome CreateOrder(const httplib::Request& req, RequestContext& ctx) {
    std::string item;
    int qty = 0;
    if (auto bad = ItemAndQuantity(req, ctx, "", &item, &qty)) return *bad;
    std::string order_id = "ord-" + NewSpanId().substr(0, 10);
    std::string amount = FormatCents(PriceCents(item) * qty);
    ctx.attrs.emplace_back("order.id", order_id);
    Log(ctx, LogLevel::kInfo,
        "creating order " + order_id + " for " + std::to_string(qty) + " x " + item + " (" +
            amount + " EUR)");
    SimulateWork(ctx, 2, 5);
    if (auto failure = InjectFailure(ctx)) return *failure;

    UpstreamReply reservation =
        CallUpstream(ctx, "inventory", "item=" + item + "&qty=" + std::to_string(qty));
    if (!reservation.ok) {
      std::string message = "order " + order_id + " failed: " + reservation.failure;
      Log(ctx, LogLevel::kError, message);
      return {502, ErrorBody("unavailable", message)};
    }
    UpstreamReply payment = CallUpstream(
        ctx, "payments", "order=" + order_id + "&amount=" + amount + "&currency=EUR&item=" + item);
    if (!payment.ok) {
      std::string message = "order " + order_id + " failed: " + payment.failure;
      Log(ctx, LogLevel::kError, message);
      return {502, ErrorBody("unavailable", message)};
    }
    std::string payment_id = StringField(payment.body, "payment_id");
    Log(ctx, LogLevel::kInfo, "order " + order_id + " placed, payment " + payment_id + " captured");
    return {200, Json{{"order_id", order_id},
                      {"item", item},
                      {"qty", qty},
                      {"amount", amount},
                      {"currency", "EUR"},
                      {"payment_id", payment_id}}};
  }

  Outcome Reserve(const httplib::Request& req, RequestContext& ctx) {
    std::string item;
    int qty = 0;
    if (auto bad = ItemAndQuantity(req, ctx, "", &item, &qty)) return *bad;
    SimulateWork(ctx, 1, 4);
    if (auto failure = InjectFailure(ctx)) return *failure;
    int remaining = 0;
    {
      std::lock_guard lock(stock_mu_);
      // Shelves restock silently; the demo never runs out.
      auto [it, inserted] = stock_.try_emplace(item, 1000);
      if (it->second < qty) it->second = 1000;
      it->second -= qty;
      remaining = it->second;
    }
    Log(ctx, LogLevel::kInfo,
        "reserved " + std::to_string(qty) + (qty == 1 ? " unit of " : " units of ") + item + " (" +
            std::to_string(remaining) + " left)",
        {{"stock.remaining", remaining}});
    return {200, Json{{"item", item}, {"reserved", qty}, {"remaining", remaining}}};
  }

  Outcome Charge(const httplib::Request& req, RequestContext& ctx) {
    std::string order_id = req.get_param_value("order");
    std::optional<int64_t> cents = ParseCents(req.get_param_value("amount"));
    std::string currency = req.has_param("currency") ? req.get_param_value("currency") : "EUR";
    if (!IsToken(order_id)) return BadRequest("order must be 1-64 characters of [A-Za-z0-9._-]");
    if (!cents) return BadRequest("amount must be a positive decimal with at most 2 decimals");
    if (currency.size() != 3 || !std::all_of(currency.begin(), currency.end(),
                                             [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return BadRequest("currency must be 3 capital letters");
    }
    if (req.has_param("item")) {
      std::string item = req.get_param_value("item");
      if (!IsToken(item)) return BadRequest("item must be 1-64 characters of [A-Za-z0-9._-]");
      ctx.attrs.emplace_back("item", item);
    }
    std::string amount = FormatCents(*cents);
    ctx.attrs.emplace_back("order.id", order_id);
    ctx.attrs.emplace_back("amount", amount);
    ctx.attrs.emplace_back("currency", currency);
    Log(ctx, LogLevel::kInfo, "charging " + amount + " " + currency + " for order " + order_id);
    SimulateWork(ctx, 5, 15);
    if (auto failure = InjectFailure(ctx)) return *failure;
    std::string payment_id = "pay-" + NewSpanId().substr(0, 10);
    Log(ctx, LogLevel::kInfo, "payment " + payment_id + " captured", {{"payment.id", payment_id}});
    return {200, Json{{"payment_id", payment_id},
                      {"order_id", order_id},
                      {"amount", amount},
                      {"currency", currency},
                      {"status", "captured"}}};
  }

  const ServiceOptions options_;
  std::unique_ptr<JsonLog> log_;
  std::unique_ptr<ConfigWatcher> config_;  // null without --config
  std::map<std::string, std::unique_ptr<UpstreamPool>> upstreams_;
  RequestMetrics metrics_;
  httplib::Server server_;
  int port_ = -1;

  std::mutex mu_;  // guards stopping_ and state_; cv_ wakes Stop() and SimulateWork()
  std::condition_variable cv_;
  bool stopping_ = false;
  RunState state_ = RunState::kIdle;

  std::mutex stock_mu_;
  std::map<std::string, int> stock_;
};

std::unique_ptr<DemoService> DemoService::Create(const ServiceOptions& options,
                                                 std::string* error) {
  if (!IsName(options.name)) {
    *error = "invalid service name '" + options.name + "'";
    return nullptr;
  }
  std::vector<std::string> required = RequiredUpstreams(options.role);
  for (const std::string& name : required) {
    bool given = std::any_of(options.upstreams.begin(), options.upstreams.end(),
                             [&](const Upstream& u) { return u.name == name; });
    if (!given) {
      *error = "missing --upstream " + name + "=http://HOST:PORT";
      return nullptr;
    }
  }
  std::map<std::string, int> seen;
  for (const Upstream& upstream : options.upstreams) {
    if (std::find(required.begin(), required.end(), upstream.name) == required.end()) {
      *error = "unexpected upstream '" + upstream.name + "' for this service";
      return nullptr;
    }
    if (++seen[upstream.name] > 1) {
      *error = "upstream '" + upstream.name + "' given twice";
      return nullptr;
    }
  }
  std::unique_ptr<JsonLog> log = JsonLog::Open(options.log_file, error);
  if (!log) return nullptr;
  auto impl = std::make_unique<Impl>(options, std::move(log));
  if (!impl->Bind(error)) return nullptr;
  return std::unique_ptr<DemoService>(new DemoService(std::move(impl)));
}

DemoService::DemoService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DemoService::~DemoService() = default;
int DemoService::port() const { return impl_->port(); }
void DemoService::Run() { impl_->Run(); }
void DemoService::Stop() { impl_->Stop(); }
void DemoService::ReloadConfig() { impl_->ReloadConfig(); }

}  // namespace hive::demo
