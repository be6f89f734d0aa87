#include "http_transport.h"

#include <errno.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "hive/core/log.h"
#include "hive/core/text.h"
#include "http_request_parser.h"
#include "http_wire.h"

namespace hive::http_internal {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using TlsStream = asio::ssl::stream<tcp::socket>;

// How long a connection that was answered before its request was read keeps
// reading (and dropping) what the client still sends, so that a client that
// writes its whole body before it reads gets the answer rather than a reset.
constexpr auto kLingerTime = std::chrono::seconds(5);
// How long Stop() lets in-flight requests finish before it closes them.
constexpr auto kDrainTime = std::chrono::seconds(5);
// The status nginx made usual for a request whose client left before the
// answer.
constexpr int kClientClosedRequest = 499;
// What an idle TLS connection reads for the first bytes of its next request.
constexpr size_t kTlsIdleReadBytes = 1024;
// The read buffer an idle connection keeps at most (usually 512 bytes, what
// its last head took); one a large body grew is given back.
constexpr size_t kKeptBufferBytes = 4096;
// The most a body is read in at once.
constexpr size_t kBodyReadBytes = 64 * 1024;
// What one pump may write before the stream is ended as runaway.
constexpr size_t kMaxPumpBytes = 16u << 20;

bool IsDisconnect(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == http::error::partial_message ||
         ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe || ec == asio::error::operation_aborted ||
         ec == asio::error::bad_descriptor || ec == asio::ssl::error::stream_truncated;
}

// The collected writes of one pump; handed to the connection's loop after
// the pump returns.
class BufferSink final : public StreamSink {
 public:
  explicit BufferSink(const std::atomic<bool>& closed) : closed_(closed) {}
  bool Write(std::string_view data) override {
    if (closed_.load(std::memory_order_acquire) || data_.size() + data.size() > kMaxPumpBytes) {
      return false;
    }
    data_.append(data);
    return true;
  }
  std::string Take() { return std::move(data_); }

 private:
  const std::atomic<bool>& closed_;
  std::string data_;
};

class TransportImpl;

class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  // Server stop: finish what is in flight, answer what waits, end streams.
  virtual void PostShutdown() = 0;
  // After the drain time: close at once.
  virtual void PostAbort() = 0;
  // A Notifier woke its waiting request or stream. On its loop.
  virtual void OnWake() = 0;
};

// An I/O thread's event loop, and the sessions on it that a change woke.
// One change often wakes thousands of waiting requests at once: they are
// queued here and run by one posted handler, so the loop answers them all
// before it reads the next requests, and pays one post per loop, not one per
// request.
class EventLoop {
 public:
  EventLoop() : context_(1) {}  // one thread runs it
  asio::io_context& context() { return context_; }

  // From any thread (a Notifier's listener): cheap, never blocks for long.
  void Wake(std::weak_ptr<SessionBase> session) {
    bool post;
    {
      std::lock_guard lock(mu_);
      woken_.push_back(std::move(session));
      post = !drain_posted_;
      drain_posted_ = true;
    }
    if (post) asio::post(context_, [this] { Drain(); });
  }

 private:
  void Drain() {
    std::vector<std::weak_ptr<SessionBase>> woken;
    {
      std::lock_guard lock(mu_);
      woken.swap(woken_);
      drain_posted_ = false;
    }
    for (auto& weak : woken) {
      if (auto session = weak.lock()) session->OnWake();
    }
  }

  asio::io_context context_;
  std::mutex mu_;
  std::vector<std::weak_ptr<SessionBase>> woken_;  // guarded by mu_
  bool drain_posted_ = false;                      // guarded by mu_
};

std::vector<std::unique_ptr<EventLoop>> MakeLoops(int threads) {
  std::vector<std::unique_ptr<EventLoop>> loops;
  for (int i = 0; i < std::max(1, threads); ++i) loops.push_back(std::make_unique<EventLoop>());
  return loops;
}

class TransportImpl final : public Transport {
 public:
  TransportImpl(const HttpServerOptions& options, RequestPolicy* policy,
                const TransportMetrics& metrics)
      : options_(options),
        policy_(*policy),
        metrics_(metrics),
        loops_(MakeLoops(options.io_threads)),
        acceptor_(loops_.front()->context()),
        retry_timer_(loops_.front()->context()) {}

  ~TransportImpl() override { Stop(); }

  Status Bind();
  int port() const override { return port_; }
  void Start() override;
  void Stop() override;

  const HttpLimits& limits() const { return options_.limits; }
  RequestPolicy& policy() { return policy_; }
  asio::thread_pool& pool() { return *pool_; }
  const TransportMetrics& metrics() const { return metrics_; }
  asio::ssl::context* tls() { return tls_ ? &*tls_ : nullptr; }

  void Reject(Rejection r) {
    metrics_.rejected->Add({{"reason", std::string(RejectionName(r))}}).Increment();
  }

