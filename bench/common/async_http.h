// An event-driven HTTP/1.1 client for the benchmarks: thousands of keep-alive
// connections to one server on one or two threads, as agents in a fleet hold
// them, without a thread per connection (Boost.Asio and Beast stay inside
// async_http.cpp). Plain HTTP only.
//
// Threading: AsyncClient is thread-safe. A connection belongs to one I/O
// thread; its callbacks run there, and its methods must be called there too
// (from its own callbacks, or from After). One exchange at a time per
// connection. Connections must not be kept past their client's lifetime.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hive::bench {

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
  using DataFn = std::function<bool(std::string_view piece)>;
  using EndFn = std::function<void(const std::string& error)>;

  virtual ~AsyncConnection() = default;
  // Sends `request` and reads one whole answer.
  virtual void Exchange(std::string request, AnswerFn done) = 0;
  // Sends `request` and reads an answer whose body streams (e.g. chunked):
  // `on_data` gets each piece of the body as it arrives and returns false to
  // close the connection; `on_end` follows when the body ended ("") or the
  // connection failed. Neither is called after a Close().
  virtual void Stream(std::string request, DataFn on_data, EndFn on_end) = 0;
  // Calls `closed` once the server closes the connection or sends a byte
  // nobody asked for. The next Exchange (or Close) cancels it silently.
  virtual void AwaitClose(EndFn closed) = 0;
  // Runs `fn` on this connection's thread after `delay`.
  virtual void After(std::chrono::steady_clock::duration delay, std::function<void()> fn) = 0;
  virtual void Close() = 0;
};

class AsyncClient {
 public:
  // Connections to host:port, spread over `threads` I/O threads.
  AsyncClient(const std::string& host, int port, int threads);
  // Stops the threads and closes every connection.
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
