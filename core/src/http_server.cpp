#include <arpa/inet.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>

#include "hive/core/http.h"
#include "hive/core/log.h"
#include "hive/core/text.h"
#include "http_transport.h"
#include "http_wire.h"
#include "process_metrics.h"

namespace hive {
namespace {

using http_internal::Exchange;

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

struct Segment {
  std::string text;
  bool param = false;
  bool rest = false;
};

struct RouteMetrics {
  static constexpr int kFirstCode = 100;
  static constexpr int kLastCode = 599;
  prometheus::Histogram* latency = nullptr;
  // The counter of each status code, made on its first use (under mu) and
  // read without a lock after.
  std::mutex mu;
  std::array<std::atomic<prometheus::Counter*>, kLastCode - kFirstCode + 1> by_code{};
};

struct RouteEntry {
  std::string method;
  std::string pattern;
  std::vector<Segment> segments;
  int literal_count = 0;
  RouteOptions options;
  HttpHandler handler;
  std::unique_ptr<RouteMetrics> metrics;
};

std::vector<std::string_view> PathSegments(std::string_view path) {
  std::vector<std::string_view> out;
  for (std::string_view s : Split(path, '/')) {
    if (!s.empty()) out.push_back(s);
  }
  return out;
}

// Matches `path` against `route`; fills `params` on success.
bool MatchRoute(const RouteEntry& route, const std::vector<std::string_view>& parts,
                std::string_view path, std::vector<Header>* params) {
  params->clear();
  size_t i = 0;
  for (const Segment& seg : route.segments) {
    if (seg.rest) {
      // The rest of the decoded path after the consumed segments.
      size_t pos = 0;
      for (size_t k = 0; k < i; ++k) pos = path.find(parts[k], pos) + parts[k].size();
      std::string_view rest = path.substr(std::min(pos, path.size()));
      while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
      params->emplace_back(seg.text, std::string(rest));
      return true;
    }
    if (i >= parts.size()) return false;
    if (seg.param) {
      params->emplace_back(seg.text, std::string(parts[i]));
    } else if (seg.text != parts[i]) {
      return false;
    }
    ++i;
  }
  return i == parts.size();
}

// The host of a Host header value ("name:port", "[v6]:port", "name").
std::string_view HostOf(std::string_view authority) {
  if (authority.starts_with('[')) {
    const size_t end = authority.find(']');
    return end == std::string_view::npos ? authority : authority.substr(1, end - 1);
  }
  return authority.substr(0, authority.find(':'));
}

// Media types a web page can send to any site without a CORS preflight.
bool IsCorsSafelistedBody(std::string_view content_type) {
  const std::string type = AsciiLower(Trim(content_type.substr(0, content_type.find(';'))));
  return type == "text/plain" || type == "application/x-www-form-urlencoded" ||
         type == "multipart/form-data";
}

bool IsIpAddress(std::string_view host) {
  const std::string h(host);
  in_addr v4{};
  in6_addr v6{};
  return ::inet_pton(AF_INET, h.c_str(), &v4) == 1 || ::inet_pton(AF_INET6, h.c_str(), &v6) == 1;
}

bool IsStateChanging(std::string_view method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return 200;
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kFailedPrecondition:
      return 400;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
      return 409;
    case StatusCode::kAborted:
      return 409;
    case StatusCode::kTooLarge:
      return 413;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnavailable:
      return 503;
    case StatusCode::kInternal:
      return 500;
  }
  return 500;
}

std::string ErrorJson(const Status& status) {
  std::string out = "{\"error\":{\"code\":";
  AppendJsonString(out, StatusCodeName(status.code()));
  out += ",\"message\":";
  AppendJsonString(out, status.message());
  out += "}}";
  return out;
}

void HttpResponse::SetError(const Status& s) { SetJson(ErrorJson(s), HttpStatusFor(s.code())); }

HttpHandler AnswerErrors(StatusHandler handler) {
  return [handler = std::move(handler)](const HttpRequest& req, HttpResponse& res) {
    if (Status s = handler(req, res); !s.ok()) res.SetError(s);
  };
}

std::string_view HttpRequest::PathParam(std::string_view name) const {
  for (const auto& [k, v] : path_params) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

Result<bool> HttpRequest::BoolQuery(std::string_view name, bool absent) const {
  std::optional<std::string> v = Query(name);
  if (!v) return absent;
  if (v->empty() || *v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  return Status::InvalidArgument(std::string(name) + " must be true or false, not " +
                                 JsonString(*v));
}

std::optional<std::string> HttpRequest::HeaderValue(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

struct HttpServer::Impl final : http_internal::RequestPolicy {
  explicit Impl(const HttpServerOptions& o) : options(o) {}

  const HttpServerOptions& options;
  std::vector<std::unique_ptr<RouteEntry>> routes;
  std::vector<std::function<Status()>> readiness;  // set before Listen()
  std::unique_ptr<http_internal::Transport> transport;
  bool started = false;

  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Gauge* in_flight = nullptr;
  prometheus::Counter* exceptions = nullptr;
  RouteMetrics unmatched;  // 404/405 and requests refused before routing
  http_internal::TransportMetrics transport_metrics;

  bool Admit(Exchange& x, HttpResponse& refusal) override;
  size_t BodyLimit(const Exchange& x) const override {
    const RouteEntry& route = Route(x);
    return route.options.max_body_bytes ? route.options.max_body_bytes : options.max_body_bytes;
  }
  bool Nonblocking(const Exchange& x) const override { return Route(x).options.nonblocking; }
  void Handle(Exchange& x, HttpResponse& res) override;
  bool Poll(Exchange& x, const HttpResponse::Poll& poll, HttpResponse& res, bool last) override;
  bool Pump(Exchange& x, const HttpResponse::Pump& pump, StreamSink& sink) override;
  void Record(const Exchange& x, int status) override;

  static const RouteEntry& Route(const Exchange& x) {
    return *static_cast<const RouteEntry*>(x.route);
  }
  // Runs `fn` under the last-resort guard; false (and `res` a counted 500)
  // when it threw.
  template <typename Fn>
  bool Guarded(const RouteEntry& route, const std::string& method, HttpResponse& res, Fn&& fn);
  // Without tokens: refuses what a browser page of another site could send.
  Status CheckBrowserOrigin(const HttpRequest& req) const;
  Status Authenticate(const RouteEntry& route, HttpRequest& req, HttpResponse& refusal) const;
};

bool HttpServer::Impl::Admit(Exchange& x, HttpResponse& refusal) {
  HttpRequest& req = x.request;
  RouteEntry* route = nullptr;
  bool other_method = false;
  {
    auto parts = PathSegments(req.path);
    std::vector<Header> params;
    for (const auto& r : routes) {
      if (!MatchRoute(*r, parts, req.path, &params)) continue;
      if (r->method != req.method) {
        other_method = true;
        continue;
      }
      if (!route || r->literal_count > route->literal_count) {
        route = r.get();
        req.path_params = params;
      }
    }
  }
  if (!options.auth) {
    if (Status s = CheckBrowserOrigin(req); !s.ok()) {
      transport_metrics.rejected->Add({{"reason", "browser_origin"}}).Increment();
      refusal.SetError(s);
      return false;
    }
  }
  if (route == nullptr) {
    if (other_method) {
      refusal.SetError(
          Status::InvalidArgument("method " + req.method + " is not allowed on " + req.path));
      refusal.status = 405;
    } else {
      refusal.SetError(Status::NotFound("no route for " + req.method + " " + req.path));
    }
    return false;
  }
  x.route = route;
  in_flight->Increment();  // until Record()
  if (Status s = Authenticate(*route, req, refusal); !s.ok()) {
    refusal.SetError(s);
    return false;
  }
  if (auto enc = req.HeaderValue("Content-Encoding");
      enc && !http_internal::SupportedEncoding(*enc)) {
    refusal.SetError(Status::InvalidArgument("unsupported Content-Encoding '" +
                                             std::string(Trim(*enc).substr(0, 64)) + "' (use " +
                                             std::string(http_internal::kAcceptedCodings) + ")"));
    refusal.status = 415;
    // RFC 9110 §15.5.16: a 415 for a content coding says which are accepted.
    refusal.headers.emplace_back("Accept-Encoding", std::string(http_internal::kAcceptedCodings));
    return false;
  }
  return true;
}

Status HttpServer::Impl::CheckBrowserOrigin(const HttpRequest& req) const {
  const std::optional<std::string> host_header = req.HeaderValue("Host");
  if (host_header) {
    const std::string_view host = HostOf(Trim(*host_header));
    // DNS rebinding needs a name the attacker controls; an address names
    // only itself, and a page can be of its origin only if it came from here.
    const bool allowed =
        IsIpAddress(host) || EqualsIgnoreCase(host, "localhost") ||
        (host.size() > 10 && EqualsIgnoreCase(host.substr(host.size() - 10), ".localhost")) ||
        EqualsIgnoreCase(host, options.host) ||
        std::any_of(options.allowed_hosts.begin(), options.allowed_hosts.end(),
                    [&](const std::string& a) {
                      return EqualsIgnoreCase(a, host) || EqualsIgnoreCase(a, Trim(*host_header));
                    });
    if (!allowed) {
      return Status::PermissionDenied(
          "Host '" + std::string(Trim(*host_header).substr(0, 100)) +
          "' is not allowed: without tokens this server answers only to addresses, localhost, "
          "its listen host and the names given with --allowed-host, so that a web page cannot "
          "reach it by DNS rebinding");
    }
  }
  if (!IsStateChanging(req.method)) return Status::Ok();
  auto cross_site = [](std::string why) {
    return Status::PermissionDenied(
        why +
        ": without tokens this server refuses state-changing requests a web page of "
        "another site could send (use the dashboard it serves, a non-browser client, or "
        "tokens)");
  };
  const std::optional<std::string> origin = req.HeaderValue("Origin");
  if (origin) {
    const std::string_view o = Trim(*origin);
    const size_t scheme_end = o.find("://");
    const std::string_view authority =
        scheme_end == std::string_view::npos ? std::string_view() : o.substr(scheme_end + 3);
    if (!host_header || authority.empty() || !EqualsIgnoreCase(authority, Trim(*host_header))) {
      return cross_site("Origin '" + std::string(o.substr(0, 100)) + "' is not this server's");
    }
    return Status::Ok();
  }
  if (auto site = req.HeaderValue("Sec-Fetch-Site")) {
    const std::string_view v = Trim(*site);
    if (!EqualsIgnoreCase(v, "same-origin") && !EqualsIgnoreCase(v, "none")) {
      return cross_site("Sec-Fetch-Site is '" + std::string(v.substr(0, 40)) + "'");
    }
  }
  // An old browser may send no Origin; it still says who it is, and a page
  // cannot change that.
  const bool from_browser = req.HeaderValue("User-Agent").value_or("").starts_with("Mozilla/");
  if (from_browser && IsCorsSafelistedBody(req.HeaderValue("Content-Type").value_or(""))) {
    return cross_site("a browser sent a " +
                      std::string(Trim(req.HeaderValue("Content-Type")->substr(0, 60))) +
                      " body without an Origin");
  }
  return Status::Ok();
}

Status HttpServer::Impl::Authenticate(const RouteEntry& route, HttpRequest& req,
                                      HttpResponse& refusal) const {
  if (route.options.access == Access::kPublic || !options.auth) return Status::Ok();
  auto authz = req.HeaderValue("Authorization");
  std::string_view token;
  if (authz && authz->size() > 7 &&
      EqualsIgnoreCase(std::string_view(*authz).substr(0, 7), "Bearer ")) {
    token = Trim(std::string_view(*authz).substr(7));
  }
  if (token.empty()) {
    refusal.SetHeader("WWW-Authenticate", "Bearer");
    return Status::Unauthenticated("missing bearer token (Authorization: Bearer <token>)");
  }
  auto principal = options.auth->Authenticate(token);
  if (!principal) {
    refusal.SetHeader("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return Status::Unauthenticated("unknown token");
  }
  req.principal = std::move(*principal);
  if (!RoleAllows(req.principal.role, route.options.access)) {
    return Status::PermissionDenied("role " + std::string(RoleName(req.principal.role)) +
                                    " may not " + req.method + " " + req.path);
  }
  return Status::Ok();
}

template <typename Fn>
bool HttpServer::Impl::Guarded(const RouteEntry& route, const std::string& method,
                               HttpResponse& res, Fn&& fn) {
  try {
    fn();
    return true;
  } catch (const std::exception& e) {
    exceptions->Increment();
    log::Error("handler threw", {{"route", route.pattern}, {"method", method}, {"what", e.what()}});
  } catch (...) {
    exceptions->Increment();
    log::Error("handler threw a non-exception", {{"route", route.pattern}});
  }
  res = HttpResponse();
  res.SetError(Status::Internal("internal error while handling " + route.pattern));
  return false;
}

void HttpServer::Impl::Handle(Exchange& x, HttpResponse& res) {
  const RouteEntry& route = Route(x);
  HttpRequest& req = x.request;
  if (auto enc = req.HeaderValue("Content-Encoding"); enc && !req.body.empty()) {
    if (Status s = http_internal::DecodeBody(*enc, BodyLimit(x), &req.body); !s.ok()) {
      res.SetError(s);
      return;
    }
  }
  Guarded(route, req.method, res, [&] { route.handler(req, res); });
  if (!res.deferred) http_internal::CompressIfWorthIt(x, res);
}

bool HttpServer::Impl::Poll(Exchange& x, const HttpResponse::Poll& poll, HttpResponse& res,
                            bool last) {
  bool ready = false;
  if (!Guarded(Route(x), x.request.method, res, [&] { ready = poll(res, last); })) return true;
  if (last && !ready) {
    exceptions->Increment();
    log::Error("a waiting request's last poll gave no answer", {{"route", Route(x).pattern}});
    res = HttpResponse();
    res.SetError(Status::Internal("internal error while handling " + Route(x).pattern));
    return true;
  }
  if (ready) http_internal::CompressIfWorthIt(x, res);
  return ready;
}

bool HttpServer::Impl::Pump(Exchange& x, const HttpResponse::Pump& pump, StreamSink& sink) {
  bool more = false;
  HttpResponse unused;
  return Guarded(Route(x), x.request.method, unused, [&] { more = pump(sink); }) && more;
}

void HttpServer::Impl::Record(const Exchange& x, int status) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - x.started).count();
  const RouteEntry* route = static_cast<const RouteEntry*>(x.route);
  RouteMetrics& m = route ? *route->metrics : unmatched;
  m.latency->Observe(seconds);
  // A status outside 100..599 is counted, and labelled, as its bound.
  const int code = std::clamp(status, RouteMetrics::kFirstCode, RouteMetrics::kLastCode);
  std::atomic<prometheus::Counter*>& slot = m.by_code[code - RouteMetrics::kFirstCode];
  prometheus::Counter* c = slot.load(std::memory_order_acquire);
  if (c == nullptr) {
    std::lock_guard lock(m.mu);
    c = slot.load(std::memory_order_relaxed);
    if (c == nullptr) {
      c = &requests->Add({{"route", route ? route->pattern : "unmatched"},
                          {"method", route ? route->method : "any"},
                          {"code", std::to_string(code)}});
      slot.store(c, std::memory_order_release);
    }
  }
  c->Increment();
  if (route) in_flight->Decrement();
  if (options.access_log == AccessLog::kAll ||
      (options.access_log == AccessLog::kErrors && status >= 400)) {
    log::Info("http", {{"method", x.request.method},
                       {"path", x.request.path},
                       {"status", status},
                       {"ms", seconds * 1000},
                       {"remote", x.request.remote_addr},
                       {"principal", x.request.principal.name}});
  }
}

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {
  if (!options_.metrics) options_.metrics = std::make_shared<prometheus::Registry>();
  auto& reg = *options_.metrics;
  Impl& impl = *impl_;
  impl.requests = &prometheus::BuildCounter()
                       .Name("hive_http_requests_total")
                       .Help("HTTP requests answered, by route pattern, method and status code")
                       .Register(reg);
  impl.latency = &prometheus::BuildHistogram()
                      .Name("hive_http_request_duration_seconds")
                      .Help(
                          "Time from a request's first byte to its answer (to the first byte "
                          "of a stream)")
                      .Register(reg);
  impl.in_flight = &prometheus::BuildGauge()
                        .Name("hive_http_requests_in_flight")
                        .Help("Admitted HTTP requests not answered yet, waiting ones included")
                        .Register(reg)
                        .Add({});
  impl.exceptions = &prometheus::BuildCounter()
                         .Name("hive_http_handler_exceptions_total")
                         .Help("Requests answered 500 by the last-resort exception handler")
                         .Register(reg)
                         .Add({});
  impl.unmatched.latency =
      &impl.latency->Add({{"route", "unmatched"}, {"method", "any"}}, kLatencyBuckets);

  http_internal::TransportMetrics& tm = impl.transport_metrics;
  tm.rejected = &prometheus::BuildCounter()
                     .Name("hive_http_rejected_total")
                     .Help(
                         "Requests refused before a handler ran, by the limit or check they "
                         "broke")
                     .Register(reg);
  tm.refused = &prometheus::BuildCounter()
                    .Name("hive_http_connections_refused_total")
                    .Help("Connections closed at accept, by the limit they were over")
                    .Register(reg);
  tm.accepted = &prometheus::BuildCounter()
                     .Name("hive_http_connections_accepted_total")
                     .Help("Connections accepted")
                     .Register(reg)
                     .Add({});
  tm.idle_closed = &prometheus::BuildCounter()
                        .Name("hive_http_idle_timeouts_total")
                        .Help("Kept-alive connections closed after the idle timeout")
                        .Register(reg)
                        .Add({});
  tm.write_timeouts = &prometheus::BuildCounter()
                           .Name("hive_http_write_timeouts_total")
                           .Help(
                               "Connections closed because the client did not take an answer "
                               "or stream within the write timeout")
                           .Register(reg)
                           .Add({});
  tm.connections = &prometheus::BuildGauge()
                        .Name("hive_http_connections")
                        .Help("Open connections")
                        .Register(reg)
                        .Add({});
  tm.waiting = &prometheus::BuildGauge()
                    .Name("hive_http_waiting_requests")
                    .Help("Requests parked by HttpResponse::Wait (blocking queries)")
                    .Register(reg)
                    .Add({});
  tm.streams = &prometheus::BuildGauge()
                    .Name("hive_http_streams")
                    .Help("Streaming answers in progress (SSE, live tails)")
                    .Register(reg)
                    .Add({});

  Route("GET", "/healthz", {Access::kPublic, 0, /*nonblocking=*/true},
        [](const HttpRequest&, HttpResponse& res) { res.SetJson(R"({"status":"ok"})"); });
  Route("GET", "/readyz", {Access::kPublic},
        [impl = impl_.get()](const HttpRequest&, HttpResponse& res) {
          for (const auto& check : impl->readiness) {
            if (Status s = check(); !s.ok()) {
              res.SetError(Status::Unavailable(s.message()));
              return;
            }
          }
          res.SetJson(R"({"status":"ready"})");
        });
  // Who the caller is, so a UI can offer only what the role allows.
  Route("GET", "/api/v1/whoami", {Access::kRead, 0, /*nonblocking=*/true},
        [](const HttpRequest& req, HttpResponse& res) {
          std::string body = "{\"name\":";
          AppendJsonString(body, req.principal.name);
          body += ",\"role\":";
          AppendJsonString(body, RoleName(req.principal.role));
          body += req.principal.authenticated ? ",\"authenticated\":true"
                                              : ",\"authenticated\":false";
          if (req.principal.scoped()) {
            body += ",\"services\":[";
            for (const std::string& s : *req.principal.services) {
              if (body.back() != '[') body += ',';
              AppendJsonString(body, s);
            }
            body += ']';
          }
          body += '}';
          res.SetJson(std::move(body));
        });
  Route("GET", "/metrics", {Access::kRead},
        [reg = options_.metrics](const HttpRequest&, HttpResponse& res) {
          auto families = reg->Collect();
          for (auto& f : CollectProcessMetrics()) families.push_back(std::move(f));
          res.body = prometheus::TextSerializer().Serialize(families);
          res.content_type = "text/plain; version=0.0.4; charset=utf-8";
        });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Route(std::string_view method, std::string_view pattern, RouteOptions options,
                       HttpHandler handler) {
  for (const auto& r : impl_->routes) {
    if (r->method == method && r->pattern == pattern) {
      throw std::logic_error("HttpServer: route " + std::string(method) + " " +
                             std::string(pattern) + " is registered twice");
    }
  }
  auto route = std::make_unique<RouteEntry>();
  route->method = std::string(method);
  route->pattern = std::string(pattern);
  for (std::string_view part : PathSegments(pattern)) {
    Segment seg;
    if (part.size() > 2 && part.front() == '{' && part.back() == '}') {
      seg.param = true;
      seg.text = std::string(part.substr(1, part.size() - 2));
      if (seg.text.back() == '*') {
        seg.rest = true;
        seg.text.pop_back();
      }
    } else {
      seg.text = std::string(part);
      ++route->literal_count;
    }
    route->segments.push_back(std::move(seg));
  }
  route->options = options;
  route->handler = std::move(handler);
  route->metrics = std::make_unique<RouteMetrics>();
  route->metrics->latency =
      &impl_->latency->Add({{"route", route->pattern}, {"method", route->method}}, kLatencyBuckets);
  impl_->routes.push_back(std::move(route));
}

void HttpServer::AddReadinessCheck(std::function<Status()> check) {
  impl_->readiness.push_back(std::move(check));
}

Status HttpServer::Listen() {
  if (impl_->transport) return Status::Ok();
  auto transport = http_internal::Transport::Bind(options_, impl_.get(), impl_->transport_metrics);
  if (!transport.ok()) return transport.status();
  impl_->transport = std::move(*transport);
  port_ = impl_->transport->port();
  return Status::Ok();
}

Status HttpServer::Start() {
  HIVE_RETURN_IF_ERROR(Listen());
  if (!impl_->started) {
    impl_->started = true;
    impl_->transport->Start();
  }
  return Status::Ok();
}

void HttpServer::Stop() {
  if (impl_->transport) impl_->transport->Stop();
}

void HttpResponse::Wait(WakeSource wake_on, Duration timeout, Poll poll) {
  deferred = std::make_shared<Deferred>();
  deferred->wake_on = std::move(wake_on);
  deferred->timeout = timeout;
  deferred->poll = std::move(poll);
}

void HttpResponse::Stream(WakeSource wake_on, Duration interval, Pump pump) {
  deferred = std::make_shared<Deferred>();
  deferred->wake_on = std::move(wake_on);
  deferred->interval = interval;
  deferred->pump = std::move(pump);
}

bool IsLoopbackHost(std::string_view host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  // 127.0.0.0/8 as an address, not a name that only starts like one
  // ("127.0.0.1.nip.io").
  in_addr v4{};
  return ::inet_pton(AF_INET, std::string(host).c_str(), &v4) == 1 &&
         (ntohl(v4.s_addr) >> 24) == 127;
}

Status ParseHostPort(std::string_view text, std::string* host, int* port) {
  auto bad = [&] {
    return Status::InvalidArgument("bad address '" + std::string(text) +
                                   "': expected host:port, e.g. 127.0.0.1:7070");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view h = text.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return bad();
    h = h.substr(1, h.size() - 2);
  }
  std::string_view p = text.substr(colon + 1);
  int value = 0;
  if (p.empty() || p.size() > 5) return bad();
  for (char c : p) {
    if (c < '0' || c > '9') return bad();
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return bad();
  *host = std::string(h);
  *port = value;
  return Status::Ok();
}

}  // namespace hive