  // The count of waiting requests and streams of `key` (a token or a client
  // address), shared by every session that waits for it. A session keeps
  // the pointer, so counting a wait takes no lock.
  std::shared_ptr<std::atomic<size_t>> WaitCounter(const std::string& key) {
    std::lock_guard lock(mu_);
    std::weak_ptr<std::atomic<size_t>>& slot = wait_counters_[key];
    std::shared_ptr<std::atomic<size_t>> counter = slot.lock();
    if (counter == nullptr) {
      counter = std::make_shared<std::atomic<size_t>>(0);
      slot = counter;
      // Keys nobody counts against any more go once they are half the map.
      if (wait_counters_.size() > 2 * live_wait_keys_ + 64) {
        std::erase_if(wait_counters_, [](const auto& entry) { return entry.second.expired(); });
        live_wait_keys_ = wait_counters_.size();
      }
    }
    return counter;
  }

  // A session is gone: its connection no longer counts.
  void Forget(SessionBase* session, const std::string& client) {
    std::lock_guard lock(mu_);
    sessions_.erase(session);
    if (auto it = per_client_.find(client); it != per_client_.end() && --it->second == 0) {
      per_client_.erase(it);
    }
    metrics_.connections->Decrement();
    if (sessions_.empty()) drained_.notify_all();
  }

 private:
  void Accept();
  void OnAccept(const error_code& ec, tcp::socket socket);
  // Refuses a connection over a limit: a 503 if it fits the socket buffer now
  // (plain HTTP only), then close.
  void Refuse(tcp::socket& socket, const char* reason);
  std::vector<std::shared_ptr<SessionBase>> LiveSessions();
  bool WaitDrained(std::chrono::steady_clock::duration within);

  const HttpServerOptions options_;
  RequestPolicy& policy_;
  const TransportMetrics metrics_;
  int port_ = 0;

  std::mutex mu_;
  std::condition_variable drained_;
  std::unordered_map<SessionBase*, std::weak_ptr<SessionBase>> sessions_;  // guarded by mu_
  std::unordered_map<std::string, size_t> per_client_;                     // guarded by mu_
  std::unordered_map<std::string, std::weak_ptr<std::atomic<size_t>>> wait_counters_;  // mu_
  size_t live_wait_keys_ = 0;                                                          // mu_
  bool stopping_ = false;  // guarded by mu_

  std::optional<asio::ssl::context> tls_;
  // Declared after what sessions touch when they are destroyed: the event
  // loops and the pool are torn down first, with any session they hold.
  // One io_context per I/O thread (Envoy's model): a connection lives on one
  // loop, so its handlers never run concurrently and need no strand, and
  // what a loop posts to itself takes no lock.
  std::vector<std::unique_ptr<EventLoop>> loops_;
  tcp::acceptor acceptor_;              // on loops_[0]
  asio::steady_timer retry_timer_;      // on loops_[0]
  size_t next_loop_ = 0;                // the loop of the next connection; on loops_[0]
  EventLoop* accepting_for_ = nullptr;  // the loop of the connection being accepted
  std::unique_ptr<asio::thread_pool> pool_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::once_flag stopped_;
};

// One connection, on one event loop. Every member is touched only on that
// loop's thread,
// except `x_` and `deferred_`, which a worker reads while a handler, poll or
// pump it was given runs (the loop leaves them alone meanwhile), and
// `closed_`.
template <class Stream>
class Session final : public SessionBase {
 public:
  static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

  // `socket` belongs to the session's event loop.
  Session(TransportImpl& transport, EventLoop& loop, tcp::socket socket, std::string client)
      : transport_(transport),
        loop_(loop),
        limits_(transport.limits()),
        stream_(MakeStream(std::move(socket), transport)),
        timer_(Raw().get_executor()),
        tick_(Raw().get_executor()),
        client_(std::move(client)) {}

  ~Session() override {
    subscription_.Reset();
    if (wait_counted_) wait_counter_->fetch_sub(1, std::memory_order_relaxed);
    transport_.Forget(this, client_);
  }

  void Start() {
    asio::dispatch(Executor(), [self = Self()] {
      error_code ec;
      self->Raw().set_option(tcp::no_delay(true), ec);
      self->SetDeadline(self->limits_.head_timeout);
      if constexpr (kTls) {
        self->phase_ = Phase::kHandshake;
        self->stream_.async_handshake(asio::ssl::stream_base::server,
                                      [self](const error_code& e) { self->OnHandshake(e); });
      } else {
        self->ReadHead(/*first=*/true);
      }
    });
  }

  void PostShutdown() override {
    asio::post(Executor(), [self = Self()] { self->OnShutdown(); });
  }
  void PostAbort() override {
    asio::post(Executor(), [self = Self()] { self->Close(); });
  }

 private:
  enum class Phase {
    kHandshake,  // TLS handshake (within the first head's deadline)
    kIdle,       // kept alive, waiting for a request's first byte
    kHead,       // reading a request head
    kBody,       // reading its body
    kHandling,   // a handler runs
    kWaiting,    // parked on HttpResponse::Wait
    kStreaming,  // parked on HttpResponse::Stream
    kWriting,    // writing an answer
    kLinger,     // answered with close; dropping what the client still sends
    kClosed,
  };

  static Stream MakeStream(tcp::socket socket, TransportImpl& transport) {
    if constexpr (kTls) {
      return Stream(std::move(socket), *transport.tls());
    } else {
      return socket;
    }
  }

