// The connection side of HttpServer (internal to core): accepting, TLS,
// reading request heads and bodies within HttpLimits, writing answers,
// keep-alive, and parking requests that wait or stream. Boost.Asio and
// Boost.Beast stay inside http_transport.cpp.
//
// What a request means — routing, the browser and token checks, handlers,
// metrics — is the RequestPolicy's (http_server.cpp). The transport calls it
// on its I/O threads (Admit, Record, and Handle, Poll and Pump for
// nonblocking routes) and on the worker pool (Handle, Poll and Pump for the
// others).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "hive/core/http.h"

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace hive::http_internal {

// One request on a connection, from its head to its answer.
struct Exchange {
  HttpRequest request;
  bool head_only = false;  // a HEAD request: answer without the body
  bool accepts_gzip = false;
  std::chrono::steady_clock::time_point started;
  const void* route = nullptr;  // the policy's, opaque here
};

// Why a request or connection was refused before a handler ran; the label of
// hive_http_rejected_total.
enum class Rejection {
  kRequestLineTooLong,  // 414
  kHeaderTooLarge,      // 431: bytes
  kTooManyHeaders,      // 431: count
  kHeadTimeout,         // 408
  kBodyTimeout,         // 408
  kBodyTooLarge,        // 413
  kBadRequest,          // 400: unparsable head, framing or encoding
  kTooManyWaits,        // 429
  kTlsHandshake,        // the TLS handshake failed or timed out
};

class RequestPolicy {
 public:
  virtual ~RequestPolicy() = default;

  // Checks a parsed head before any body byte is read: route, Host/Origin
  // (without tokens) and the token. Fills `x.route`, the request's path
  // parameters and principal, and returns true; or fills `refusal` and
  // returns false.
  virtual bool Admit(Exchange& x, HttpResponse& refusal) = 0;
  // The body limit and the nonblocking flag of an admitted route.
  virtual size_t BodyLimit(const Exchange& x) const = 0;
  virtual bool Nonblocking(const Exchange& x) const = 0;
  // Decodes the body (Content-Encoding) and runs the route's handler under
  // the last-resort guard; an answer that is not deferred is Finish()ed.
  virtual void Handle(Exchange& x, HttpResponse& res) = 0;
  // A Wait's poll and a stream's pump, under the same guard; a ready poll's
  // answer is Finish()ed.
  virtual bool Poll(Exchange& x, const HttpResponse::Poll& poll, HttpResponse& res, bool last) = 0;
  virtual bool Pump(Exchange& x, const HttpResponse::Pump& pump, StreamSink& sink) = 0;
  // Counts and logs an answered request.
  virtual void Record(const Exchange& x, int status) = 0;
};

// Compresses a final answer's body when the client takes gzip and it pays
// (http_wire.cpp).
void CompressIfWorthIt(const Exchange& x, HttpResponse& res);

struct TransportMetrics {
  prometheus::Family<prometheus::Counter>* rejected = nullptr;  // {reason}
  prometheus::Family<prometheus::Counter>* refused = nullptr;   // connections, {reason}
  prometheus::Counter* accepted = nullptr;
  prometheus::Counter* idle_closed = nullptr;
  prometheus::Counter* write_timeouts = nullptr;
  prometheus::Gauge* connections = nullptr;
  prometheus::Gauge* waiting = nullptr;
  prometheus::Gauge* streams = nullptr;
};

std::string_view RejectionName(Rejection r);

class Transport {
 public:
  // Loads the TLS files and binds. `policy` must outlive the Transport.
  static Result<std::unique_ptr<Transport>> Bind(const HttpServerOptions& options,
                                                 RequestPolicy* policy,
                                                 const TransportMetrics& metrics);
  virtual ~Transport() = default;
  virtual int port() const = 0;
  // Starts the I/O threads and the worker pool.
  virtual void Start() = 0;
  // See HttpServer::Stop(). Idempotent.
  virtual void Stop() = 0;
};

}  // namespace hive::http_internal
