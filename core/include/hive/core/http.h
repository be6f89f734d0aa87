// The HTTP layer every component mounts its routes on.
//
// HttpServer wraps cpp-httplib (which never appears in this header) and adds
// what every hive endpoint shares: a router with {param} segments, bearer-token
// auth per route, JSON error bodies, a request-body limit that also covers
// chunked and gzip bodies (413), a last-resort handler for exceptions (500,
// counted), an access log, request/latency/error metrics, and the built-in
// routes /metrics, /healthz and /readyz.
//
// Thread model: Serve() runs an accept loop; each connection is handled on a
// worker of a fixed pool (HttpServerOptions::worker_threads). Handlers run on
// those workers concurrently and must be thread-safe. Route() is only allowed
// before Listen().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "hive/core/auth.h"
#include "hive/core/status.h"

namespace prometheus {
class Registry;
}

namespace hive {

// Maps a status code to the HTTP status an API answers with.
int HttpStatusFor(StatusCode code);

// {"error":{"code":"invalid_argument","message":"..."}}
std::string ErrorJson(const Status& status);

using Header = std::pair<std::string, std::string>;

struct HttpRequest {
  std::string method;
  std::string path;  // decoded, without the query string
  std::string body;  // decompressed when sent with Content-Encoding gzip/deflate
  std::string remote_addr;
  std::vector<Header> path_params;
  std::vector<Header> query;    // in order; a key may repeat
  std::vector<Header> headers;  // names as sent; look-ups ignore case
  Principal principal;

  // "" when absent.
  std::string_view PathParam(std::string_view name) const;
  std::optional<std::string> Query(std::string_view name) const;
  // A yes/no query parameter: absent is `absent`; present with no value,
  // "true" or "1" is true; "false" or "0" is false; anything else is
  // InvalidArgument naming the parameter.
  Result<bool> BoolQuery(std::string_view name, bool absent = false) const;
  std::optional<std::string> HeaderValue(std::string_view name) const;
};

// The writer a streaming response (SSE, long tails) writes to. Write returns
// false once the client has gone.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool Write(std::string_view data) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<Header> headers;
  // When set, the body is streamed: the function is called again and again,
  // each call writing what is ready (it may block briefly to wait for more),
  // until it returns false or the client disconnects.
  std::function<bool(StreamSink&)> stream;

  void SetJson(std::string json, int http_status = 200) {
    status = http_status;
    body = std::move(json);
    content_type = "application/json";
  }
  void SetError(const Status& s);
  void SetHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

struct RouteOptions {
  Access access = Access::kRead;
  // 0: the server's default limit.
  size_t max_body_bytes = 0;
};

enum class AccessLog { kNone, kErrors, kAll };

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 7070;  // 0 picks a free port; see HttpServer::port()
  size_t max_body_bytes = 16u << 20;
  int worker_threads = 128;
  // Null: no authentication; every caller is the anonymous admin.
  std::shared_ptr<const TokenAuthenticator> auth;
  // Where request metrics go and what /metrics serves. Null: a private registry.
  std::shared_ptr<prometheus::Registry> metrics;
  AccessLog access_log = AccessLog::kErrors;
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers a handler. `pattern` is a path whose segments may be {name}
  // (one non-empty segment) or, last, {name*} (the rest of the path, may be
  // empty). When several patterns match, the one with most literal segments
  // wins. REQUIRES: before Listen().
  void Route(std::string_view method, std::string_view pattern, RouteOptions options,
             HttpHandler handler);

  // /readyz answers 503 with the check's message until it returns OK.
  // Default: always ready.
  void SetReadinessCheck(std::function<Status()> check);

  // Binds the listening socket. Unavailable when the address is taken.
  Status Listen();
  // The bound port; valid after Listen().
  int port() const { return port_; }
  const std::string& host() const { return options_.host; }

  // Accepts connections until Stop(). REQUIRES: Listen() succeeded.
  void Serve();
  // Listen() and then Serve() on an owned thread.
  Status Start();
  // Stops accepting, waits for in-flight requests, joins the owned thread.
  // Safe to call from any thread, more than once.
  void Stop();

  prometheus::Registry& metrics() { return *options_.metrics; }

 private:
  struct Impl;
  HttpServerOptions options_;
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
  int port_ = 0;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);

// Splits "host:port" / "[v6]:port". InvalidArgument on malformed input.
Status ParseHostPort(std::string_view text, std::string* host, int* port);

}  // namespace hive