  // The executor of the session's event loop: every handler runs there.
  auto Executor() { return Raw().get_executor(); }
  std::shared_ptr<Session> Self() { return std::static_pointer_cast<Session>(shared_from_this()); }
  // The TCP socket (under TLS, the layer below it).
  tcp::socket& Raw() {
    if constexpr (kTls) {
      return stream_.next_layer();
    } else {
      return stream_;
    }
  }

  // One deadline at a time, on one timer. Moving the deadline later only
  // records it (the timer, when it fires early, waits again for the rest);
  // only an earlier deadline re-arms the timer at once. Most phases move it
  // later, so a request costs few timer operations.
  void SetDeadline(Duration d) {
    deadline_ = std::chrono::steady_clock::now() + d;
    if (!timer_armed_ || armed_for_ > deadline_) ArmTimer(deadline_);
  }
  void ClearDeadline() { deadline_ = std::chrono::steady_clock::time_point::max(); }
  void ArmTimer(std::chrono::steady_clock::time_point at) {
    const uint64_t gen = ++timer_gen_;
    timer_armed_ = true;
    armed_for_ = at;
    timer_.expires_at(at);
    timer_.async_wait([self = Self(), gen](const error_code& ec) {
      if (ec || gen != self->timer_gen_) return;
      self->timer_armed_ = false;
      if (self->deadline_ == std::chrono::steady_clock::time_point::max()) return;
      if (std::chrono::steady_clock::now() < self->deadline_)
        return self->ArmTimer(self->deadline_);
      self->ClearDeadline();
      self->OnTimeout();
    });
  }

  void OnHandshake(const error_code& ec) {
    if (phase_ == Phase::kClosed) return;
    if (ec) {
      transport_.Reject(Rejection::kTlsHandshake);
      log::Debug("tls handshake failed", {{"remote", client_}, {"error", ec.message()}});
      Close();
      return;
    }
    ReadHead(/*first=*/true);
  }

  void OnTimeout() {
    switch (phase_) {
      case Phase::kHandshake:
        transport_.Reject(Rejection::kTlsHandshake);
        Close();
        return;
      case Phase::kIdle:
        transport_.metrics().idle_closed->Increment();
        Close();
        return;
      case Phase::kHead:
      case Phase::kBody:
        timed_out_ = true;
        transport_.Reject(phase_ == Phase::kHead ? Rejection::kHeadTimeout
                                                 : Rejection::kBodyTimeout);
        if constexpr (kTls) {
          Close();  // a TLS read cannot be cut and then written after
        } else {
          error_code ignored;
          Raw().cancel(ignored);  // the read ends; its handler answers 408
        }
        return;
      case Phase::kWaiting:
        last_ = true;
        RequestPoll();
        return;
      case Phase::kWriting:
      case Phase::kStreaming:
        transport_.metrics().write_timeouts->Increment();
        Close();
        return;
      case Phase::kLinger:
      case Phase::kHandling:
      case Phase::kClosed:
        Close();
        return;
    }
  }

  void OnShutdown() {
    stopping_ = true;
    switch (phase_) {
      case Phase::kHandshake:
      case Phase::kIdle:
      case Phase::kHead:
      case Phase::kBody:
      case Phase::kLinger:
        Close();
        return;
      case Phase::kWaiting:
        last_ = true;
        RequestPoll();
        return;
      case Phase::kStreaming:
        stream_ended_ = true;
        closed_.store(true, std::memory_order_release);
        if (!pumping_ && !writing_) EndStream();
        return;
      case Phase::kHandling:
      case Phase::kWriting:
      case Phase::kClosed:
        return;  // the answer goes out with Connection: close
    }
  }

  // ---- reading a request

