#include <httplib.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <mutex>
#include <unordered_map>

#include "hive/core/http.h"
#include "hive/core/log.h"
#include "hive/core/text.h"
#include "process_metrics.h"

namespace hive {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

struct Segment {
  std::string text;
  bool param = false;
  bool rest = false;
};

struct RouteMetrics {
  prometheus::Histogram* latency = nullptr;
  std::mutex mu;
  std::unordered_map<int, prometheus::Counter*> by_code;  // guarded by mu
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

class SinkAdapter final : public StreamSink {
 public:
  explicit SinkAdapter(httplib::DataSink& sink) : sink_(sink) {}
  bool Write(std::string_view data) override {
    if (!sink_.is_writable()) return false;
    return data.empty() || sink_.write(data.data(), data.size());
  }

 private:
  httplib::DataSink& sink_;
};

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
  return Status::InvalidArgument(std::string(name) + " must be true or false, not " + JsonString(*v));
}

std::optional<std::string> HttpRequest::HeaderValue(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

struct HttpServer::Impl {
  httplib::Server server;
  std::vector<std::unique_ptr<RouteEntry>> routes;
  std::function<Status()> readiness;

  // kBound → kServing → kStopped, or kBound → kStopped. httplib closes the
  // listening socket only from inside its accept loop, so Stop() must wait
  // for that loop to run even when Serve() has not reached it yet.
  enum class State { kIdle, kBound, kServing, kStopped };
  std::mutex state_mu;
  State state = State::kIdle;  // guarded by state_mu
  std::atomic<bool> serve_returned{false};
  int listen_fd = -1;  // the bound socket, seen through httplib's socket options hook

  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Gauge* in_flight = nullptr;
  prometheus::Counter* exceptions = nullptr;
  RouteMetrics unmatched;  // 404/405 and requests httplib rejected before routing
};

HttpServer::HttpServer(HttpServerOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>()) {
  if (!options_.metrics) options_.metrics = std::make_shared<prometheus::Registry>();
  auto& reg = *options_.metrics;
  impl_->requests = &prometheus::BuildCounter()
                         .Name("hive_http_requests_total")
                         .Help("HTTP requests served, by route pattern, method and status code")
                         .Register(reg);
  impl_->latency = &prometheus::BuildHistogram()
                        .Name("hive_http_request_duration_seconds")
                        .Help("Time to handle an HTTP request (to the first byte of a stream)")
                        .Register(reg);
  impl_->in_flight = &prometheus::BuildGauge()
                          .Name("hive_http_requests_in_flight")
                          .Help("HTTP requests being handled now, streams included")
                          .Register(reg)
                          .Add({});
  impl_->exceptions = &prometheus::BuildCounter()
                           .Name("hive_http_handler_exceptions_total")
                           .Help("Requests answered 500 by the last-resort exception handler")
                           .Register(reg)
                           .Add({});
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  impl_->unmatched.latency =
      &impl_->latency->Add({{"route", "unmatched"}, {"method", "any"}}, kBuckets);

  Route("GET", "/healthz", {Access::kPublic},
        [](const HttpRequest&, HttpResponse& res) { res.SetJson(R"({"status":"ok"})"); });
  Route("GET", "/readyz", {Access::kPublic},
        [impl = impl_.get()](const HttpRequest&, HttpResponse& res) {
          Status s = impl->readiness ? impl->readiness() : Status::Ok();
          if (s.ok()) {
            res.SetJson(R"({"status":"ready"})");
          } else {
            res.SetError(Status::Unavailable(s.message()));
          }
        });
  // Who the caller is, so a UI can offer only what the role allows.
  Route("GET", "/api/v1/whoami", {Access::kRead}, [](const HttpRequest& req, HttpResponse& res) {
    std::string body = "{\"name\":";
    AppendJsonString(body, req.principal.name);
    body += ",\"role\":";
    AppendJsonString(body, RoleName(req.principal.role));
    body += req.principal.authenticated ? ",\"authenticated\":true}" : ",\"authenticated\":false}";
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
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  route->metrics->latency =
      &impl_->latency->Add({{"route", route->pattern}, {"method", route->method}}, kBuckets);
  impl_->routes.push_back(std::move(route));
}

void HttpServer::SetReadinessCheck(std::function<Status()> check) {
  impl_->readiness = std::move(check);
}

Status HttpServer::Listen() {
  Impl& impl = *impl_;
  const HttpServerOptions& opts = options_;
  size_t max_body = opts.max_body_bytes;
  for (const auto& r : impl.routes) max_body = std::max(max_body, r->options.max_body_bytes);

  impl.server.new_task_queue = [n = opts.worker_threads] {
    return new httplib::ThreadPool(static_cast<size_t>(n));
  };
  impl.server.set_payload_max_length(max_body);
  impl.server.set_keep_alive_max_count(10000);
  // Without it, Nagle's algorithm and delayed ACKs stall every response to a
  // request with a body by ~40 ms.
  impl.server.set_tcp_nodelay(true);
  // httplib's default adds SO_REUSEPORT, which would let a second server bind
  // the same port and silently split the traffic.
  impl.server.set_socket_options([&impl](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    impl.listen_fd = sock;
  });
  impl.server.set_read_timeout(30, 0);
  impl.server.set_write_timeout(30, 0);

  auto count = [&impl](RouteMetrics& m, const std::string& route, const std::string& method,
                       int code, double seconds) {
    m.latency->Observe(seconds);
    prometheus::Counter* c;
    {
      std::lock_guard lock(m.mu);
      auto it = m.by_code.find(code);
      if (it == m.by_code.end()) {
        c = &impl.requests->Add(
            {{"route", route}, {"method", method}, {"code", std::to_string(code)}});
        m.by_code.emplace(code, c);
      } else {
        c = it->second;
      }
    }
    c->Increment();
  };

  auto dispatch = [this, &impl, count](const httplib::Request& hreq, httplib::Response& hres,
                                       const httplib::ContentReader* reader) {
    const auto start = std::chrono::steady_clock::now();
    impl.in_flight->Increment();
    HttpRequest req;
    req.method = hreq.method == "HEAD" ? "GET" : hreq.method;
    req.path = hreq.path;
    req.remote_addr = hreq.remote_addr;
    req.headers.reserve(hreq.headers.size());
    for (const auto& [k, v] : hreq.headers) req.headers.emplace_back(k, v);
    for (const auto& [k, v] : hreq.params) req.query.emplace_back(k, v);

    HttpResponse res;
    RouteEntry* route = nullptr;
    bool other_method = false;
    {
      auto parts = PathSegments(req.path);
      std::vector<Header> params;
      for (const auto& r : impl.routes) {
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

    auto respond = [&] {
      if (route == nullptr) {
        if (other_method) {
          res.SetError(
              Status::InvalidArgument("method " + req.method + " is not allowed on " + req.path));
          res.status = 405;
        } else {
          res.SetError(Status::NotFound("no route for " + req.method + " " + req.path));
        }
        return;
      }
      // Authentication and authorization.
      if (route->options.access != Access::kPublic && options_.auth) {
        auto authz = req.HeaderValue("Authorization");
        std::string_view token;
        if (authz && authz->size() > 7 &&
            EqualsIgnoreCase(std::string_view(*authz).substr(0, 7), "Bearer ")) {
          token = Trim(std::string_view(*authz).substr(7));
        }
        if (token.empty()) {
          res.SetError(
              Status::Unauthenticated("missing bearer token (Authorization: Bearer <token>)"));
          res.SetHeader("WWW-Authenticate", "Bearer");
          return;
        }
        auto principal = options_.auth->Authenticate(token);
        if (!principal) {
          res.SetError(Status::Unauthenticated("unknown token"));
          res.SetHeader("WWW-Authenticate", "Bearer error=\"invalid_token\"");
          return;
        }
        req.principal = std::move(*principal);
        if (!RoleAllows(req.principal.role, route->options.access)) {
          res.SetError(Status::PermissionDenied("role " +
                                                std::string(RoleName(req.principal.role)) +
                                                " may not " + req.method + " " + req.path));
          return;
        }
      }
      // The body, with the route's limit enforced as it streams in.
      if (reader != nullptr) {
        if (auto enc = req.HeaderValue("Content-Encoding")) {
          std::string_view e = Trim(*enc);
          if (!e.empty() && e != "gzip" && e != "deflate" && e != "identity" && e != "br") {
            res.SetError(Status::InvalidArgument("unsupported Content-Encoding '" + std::string(e) +
                                                 "' (use gzip)"));
            res.status = 415;
            return;
          }
        }
        const size_t limit =
            route->options.max_body_bytes ? route->options.max_body_bytes : options_.max_body_bytes;
        bool too_large = false;
        bool read_ok = (*reader)([&](const char* data, size_t len) {
          if (req.body.size() + len > limit) {
            too_large = true;
            return false;
          }
          req.body.append(data, len);
          return true;
        });
        // httplib refuses a Content-Length over the server-wide limit itself
        // (status 413) without calling the receiver.
        if (too_large || (!read_ok && hres.status == 413)) {
          res.SetError(Status::TooLarge("request body is over the limit of " +
                                        std::to_string(limit) + " bytes"));
          res.SetHeader("Connection", "close");
          return;
        }
        if (!read_ok) {
          res.SetError(
              Status::InvalidArgument("could not read the request body (bad encoding or framing)"));
          res.SetHeader("Connection", "close");
          return;
        }
      }
      try {
        route->handler(req, res);
      } catch (const std::exception& e) {
        impl.exceptions->Increment();
        log::Error("handler threw",
                   {{"route", route->pattern}, {"method", req.method}, {"what", e.what()}});
        res = HttpResponse();
        res.SetError(Status::Internal("internal error while handling " + route->pattern));
      } catch (...) {
        impl.exceptions->Increment();
        log::Error("handler threw a non-exception", {{"route", route->pattern}});
        res = HttpResponse();
        res.SetError(Status::Internal("internal error while handling " + route->pattern));
      }
    };
    respond();
    // A body refused before it was read (404, 401, 403, 415) is still on the
    // wire; closing is cheaper and safer than draining it, and keeps the
    // next request on this connection from being parsed out of it.
    if (reader != nullptr && req.body.empty() && res.status >= 400 &&
        (hreq.has_header("Content-Length") || hreq.has_header("Transfer-Encoding"))) {
      res.SetHeader("Connection", "close");
    }

    hres.status = res.status;
    for (auto& [k, v] : res.headers) hres.set_header(k, v);
    if (res.stream) {
      auto stream = std::make_shared<std::function<bool(StreamSink&)>>(std::move(res.stream));
      auto* gauge = impl.in_flight;
      gauge->Increment();  // held until the stream ends
      hres.set_chunked_content_provider(
          res.content_type,
          [stream](size_t, httplib::DataSink& sink) {
            SinkAdapter adapter(sink);
            if (!(*stream)(adapter)) sink.done();
            return true;
          },
          [gauge](bool) { gauge->Decrement(); });
    } else {
      hres.set_content(std::move(res.body), res.content_type);
    }

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (route) {
      count(*route->metrics, route->pattern, route->method, res.status, seconds);
    } else {
      count(impl.unmatched, "unmatched", "any", res.status, seconds);
    }
    impl.in_flight->Decrement();
    if (options_.access_log == AccessLog::kAll ||
        (options_.access_log == AccessLog::kErrors && res.status >= 400)) {
      log::Info("http", {{"method", req.method},
                         {"path", req.path},
                         {"status", res.status},
                         {"ms", seconds * 1000},
                         {"remote", req.remote_addr},
                         {"principal", req.principal.name}});
    }
  };

  auto plain = [dispatch](const httplib::Request& q, httplib::Response& r) {
    dispatch(q, r, nullptr);
  };
  auto with_body = [dispatch](const httplib::Request& q, httplib::Response& r,
                              const httplib::ContentReader& reader) { dispatch(q, r, &reader); };
  impl.server.Get(".*", plain);
  impl.server.Options(".*", plain);
  impl.server.Post(".*", with_body);
  impl.server.Put(".*", with_body);
  impl.server.Patch(".*", with_body);
  impl.server.Delete(".*", with_body);

  // Requests httplib rejects before routing (over-long bodies by
  // Content-Length, malformed request lines) still get a JSON error body.
  impl.server.set_error_handler([&impl, count](const httplib::Request& req,
                                               httplib::Response& res) {
    if (!res.body.empty()) return;
    Status s = res.status == 413   ? Status::TooLarge("request body is over the server's limit")
               : res.status == 404 ? Status::NotFound("no route for " + req.method + " " + req.path)
                                   : Status::InvalidArgument("bad request");
    res.set_content(ErrorJson(s), "application/json");
    if (res.status == 413 || res.status == 400)
      count(impl.unmatched, "unmatched", "any", res.status, 0);
  });
  impl.server.set_exception_handler(
      [&impl](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        impl.exceptions->Increment();
        res.status = 500;
        res.set_content(ErrorJson(Status::Internal("internal error")), "application/json");
      });

  const int bound = opts.port == 0
                        ? impl.server.bind_to_any_port(opts.host)
                        : (impl.server.bind_to_port(opts.host, opts.port) ? opts.port : -1);
  if (bound <= 0) {
    return Status::Unavailable("cannot listen on " + opts.host + ":" + std::to_string(opts.port) +
                               " (address in use or not available)");
  }
  port_ = bound;
  // httplib listens with a backlog of 5, which drops connections when
  // hundreds of agents reconnect at once; listen() again raises it.
  if (impl.listen_fd >= 0) ::listen(impl.listen_fd, SOMAXCONN);
  std::lock_guard lock(impl.state_mu);
  impl.state = Impl::State::kBound;
  return Status::Ok();
}

void HttpServer::Serve() {
  {
    std::lock_guard lock(impl_->state_mu);
    if (impl_->state != Impl::State::kBound) return;
    impl_->state = Impl::State::kServing;
  }
  impl_->server.listen_after_bind();
  impl_->serve_returned = true;
}

Status HttpServer::Start() {
  HIVE_RETURN_IF_ERROR(Listen());
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void HttpServer::Stop() {
  Impl::State previous;
  {
    std::lock_guard lock(impl_->state_mu);
    previous = impl_->state;
    impl_->state = Impl::State::kStopped;
  }
  auto stop_accept_loop = [this] {
    while (!impl_->server.is_running() && !impl_->serve_returned) std::this_thread::yield();
    impl_->server.stop();
  };
  if (previous == Impl::State::kBound) {
    // Bound but never served: run the accept loop only so that it closes the socket.
    std::thread closer([this] {
      impl_->server.listen_after_bind();
      impl_->serve_returned = true;
    });
    stop_accept_loop();
    closer.join();
  } else if (previous == Impl::State::kServing) {
    stop_accept_loop();
  }
  if (thread_.joinable()) thread_.join();
}

bool IsLoopbackHost(std::string_view host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
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
