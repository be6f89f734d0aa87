// An event-driven HTTP/1.1 client for the benchmarks: thousands of keep-alive
// connections to one server on one or two threads, as agents in a fleet hold
// them, without a thread per connection. Plain HTTP over IPv4 only; Linux
// (epoll).
//
// It is a measuring instrument that shares the machine with the server under
// test, so its answer path is lean. Each I/O thread runs its own epoll loop;
// a socket is registered once, edge-triggered, and its events go straight to
// its connection (no re-arming, no queue per event). The connection reads
// with one large recv() into a buffer its thread's connections share; a small
// HTTP/1.1 reader takes the status, the framing (Content-Length or chunked)
// and keep-alive from the head where it lies, and skips the body unless asked
// to keep it. A request goes out with one send() when the socket takes it
// (nearly always). The handler of an answer or a stream is an object the
// caller keeps (AnswerHandler, StreamHandler), so nothing is allocated per
// answer.
//
// Threading: AsyncClient is thread-safe. A connection belongs to one I/O
// thread; its callbacks run there, and its methods must be called there too
// (from its own callbacks, or from After, which may be called from any
// thread). One exchange at a time per connection. The client owns its
// connections: they live until it is destroyed (Close() only closes the
// socket), and must not be used after.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hive::bench {

class AsyncConnection;

// An answer as read: views into the connection's buffers (or its thread's),
// valid until the callback that gets it returns or starts another exchange
// on the connection, whichever comes first.
struct AnswerView {
  int status = 0;
  bool keep_alive = true;  // false: the server closes the connection after it
  // The status line and the header lines, CRLF between them, without the
  // empty line that ends the head.
  std::string_view head;
  // The body (chunked transfer coding removed) when the exchange asked to
  // keep it or the status is not 2xx (for an error message); otherwise
  // empty: the body was read and skipped.
  std::string_view body;
  // The value of the first header of that name (any case), or "".
  std::string_view Header(std::string_view name) const;
};

// Receives the end of an exchange. Kept by the caller, it must outlive the
// exchange (in practice: the client). Exactly one of the two is called per
// exchange, on the connection's thread, never after a Close().
class AnswerHandler {
 public:
  virtual void Answered(AsyncConnection& c, const AnswerView& answer) = 0;
  // `error` says what failed (writing, reading, a malformed answer, or the
  // server closing the connection before the end of the answer).
  virtual void Failed(AsyncConnection& c, const std::string& error) = 0;

 protected:
  ~AnswerHandler() = default;
};

// Receives a streaming answer's body (e.g. chunked, as etcd's watch streams
// are). Kept by the caller, it must outlive the stream.
class StreamHandler {
 public:
  // Each piece of the body (chunked transfer coding removed) as it arrives: a
  // view valid during the call. Returns false to close the connection.
  virtual bool Data(AsyncConnection& c, std::string_view piece) = 0;
  // The body ended ("") or the stream failed ("status N" for an answer other
  // than 200, or what failed). Not called after a Close().
  virtual void Ended(AsyncConnection& c, const std::string& error) = 0;

 protected:
  ~StreamHandler() = default;
};

struct HttpAnswer {
  int status = 0;
  bool keep_alive = true;  // false: the server closes the connection after it
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The first header of that name (any case), or "".
  std::string Header(std::string_view name) const;
};

// A whole HTTP/1.1 request as bytes, with the headers cpp-httplib sends
// (Host, Accept, User-Agent; no Accept-Encoding, as agents send none).
std::string HttpRequestText(std::string_view method, std::string_view target, std::string_view host,
                            std::string_view body = {}, std::string_view content_type = {});

class AsyncConnection {
 public:
  // `error` is empty on success.
  using AnswerFn = std::function<void(const std::string& error, HttpAnswer answer)>;
  using EndFn = std::function<void(const std::string& error)>;

  virtual ~AsyncConnection() = default;

  // Sends `request` (a whole HTTP/1.1 request; it need not outlive the call)
  // and reads one whole answer into `handler`, keeping its body only with
  // `keep_body` (or when the status is not 2xx). Nothing is allocated per
  // answer once the connection's buffers have grown to its size.
  virtual void Exchange(std::string_view request, AnswerHandler& handler,
                        bool keep_body = false) = 0;
  // The same with a callback and the answer copied out, headers and body:
  // convenient where answers are few.
  void Exchange(std::string request, AnswerFn done);
  // Sends `request` and hands its answer's body to `handler` as it arrives.
  virtual void Stream(std::string_view request, StreamHandler& handler) = 0;
  // Calls `closed` once the server closes the connection or sends a byte
  // nobody asked for. The next Exchange (or Close) cancels it silently.
  virtual void AwaitClose(EndFn closed) = 0;
  // Runs `fn` on this connection's thread after `delay` (not after a Close()).
  virtual void After(std::chrono::steady_clock::duration delay, std::function<void()> fn) = 0;
  virtual void Close() = 0;
};

class AsyncClient {
 public:
  // Connections to host:port, spread over `threads` I/O threads.
  AsyncClient(const std::string& host, int port, int threads);
  // Stops the threads, then closes and frees every connection.
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  using Ready = std::function<void()>;
  using SetupFn = std::function<void(int i, std::shared_ptr<AsyncConnection> c, Ready ready)>;
  using FailedFn = std::function<void(int i, const std::string& error)>;
  // Opens connections 0..n-1 with at most `window` of them connecting or
  // being set up at once (a burst of connects beyond the server's listen
  // backlog would see SYNs dropped and retried a second later). Each open
  // connection goes to `setup`, which calls `ready()` (once) when its set-up
  // is done, e.g. after its first answer; then the next connect starts. A
  // failed connect goes to `failed` and counts as ready. Returns at once.
  void OpenMany(int n, int window, SetupFn setup, FailedFn failed);

  // "host:port", for the Host header.
  const std::string& authority() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace hive::bench