  void ReadHead(bool first) {
    phase_ = Phase::kHead;
    timed_out_ = false;
    recorded_ = false;
    x_.started = std::chrono::steady_clock::now();
    if (!first) SetDeadline(limits_.head_timeout);
    parser_.emplace(limits_);
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](const error_code& ec, size_t) { self->OnHead(ec); });
  }

  void OnHead(const error_code& ec) {
    if (phase_ != Phase::kHead) return;
    if (ec) {
      if (timed_out_) {
        return Refuse(
            408, "the request head did not arrive within " + FormatDuration(limits_.head_timeout));
      }
      if (ec == http::error::header_limit) return RefuseHeadLimit();
      if (IsDisconnect(ec)) return Close();
      transport_.Reject(Rejection::kBadRequest);
      return Refuse(400, "malformed request: " + ec.message());
    }
    HttpRequest& req = x_.request;
    req.remote_addr = client_;
    req.headers = std::move(parser_->headers());
    x_.head_only = parser_->method() == "HEAD";
    req.method = x_.head_only ? "GET" : std::string(parser_->method());
    keep_alive_ = parser_->keep_alive();
    http11_ = parser_->version() >= 11;
    x_.accepts_gzip = AcceptsGzip(req.headers);
    if (!SplitTarget(parser_->target(), req)) {
      transport_.Reject(Rejection::kBadRequest);
      return Refuse(
          400, "the request target must be a path, not '" + parser_->target().substr(0, 100) + "'");
    }
    HttpResponse refusal;
    if (!transport_.policy().Admit(x_, refusal)) {
      return WriteAnswer(std::move(refusal), /*unread_body=*/!parser_->is_done());
    }
    if (parser_->is_done()) return Dispatch();
    ReadBody();
  }

  void RefuseHeadLimit() {
    if (parser_->violation() == RequestParser::Violation::kHeaderCount) {
      transport_.Reject(Rejection::kTooManyHeaders);
      return Refuse(431,
                    "more than " + std::to_string(limits_.max_header_count) + " header fields");
    }
    // Beast takes the request line only once it is whole, and fields as they
    // come: when the head outgrew its buffer, the first line of what is still
    // buffered tells whether it was the request line or the fields.
    const std::string_view buffered(static_cast<const char*>(buffer_.data().data()),
                                    buffer_.size());
    const size_t line_end = buffered.find("\r\n");
    const bool line_too_long = parser_->violation() == RequestParser::Violation::kRequestLine ||
                               (parser_->violation() == RequestParser::Violation::kNone &&
                                (line_end == std::string_view::npos ? buffered.size() : line_end) >
                                    limits_.max_request_line_bytes);
    if (line_too_long) {
      transport_.Reject(Rejection::kRequestLineTooLong);
      return Refuse(414, "the request line is longer than " +
                             std::to_string(limits_.max_request_line_bytes) + " bytes");
    }
    transport_.Reject(Rejection::kHeaderTooLarge);
    Refuse(431, "the header fields are larger than " + std::to_string(limits_.max_header_bytes) +
                    " bytes");
  }

  void ReadBody() {
    parser_->SetBodyLimit(transport_.policy().BodyLimit(x_));
    const auto length = parser_->content_length();
    if (length && *length > parser_->body_limit_bytes()) return RefuseBodyTooLarge();
    // Beast reads at most the buffer's free room at a time (512 bytes when it
    // is small): room for the body, up to kBodyReadBytes, makes a large body
    // a few reads instead of hundreds.
    const size_t room =
        length ? static_cast<size_t>(std::min<uint64_t>(*length, kBodyReadBytes)) : kBodyReadBytes;
    if (buffer_.capacity() - buffer_.size() < room) buffer_.reserve(buffer_.size() + room);
    phase_ = Phase::kBody;
    SetDeadline(limits_.body_timeout);
    auto read = [self = Self()] {
      http::async_read(self->stream_, self->buffer_, *self->parser_,
                       [self](const error_code& ec, size_t) { self->OnBody(ec); });
    };
    if (!parser_->expects_continue()) return read();
    // The client waits for a go-ahead before it sends the body.
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                      [self = Self(), read](const error_code& ec, size_t) {
                        if (self->phase_ != Phase::kBody) return;
                        if (ec) return self->Close();
                        read();
                      });
  }

  void OnBody(const error_code& ec) {
    if (phase_ != Phase::kBody) return;
    if (ec) {
      if (timed_out_) {
        return Refuse(
            408, "the request body did not arrive within " + FormatDuration(limits_.body_timeout));
      }
      if (parser_->violation() == RequestParser::Violation::kBody) return RefuseBodyTooLarge();
      if (IsDisconnect(ec)) return Close();
      transport_.Reject(Rejection::kBadRequest);
      return Refuse(400, "could not read the request body (bad encoding or framing)");
    }
    x_.request.body = std::move(parser_->body());
    Dispatch();
  }

  void RefuseBodyTooLarge() {
    transport_.Reject(Rejection::kBodyTooLarge);
    HttpResponse res;
    res.SetError(Status::TooLarge("request body is over the limit of " +
                                  std::to_string(parser_->body_limit_bytes()) + " bytes"));
    WriteAnswer(std::move(res), /*unread_body=*/true);
  }

  // An answer to a request that never reached a handler (its head or body
  // broke a limit or did not parse); the connection closes after it.
  void Refuse(int http_status, std::string message) {
    Status s = http_status == 408   ? Status::Unavailable(std::move(message))
               : http_status == 400 ? Status::InvalidArgument(std::move(message))
                                    : Status::TooLarge(std::move(message));
    HttpResponse res;
    res.SetError(s);
    res.status = http_status;
    WriteAnswer(std::move(res), /*unread_body=*/true);
  }

  // ---- handling

  void Dispatch() {
    phase_ = Phase::kHandling;
    ClearDeadline();
    parser_.reset();
    if (transport_.policy().Nonblocking(x_)) {
      HttpResponse res;
      transport_.policy().Handle(x_, res);
      return OnHandled(std::move(res));
    }
    asio::post(transport_.pool(), [self = Self()] {
      HttpResponse res;
      self->transport_.policy().Handle(self->x_, res);
      asio::post(self->Executor(),
                 [self, res = std::move(res)]() mutable { self->OnHandled(std::move(res)); });
    });
  }

  void OnHandled(HttpResponse res) {
    if (phase_ != Phase::kHandling) return;
    if (!res.deferred) return WriteAnswer(std::move(res), false);
    if (!AcquireWait()) {
      transport_.Reject(Rejection::kTooManyWaits);
      HttpResponse busy;
      busy.SetError(Status::ResourceExhausted(
          "too many blocking queries and streams at once for " + waits_key_ + " (limit " +
          std::to_string(limits_.max_waits_per_token) + "); retry later"));
      busy.SetHeader("Retry-After", "1");
      return WriteAnswer(std::move(busy), false);
    }
    wait_counted_ = true;
    deferred_ = std::move(res.deferred);
    if (deferred_->poll) return StartWait();
    StartStream(std::move(res));
  }

  // The wake-up a Notifier runs: it only queues the session on its loop,
  // and holds no strong reference, so a session is never destroyed inside
  // Notify(). A session already queued is not queued twice.
  Notifier::Listener WakeListener() {
    return [loop = &loop_, weak = weak_from_this(), queued = wake_queued_] {
      if (queued->exchange(true, std::memory_order_acq_rel)) return;
      loop->Wake(weak);
    };
  }

  void OnWake() override {
    wake_queued_->store(false, std::memory_order_release);
    if (phase_ == Phase::kWaiting) RequestPoll();
    if (phase_ == Phase::kStreaming) RequestPump();
  }

  // One peek at the socket at a time, kept across phases: a 1-byte receive
  // with MSG_PEEK, which takes nothing from the socket. While a request
  // waits or streams, its end means the client left (data: its next request
  // came early and waits in the socket); while a plain connection idles,
  // data means its next request began. (A peek, unlike a readiness wait, is
  // tried at once and then queued without re-arming epoll.)
  void AwaitReadable() {
    if (read_wait_pending_) return;
    read_wait_pending_ = true;
    Raw().async_receive(asio::buffer(&peeked_, 1), tcp::socket::message_peek,
                        [self = Self()](const error_code& ec, size_t n) {
                          self->read_wait_pending_ = false;
                          self->OnPeeked(ec, n);
                        });
  }

  void OnPeeked(const error_code& ec, size_t n) {
    const bool waiting = phase_ == Phase::kWaiting || phase_ == Phase::kStreaming;
    const bool idle = phase_ == Phase::kIdle && !kTls;
    if (!waiting && !idle) return;  // a read of the request's own is in progress, or closed
    if (ec == asio::error::operation_aborted) return;
    if (ec || n == 0) return Close();  // the client left
    if (idle) ReadHead(/*first=*/false);
  }

  // ---- HttpResponse::Wait

  void StartWait() {
    phase_ = Phase::kWaiting;
    transport_.metrics().waiting->Increment();
    if (deferred_->wake_on) subscription_ = deferred_->wake_on(WakeListener());
    SetDeadline(deferred_->timeout);
    AwaitReadable();
    RequestPoll();
  }

  void RequestPoll() {
    if (phase_ != Phase::kWaiting) return;
    if (polling_) {
      poll_again_ = true;
      return;
    }
    polling_ = true;
    poll_again_ = false;
    if (transport_.policy().Nonblocking(x_)) {
      HttpResponse res;
      const bool ready = transport_.policy().Poll(x_, deferred_->poll, res, last_);
      return OnPolled(ready, std::move(res));
    }
    asio::post(transport_.pool(), [self = Self(), last = last_] {
      HttpResponse res;
      const bool ready = self->transport_.policy().Poll(self->x_, self->deferred_->poll, res, last);
      asio::post(self->Executor(), [self, ready, res = std::move(res)]() mutable {
        self->OnPolled(ready, std::move(res));
      });
    });
  }

  void OnPolled(bool ready, HttpResponse res) {
    polling_ = false;
    if (phase_ != Phase::kWaiting) return;
    if (!ready) {
      if (poll_again_ || last_) RequestPoll();
      return;
    }
    EndWait();
    WriteAnswer(std::move(res), false);
  }

  void EndWait() {
    subscription_.Reset();
    transport_.metrics().waiting->Decrement();
    ReleaseWait();
  }

  // Counts this request against its token's (or, without one, its client
  // address's) waiting requests; false past the limit.
  bool AcquireWait() {
    const Principal& who = x_.request.principal;
    constexpr std::string_view kToken = "token ";
    const bool same_key =
        who.authenticated ? waits_key_.starts_with(kToken) &&
                                waits_key_.compare(kToken.size(), std::string::npos, who.name) == 0
                          : waits_key_.starts_with("client ");
    if (!same_key || wait_counter_ == nullptr) {
      waits_key_ = who.authenticated ? std::string(kToken) + who.name : "client " + client_;
      wait_counter_ = transport_.WaitCounter(waits_key_);
    }
    if (wait_counter_->fetch_add(1, std::memory_order_relaxed) >= limits_.max_waits_per_token) {
      wait_counter_->fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

  void ReleaseWait() {
    if (!wait_counted_) return;
    wait_counted_ = false;
    wait_counter_->fetch_sub(1, std::memory_order_relaxed);
  }

  // ---- HttpResponse::Stream

  void StartStream(HttpResponse res) {
    phase_ = Phase::kStreaming;
    transport_.metrics().streams->Increment();
    Record(res.status);
    chunked_ = http11_;
    out_ = SerializeHead(res, 0, chunked_, /*close=*/true);
    if (deferred_->wake_on) subscription_ = deferred_->wake_on(WakeListener());
    ArmTick();
    AwaitReadable();
    Flush();
    RequestPump();
  }

  void ArmTick() {
    tick_.expires_after(deferred_->interval);
    tick_.async_wait([self = Self()](const error_code& ec) {
      if (ec || self->phase_ != Phase::kStreaming) return;
      self->RequestPump();
      self->ArmTick();
    });
  }

  void RequestPump() {
    if (phase_ != Phase::kStreaming || stream_ended_) return;
    if (pumping_ || writing_) {
      pump_again_ = true;
      return;
    }
    pumping_ = true;
    pump_again_ = false;
    if (transport_.policy().Nonblocking(x_)) {
      BufferSink sink(closed_);
      const bool more = transport_.policy().Pump(x_, deferred_->pump, sink);
      return OnPumped(more, sink.Take());
    }
    asio::post(transport_.pool(), [self = Self()] {
      BufferSink sink(self->closed_);
      const bool more = self->transport_.policy().Pump(self->x_, self->deferred_->pump, sink);
      asio::post(self->Executor(), [self, more, data = sink.Take()]() mutable {
        self->OnPumped(more, std::move(data));
      });
    });
  }

  void OnPumped(bool more, std::string data) {
    pumping_ = false;
    if (phase_ != Phase::kStreaming) return;
    if (!more) stream_ended_ = true;
    if (!data.empty()) {
      if (chunked_) {
        AppendChunk(out_, data);
      } else {
        out_ += data;
      }
      // It may have more ready: ask again once this is sent.
      pump_again_ = pump_again_ || more;
    }
    if (!out_.empty()) return Flush();
    if (stream_ended_) return EndStream();
    if (pump_again_) RequestPump();
  }

  void Flush() {
    if (writing_ || out_.empty()) return;
    writing_ = true;
    sending_ = std::move(out_);
    out_.clear();
    SetDeadline(limits_.write_timeout);
    asio::async_write(stream_, asio::buffer(sending_),
                      [self = Self()](const error_code& ec, size_t) { self->OnFlushed(ec); });
  }

  void OnFlushed(const error_code& ec) {
    writing_ = false;
    ClearDeadline();
    if (phase_ != Phase::kStreaming) return;
    if (ec) return Close();
    if (!out_.empty()) return Flush();
    if (stream_ended_) {
      if (!pumping_) EndStream();
      return;
    }
    if (pump_again_) RequestPump();
  }

  void EndStream() {
    tick_.cancel();
    subscription_.Reset();
    transport_.metrics().streams->Decrement();
    ReleaseWait();
    closed_.store(true, std::memory_order_release);
    phase_ = Phase::kWriting;
    sending_ = chunked_ ? "0\r\n\r\n" : "";
    SetDeadline(limits_.write_timeout);
    asio::async_write(stream_, asio::buffer(sending_),
                      [self = Self()](const error_code& ec, size_t) {
                        if (self->phase_ != Phase::kWriting) return;
                        if (ec) return self->Close();
                        self->CloseGracefully();
                      });
  }

  // ---- writing answers

  // With `unread_body`, part of the request was left unread: the connection
  // closes after the answer.
  void WriteAnswer(HttpResponse res, bool unread_body) {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kWriting;
    const bool close = unread_body || !keep_alive_ || stopping_ || AnswerSaysClose(res);
    const std::string& bytes = BodyToSend(res);
    head_ = SerializeHead(res, bytes.size(), /*chunked=*/false, close);
    if (x_.head_only) {
      body_.clear();
    } else if (res.shared_body) {
      shared_body_ = std::move(res.shared_body);  // keeps `bytes` alive while it is written
    } else {
      body_ = std::move(res.body);
    }
    const std::string& sent = shared_body_ ? bytes : body_;
    Record(res.status);
    SetDeadline(limits_.write_timeout);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(head_), asio::buffer(sent)};
    asio::async_write(stream_, buffers,
                      [self = Self(), close, unread_body](const error_code& ec, size_t) {
                        self->OnWritten(ec, close, unread_body);
                      });
  }

  void OnWritten(const error_code& ec, bool close, bool unread_body) {
    if (phase_ != Phase::kWriting) return;
    if (ec) return Close();
    head_.clear();
    body_ = std::string();
    shared_body_.reset();
    if (unread_body) return Linger();
    if (close) return CloseGracefully();
    ReadNext();
  }

  void ReadNext() {
    if (stopping_) return CloseGracefully();
    x_ = Exchange{};
    deferred_.reset();
    if (buffer_.size() > 0) return ReadHead(/*first=*/false);
    if (buffer_.capacity() > kKeptBufferBytes) buffer_.shrink_to_fit();
    phase_ = Phase::kIdle;
    SetDeadline(limits_.idle_timeout);
    if constexpr (kTls) {
      // Decrypted bytes may already wait inside the TLS layer, where a
      // readiness wait on the socket would not see them: read instead.
      stream_.async_read_some(buffer_.prepare(kTlsIdleReadBytes),
                              [self = Self()](const error_code& ec, size_t n) {
                                if (self->phase_ != Phase::kIdle) return;
                                if (ec) return self->Close();
                                self->buffer_.commit(n);
                                self->ReadHead(/*first=*/false);
                              });
    } else {
      AwaitReadable();  // perhaps still pending from the wait this answered
    }
  }

  // The client may still be sending a body we refused: read and drop it for
  // a while (kLingerTime at most) so that our answer is not lost to a reset.
  void Linger() {
    phase_ = Phase::kLinger;
    error_code ignored;
    Raw().shutdown(tcp::socket::shutdown_send, ignored);
    SetDeadline(kLingerTime);
    LingerRead();
  }

  void LingerRead() {
    linger_buffer_.resize(16384);
    Raw().async_read_some(asio::buffer(linger_buffer_),
                          [self = Self()](const error_code& ec, size_t n) {
                            if (self->phase_ != Phase::kLinger) return;
                            if (ec || n == 0) return self->Close();
                            self->LingerRead();
                          });
  }

  void CloseGracefully() {
    error_code ignored;
    Raw().shutdown(tcp::socket::shutdown_send, ignored);
    Close();
  }

  // Counts and logs the exchange once; an admitted request that is never
  // answered (the client left, the server stopped) counts as 499.
  void Record(int status) {
    if (recorded_) return;
    recorded_ = true;
    transport_.policy().Record(x_, status);
  }

  void Close() {
    if (phase_ == Phase::kClosed) return;
    if (!recorded_ && x_.route != nullptr) Record(kClientClosedRequest);
    if (phase_ == Phase::kWaiting) EndWait();
    if (phase_ == Phase::kStreaming) {
      transport_.metrics().streams->Decrement();
      subscription_.Reset();
      ReleaseWait();
    }
    phase_ = Phase::kClosed;
    closed_.store(true, std::memory_order_release);
    ClearDeadline();
    timer_.cancel();  // its pending wait holds the session
    tick_.cancel();
    error_code ignored;
    Raw().close(ignored);
  }

  TransportImpl& transport_;
  EventLoop& loop_;
  const HttpLimits& limits_;
  Stream stream_;
  asio::steady_timer timer_;  // the deadline of the current phase
  asio::steady_timer tick_;   // a stream's pump interval
  const std::string client_;

  Phase phase_ = Phase::kHead;
  uint64_t timer_gen_ = 0;
  bool timer_armed_ = false;
  std::chrono::steady_clock::time_point armed_for_;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
  bool read_wait_pending_ = false;
  char peeked_ = 0;  // where AwaitReadable's peek puts its byte
  bool timed_out_ = false;
  bool recorded_ = false;
  bool stopping_ = false;
  bool keep_alive_ = true;
  bool http11_ = true;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  Exchange x_;
  std::string head_;
  std::string body_;
  std::shared_ptr<const SharedBody> shared_body_;
  std::string linger_buffer_;

  // Wait and Stream.
  std::shared_ptr<HttpResponse::Deferred> deferred_;
  Subscription subscription_;
  std::shared_ptr<std::atomic<bool>> wake_queued_ = std::make_shared<std::atomic<bool>>(false);
  bool wait_counted_ = false;
  std::string waits_key_;  // whose waits this connection's last one counted against
  std::shared_ptr<std::atomic<size_t>> wait_counter_;  // that key's count
  bool last_ = false;
  bool polling_ = false;
  bool poll_again_ = false;
  bool pumping_ = false;
  bool pump_again_ = false;
  bool writing_ = false;
  bool stream_ended_ = false;
  bool chunked_ = true;
  std::string out_;      // stream data not yet being written
  std::string sending_;  // stream data being written
  std::atomic<bool> closed_{false};
};

