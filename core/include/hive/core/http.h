// The HTTP layer every component mounts its routes on.
//
// HttpServer is an event-driven HTTP/1.1 server (Boost.Asio and Boost.Beast,
// neither of which appears in this header) with what every hive endpoint
// shares: a router with {param} segments, bearer-token auth per route, JSON
// error bodies, a request-body limit that also covers chunked and gzip bodies
// (413), a last-resort handler for exceptions (500, counted), an access log,
// request/latency/error metrics, and the built-in routes /metrics, /healthz,
// /readyz and /api/v1/whoami.
//
// Connections: a few I/O threads (HttpServerOptions::io_threads) read and
// write every connection; an idle or slow connection holds a file descriptor
// and a few hundred bytes, never a thread. The limits of HttpLimits hold before
// any token is checked. Without an authenticator the server also refuses what
// a browser page of another site could send (see HttpServerOptions::
// allowed_hosts). Optional TLS, with client certificates, comes from
// TlsOptions.
//
// Handlers: a route's handler runs on a bounded pool of worker threads
// (HttpServerOptions::worker_threads), or on the I/O thread itself when the
// route says it never blocks (RouteOptions::nonblocking). A handler that has
// to wait for a change does not block: it answers with HttpResponse::Wait()
// (blocking queries) or HttpResponse::Stream() (SSE, live tails), and the
// request is parked until a Notifier wakes it.
//
// Thread model: handlers run concurrently and must be thread-safe. Route()
// and AddReadinessCheck() are only allowed before Listen().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "hive/core/auth.h"
#include "hive/core/clock.h"
#include "hive/core/notifier.h"
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

// The writer a streaming response writes to. Write never blocks: it queues
// the data for the connection's I/O thread, and returns false once the client
// has gone or the server is stopping.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  virtual bool Write(std::string_view data) = 0;
};

// An answer body many requests share — the blocking queries one change
// wakes — rendered once and gzip-compressed at most once. Thread-safe.
class SharedBody {
 public:
  explicit SharedBody(std::string bytes) : bytes_(std::move(bytes)) {}
  const std::string& bytes() const { return bytes_; }
  // The gzip of bytes(), made by the first caller; empty when it could not
  // be made.
  const std::string& gzipped() const;

 private:
  std::string bytes_;
  mutable std::once_flag gzip_once_;
  mutable std::string gzipped_;
};

struct HttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<Header> headers;
  // When set, sent instead of `body` (which stays empty).
  std::shared_ptr<const SharedBody> shared_body;

  // Fills the response later from `poll(res, last)`.
  using Poll = std::function<bool(HttpResponse& res, bool last)>;
  // Writes what is ready of a streamed body; false ends the stream.
  using Pump = std::function<bool(StreamSink& sink)>;
  struct Deferred {
    WakeSource wake_on;   // may be null: no wake-ups but the clock
    Duration timeout{};   // Wait: when poll runs with last = true
    Duration interval{};  // Stream: the longest time between two pumps
    Poll poll;            // set for Wait
    Pump pump;            // set for Stream
  };
  // Set by Wait() or Stream(); read by the server.
  std::shared_ptr<Deferred> deferred;

  void SetJson(std::string json, int http_status = 200) {
    status = http_status;
    body = std::move(json);
    content_type = "application/json";
  }
  void SetError(const Status& s);
  void SetSharedJson(std::shared_ptr<const SharedBody> json, int http_status = 200) {
    status = http_status;
    body.clear();
    shared_body = std::move(json);
    content_type = "application/json";
  }
  void SetHeader(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
  }

  // Answers later, holding no thread while it waits (a blocking query).
  // The server subscribes to `wake_on`, then runs `poll` on a worker: at
  // once, after each wake-up, and a last time with `last` true when `timeout`
  // passes or the server stops. `poll` fills `res` and returns true once the
  // answer is ready; with `last` true it must fill it. It never blocks. The
  // request it came from stays valid until it has answered.
  void Wait(WakeSource wake_on, Duration timeout, Poll poll);

  // Streams the body (SSE, live tails) with chunked encoding, holding no
  // thread between writes. `status`, `content_type` and `headers` are sent
  // first. The server subscribes to `wake_on`, then runs `pump` on a worker:
  // at once, after each wake-up, at least every `interval` (for keep-alive
  // comments), and again as soon as what a pump wrote has been sent. `pump`
  // writes what is ready without blocking and returns false to end the
  // stream. It is not called while the client is behind in reading.
  void Stream(WakeSource wake_on, Duration interval, Pump pump);
};

using HttpHandler = std::function<void(const HttpRequest&, HttpResponse&)>;