Status TransportImpl::Bind() {
  if (!options_.tls.cert_file.empty()) {
    try {
      tls_.emplace(asio::ssl::context::tls_server);
      tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                        asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
      tls_->use_certificate_chain_file(options_.tls.cert_file);
      tls_->use_private_key_file(options_.tls.key_file, asio::ssl::context::pem);
      if (!options_.tls.client_ca_file.empty()) {
        tls_->load_verify_file(options_.tls.client_ca_file);
        tls_->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
      }
    } catch (const boost::system::system_error& e) {
      tls_.reset();
      return Status::InvalidArgument("cannot use the TLS files (cert " + options_.tls.cert_file +
                                     ", key " + options_.tls.key_file +
                                     (options_.tls.client_ca_file.empty()
                                          ? std::string()
                                          : ", client CA " + options_.tls.client_ca_file) +
                                     "): " + e.code().message());
    }
  }
  error_code ec;
  const auto address =
      asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
  if (ec) {
    return Status::InvalidArgument("cannot listen on '" + options_.host + "': not an IP address (" +
                                   ec.message() + ")");
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  auto unavailable = [&](const error_code& e) {
    return Status::Unavailable("cannot listen on " + options_.host + ":" +
                               std::to_string(options_.port) + " (" + e.message() + ")");
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return unavailable(ec);
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor_.bind(endpoint, ec);
  if (ec) return unavailable(ec);
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return unavailable(ec);
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::Ok();
}

void TransportImpl::Start() {
  pool_ = std::make_unique<asio::thread_pool>(
      static_cast<size_t>(std::max(1, options_.worker_threads)));
  for (auto& loop : loops_) work_.emplace_back(loop->context().get_executor());
  Accept();
  for (auto& loop : loops_) {
    threads_.emplace_back([loop = loop.get()] { loop->context().run(); });
  }
}

void TransportImpl::Accept() {
  accepting_for_ = loops_[next_loop_++ % loops_.size()].get();
  acceptor_.async_accept(
      accepting_for_->context(),
      [this](const error_code& ec, tcp::socket socket) { OnAccept(ec, std::move(socket)); });
}

void TransportImpl::OnAccept(const error_code& ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // Out of file descriptors (or a transient error): back off briefly
    // instead of spinning on the accept.
    log::Warn("accept failed", {{"error", ec.message()}});
    retry_timer_.expires_after(std::chrono::milliseconds(100));
    retry_timer_.async_wait([this](const error_code& e) {
      if (!e) Accept();
    });
    return;
  }
  error_code remote_ec;
  const std::string client = socket.remote_endpoint(remote_ec).address().to_string();
  if (remote_ec) {
    Accept();
    return;
  }
  const char* refused = nullptr;
  {
    std::lock_guard lock(mu_);
    size_t& from_client = per_client_[client];
    if (stopping_) {
      refused = "stopping";
    } else if (sessions_.size() >= options_.limits.max_connections) {
      refused = "max_connections";
    } else if (from_client >= options_.limits.max_connections_per_client) {
      refused = "max_connections_per_client";
    }
    if (refused != nullptr) {
      if (from_client == 0) per_client_.erase(client);
    } else {
      ++from_client;
    }
  }
  if (refused != nullptr) {
    Refuse(socket, refused);
    Accept();
    return;
  }
  metrics_.accepted->Increment();
  metrics_.connections->Increment();
  auto start = [&](auto session) {
    {
      std::lock_guard lock(mu_);
      sessions_.emplace(session.get(), session);
    }
    session->Start();
  };
  if (tls_) {
    start(std::make_shared<Session<TlsStream>>(*this, *accepting_for_, std::move(socket), client));
  } else {
    start(
        std::make_shared<Session<tcp::socket>>(*this, *accepting_for_, std::move(socket), client));
  }
  Accept();
}

void TransportImpl::Refuse(tcp::socket& socket, const char* reason) {
  metrics_.refused->Add({{"reason", reason}}).Increment();
  if (!tls_) {
    static const std::string kBusy = [] {
      HttpResponse res;
      res.SetError(Status::Unavailable("too many connections; retry later"));
      res.SetHeader("Retry-After", "1");
      return SerializeHead(res, res.body.size(), false, true) + res.body;
    }();
    (void)::send(socket.native_handle(), kBusy.data(), kBusy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

std::vector<std::shared_ptr<SessionBase>> TransportImpl::LiveSessions() {
  std::vector<std::shared_ptr<SessionBase>> out;
  std::lock_guard lock(mu_);
  for (auto& [raw, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool TransportImpl::WaitDrained(std::chrono::steady_clock::duration within) {
  std::unique_lock lock(mu_);
  return drained_.wait_for(lock, within, [&] { return sessions_.empty(); });
}

void TransportImpl::Stop() {
  std::call_once(stopped_, [this] {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    if (threads_.empty()) {
      error_code ignored;
      acceptor_.close(ignored);
      return;
    }
    asio::post(acceptor_.get_executor(), [this] {
      error_code ignored;
      acceptor_.close(ignored);
      retry_timer_.cancel();
    });
    for (auto& s : LiveSessions()) s->PostShutdown();
    if (!WaitDrained(kDrainTime)) {
      for (auto& s : LiveSessions()) s->PostAbort();
      WaitDrained(std::chrono::seconds(1));
    }
    work_.clear();
    for (auto& loop : loops_) loop->context().stop();
    for (auto& t : threads_) t.join();
    pool_->join();
    error_code ignored;
    acceptor_.close(ignored);  // in case the posted close never ran
  });
}

}  // namespace

std::string_view RejectionName(Rejection r) {
  switch (r) {
    case Rejection::kRequestLineTooLong:
      return "request_line_too_long";
    case Rejection::kHeaderTooLarge:
      return "header_too_large";
    case Rejection::kTooManyHeaders:
      return "too_many_headers";
    case Rejection::kHeadTimeout:
      return "head_timeout";
    case Rejection::kBodyTimeout:
      return "body_timeout";
    case Rejection::kBodyTooLarge:
      return "body_too_large";
    case Rejection::kBadRequest:
      return "bad_request";
    case Rejection::kTooManyWaits:
      return "too_many_waits";
    case Rejection::kTlsHandshake:
      return "tls_handshake";
  }
  return "unknown";
}

Result<std::unique_ptr<Transport>> Transport::Bind(const HttpServerOptions& options,
                                                   RequestPolicy* policy,
                                                   const TransportMetrics& metrics) {
  auto t = std::make_unique<TransportImpl>(options, policy, metrics);
  HIVE_RETURN_IF_ERROR(t->Bind());
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace hive::http_internal