// The shape of the components' handlers: one answers through `res` and
// returns OK, or returns what went wrong without touching the body, and
// AnswerErrors turns that into the JSON error body with the status's HTTP
// code (HttpResponse::SetError; headers already set, e.g. an index, stay).
using StatusHandler = std::function<Status(const HttpRequest&, HttpResponse&)>;
HttpHandler AnswerErrors(StatusHandler handler);

struct RouteOptions {
  Access access = Access::kRead;
  // 0: the server's default limit.
  size_t max_body_bytes = 0;
  // The handler never blocks (memory only: no disk, no network, no lock held
  // for long): it runs on the I/O thread and skips the hand-off to a worker,
  // and so do the polls of its Wait and the pumps of its Stream.
  bool nonblocking = false;
};

enum class AccessLog { kNone, kErrors, kAll };

// Limits that hold before any token is checked; each refusal is counted in
// hive_http_rejected_total{reason} or hive_http_connections_refused_total.
struct HttpLimits {
  // The request line (method, target, version): 414 above it.
  size_t max_request_line_bytes = 16u << 10;
  // The header fields after the request line, in bytes and in number: 431.
  size_t max_header_bytes = 64u << 10;
  size_t max_header_count = 100;
  // From the first byte of a request (from the accept for the first request
  // of a connection, including the TLS handshake) to the end of its head: 408.
  Duration head_timeout = std::chrono::seconds(10);
  // For the whole body, once the head is read: 408.
  Duration body_timeout = std::chrono::seconds(60);
  // A kept-alive connection with no request in progress is closed after this.
  Duration idle_timeout = std::chrono::seconds(60);
  // A response (or a stream's data) the client does not take: the connection
  // is closed when no byte of it was taken for this long.
  Duration write_timeout = std::chrono::seconds(30);
  // Open connections in all and per client address; past them a new
  // connection gets a 503 and is closed while the others are served.
  size_t max_connections = 10000;
  size_t max_connections_per_client = 512;
  // Blocking queries and streams waiting at once per token (per client
  // address for callers without a token): 429 past it.
  size_t max_waits_per_token = 4096;
};

struct TlsOptions {
  std::string cert_file;  // PEM: the server's certificate, then its chain
  std::string key_file;   // PEM: its private key
  // PEM CA bundle. When set, a client must present a certificate it signed.
  std::string client_ca_file;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  int port = 7070;  // 0 picks a free port; see HttpServer::port()
  size_t max_body_bytes = 16u << 20;
  // Threads that read and write connections.
  int io_threads = 1;
  // Threads that run handlers which may block (disk, group commit).
  int worker_threads = 8;
  HttpLimits limits;
  // Empty cert_file: plain HTTP.
  TlsOptions tls;
  // Null: no authentication; every caller is the anonymous admin. The server
  // then answers only requests whose Host is an IP address, localhost (or
  // *.localhost), the listen host or one of `allowed_hosts` (host or
  // host:port) — a DNS rebinding page comes with a name of its own — and refuses
  // a state-changing request that a browser sent from another origin (an
  // Origin or Sec-Fetch-Site naming another site, or a text/plain or form
  // body from a browser without its own Origin): 403 either way.
  std::shared_ptr<const TokenAuthenticator> auth;
  std::vector<std::string> allowed_hosts;
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
  // wins. A second route with the same method and pattern (the built-in ones
  // included) is a programming error: std::logic_error, at registration.
  // REQUIRES: before Listen().
  void Route(std::string_view method, std::string_view pattern, RouteOptions options,
             HttpHandler handler);

  // Adds a check to /readyz, which answers 200 while every check returns OK
  // and 503 with the first failing check's message otherwise (no checks:
  // always ready). Checks run on each /readyz request: keep them cheap.
  // REQUIRES: before Listen().
  void AddReadinessCheck(std::function<Status()> check);

  // Loads the TLS files and binds the listening socket. Unavailable when the
  // address is taken; InvalidArgument for unusable TLS files.
  Status Listen();
  // The bound port; valid after Listen().
  int port() const { return port_; }
  const std::string& host() const { return options_.host; }

  // Listen() if needed, then serves on the I/O threads until Stop().
  Status Start();
  // Stops accepting, answers every waiting request (its last poll), ends the
  // streams, lets in-flight requests finish (at most a few seconds), closes
  // idle connections and joins every thread. Safe to call from any thread
  // but a handler's, more than once.
  void Stop();

  prometheus::Registry& metrics() { return *options_.metrics; }

 private:
  struct Impl;
  HttpServerOptions options_;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool IsLoopbackHost(std::string_view host);

// Splits "host:port" / "[v6]:port". InvalidArgument on malformed input.
Status ParseHostPort(std::string_view text, std::string* host, int* port);

}  // namespace hive
