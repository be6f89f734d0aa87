#include "async_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace hive::bench {
namespace {

using Clock = std::chrono::steady_clock;

// A kept body (or a head) larger than this is an error.
constexpr size_t kMaxAnswerBytes = 64u << 20;
constexpr size_t kMaxHeadBytes = 1u << 20;
constexpr size_t kMaxLineBytes = 4096;  // a chunk-size or trailer line
// Each I/O thread reads into one buffer of this size: an answer of tens of
// KiB takes one recv(), and the buffer stays in the thread's cache.
constexpr size_t kReadBufferBytes = 256u << 10;
// Events taken by one epoll_wait.
constexpr int kEventsPerWait = 256;

bool SameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Whether the comma-separated list `value` has `token` (any case).
bool HasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (SameIgnoringCase(Trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// Calls fn(name, value) for each header line of `head` (after the status
// line) until it returns false.
template <typename Fn>
void ForEachHeader(std::string_view head, Fn&& fn) {
  size_t eol = head.find('\n');
  while (eol != std::string_view::npos) {
    head.remove_prefix(eol + 1);
    eol = head.find('\n');
    const std::string_view line = head.substr(0, eol);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    if (!fn(line.substr(0, colon), Trim(line.substr(colon + 1)))) return;
  }
}

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// What a Loop dispatches an fd's events to.
class Pollable {
 public:
  virtual void OnEvents(uint32_t events) = 0;

 protected:
  ~Pollable() = default;
};

// One I/O thread's event loop: an epoll set whose sockets are registered
// once, edge-triggered, and dispatched to straight from epoll_wait (no
// re-arming, no queue per event); timers; tasks posted from other threads
// (an eventfd wakes it); and the read buffer its connections share.
class Loop {
 public:
  Loop()
      : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
        wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
        buffer_(std::make_unique<char[]>(kReadBufferBytes)) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;  // the eventfd
    if (epoll_ < 0 || wake_ < 0 || ::epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_, &ev) != 0) {
      throw std::runtime_error(ErrnoText("async_http: epoll", errno));
    }
  }
  ~Loop() {
    ::close(wake_);
    ::close(epoll_);
  }
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  char* buffer() { return buffer_.get(); }
  // The thread that runs it, set once before any connection.
  void SetThread(std::thread::id id) { thread_ = id; }
  bool InThread() const { return std::this_thread::get_id() == thread_; }

  // Adds `fd` for input, output and the peer's shutdown, edge-triggered.
  bool Watch(int fd, Pollable* p) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.ptr = p;
    return ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) == 0;
  }

  // Any thread: runs `fn` on the loop's thread.
  void Post(std::function<void()> fn) {
    {
      std::lock_guard lock(mu_);
      posted_.push_back(std::move(fn));
    }
    Wake();
  }
  // Any thread: Run returns soon.
  void Stop() {
    stop_.store(true);
    Wake();
  }

  // The loop's thread: runs `fn` once the events at hand are dispatched.
  void Defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }
  // The loop's thread: runs `fn` at `when`.
  void At(Clock::time_point when, std::function<void()> fn) {
    timers_.push_back({when, next_timer_++, std::move(fn)});
    std::push_heap(timers_.begin(), timers_.end(), Later);
  }

  void Run() {
    epoll_event events[kEventsPerWait];
    while (!stop_.load()) {
      int timeout = -1;
      if (!deferred_.empty()) {
        timeout = 0;
      } else if (!timers_.empty()) {
        const auto wait = timers_.front().when - Clock::now();
        timeout = wait <= Clock::duration::zero()
                      ? 0
                      : static_cast<int>(std::min<int64_t>(
                            std::chrono::ceil<std::chrono::milliseconds>(wait).count(), 60'000));
      }
      const int n = ::epoll_wait(epoll_, events, kEventsPerWait, timeout);
      for (int i = 0; i < n; ++i) {
        if (events[i].data.ptr == nullptr) {
          RunPosted();
        } else {
          static_cast<Pollable*>(events[i].data.ptr)->OnEvents(events[i].events);
        }
      }
      if (!deferred_.empty()) {
        std::vector<std::function<void()>> now;
        now.swap(deferred_);
        for (auto& fn : now) fn();
      }
      while (!timers_.empty() && timers_.front().when <= Clock::now()) {
        std::pop_heap(timers_.begin(), timers_.end(), Later);
        std::function<void()> fn = std::move(timers_.back().fn);
        timers_.pop_back();
        fn();
      }
    }
  }

 private:
  struct Timer {
    Clock::time_point when;
    uint64_t order;
    std::function<void()> fn;
  };
  static bool Later(const Timer& a, const Timer& b) {
    return a.when != b.when ? a.when > b.when : a.order > b.order;
  }

  void Wake() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_, &one, sizeof one);
  }

  void RunPosted() {
    uint64_t count;
    [[maybe_unused]] ssize_t n = ::read(wake_, &count, sizeof count);
    std::vector<std::function<void()>> posted;
    {
      std::lock_guard lock(mu_);
      posted.swap(posted_);
    }
    for (auto& fn : posted) fn();
  }

  const int epoll_;
  const int wake_;
  std::unique_ptr<char[]> buffer_;
  std::thread::id thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::function<void()>> posted_;  // guarded by mu_
  std::vector<std::function<void()>> deferred_;
  std::vector<Timer> timers_;  // a heap, the earliest first
  uint64_t next_timer_ = 0;
};

class Connection final : public AsyncConnection,
                         public Pollable,
                         public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(Loop& loop) : loop_(loop) {}
  ~Connection() override {
    if (fd_ >= 0) ::close(fd_);
  }

  // On the loop's thread: connects to `to`, then calls done("") or
  // done(error) from the loop.
  void Connect(const sockaddr_in& to, std::function<void(const std::string&)> done) {
    connect_done_ = std::move(done);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return DeferConnectError(ErrnoText("connect", errno));
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0 &&
        errno != EINPROGRESS) {
      return DeferConnectError(ErrnoText("connect", errno));
    }
    // Added after connect(): an unconnected socket would report a hang-up.
    // Writable (or an error) means connected (or not).
    connecting_ = true;
    if (!loop_.Watch(fd_, this)) {
      connecting_ = false;
      return DeferConnectError(ErrnoText("connect: epoll_ctl", errno));
    }
  }

  using AsyncConnection::Exchange;

  void Exchange(std::string_view request, AnswerHandler& handler, bool keep_body) override {
    answer_handler_ = &handler;
    stream_handler_ = nullptr;
    keep_body_ = keep_body;
    if (Begin(request)) Send(request);
  }

  void Stream(std::string_view request, StreamHandler& handler) override {
    answer_handler_ = nullptr;
    stream_handler_ = &handler;
    keep_body_ = false;
    if (Begin(request)) Send(request);
  }

  void AwaitClose(EndFn closed) override {
    closed_fn_ = std::move(closed);
    awaiting_ = true;
    if (unread_ || stray_bytes_) {
      loop_.Defer([this, gen = ++await_gen_] {
        if (awaiting_ && gen == await_gen_ && !closed_) CheckClosed();
      });
    }
  }

  void After(std::chrono::steady_clock::duration delay, std::function<void()> fn) override {
    auto timer = [this, when = Clock::now() + delay, fn = std::move(fn)]() mutable {
      loop_.At(when, [this, fn = std::move(fn)] {
        if (!closed_) fn();
      });
    };
    if (loop_.InThread()) return timer();
    loop_.Post(std::move(timer));
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    phase_ = Phase::kIdle;
    awaiting_ = false;
    answer_handler_ = nullptr;
    stream_handler_ = nullptr;
    // What they hold may hold this connection.
    closed_fn_ = nullptr;
    connect_done_ = nullptr;
    if (fd_ >= 0) ::close(fd_);  // leaves the epoll set with it
    fd_ = -1;
  }

  void OnEvents(uint32_t events) override {
    if (closed_) return;
    if (connecting_) {
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
      connecting_ = false;
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      auto done = std::move(connect_done_);
      connect_done_ = nullptr;
      return done(err == 0 ? "" : ErrnoText("connect", err));
    }
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0 && sending_) {
      std::string rest = std::move(unsent_);
      unsent_.clear();
      sending_ = false;
      Send(rest);
      if (closed_) return;
    }
    if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) != 0) {
      if (phase_ != Phase::kIdle) return OnReadable();
      if (awaiting_) return CheckClosed();
      unread_ = true;  // looked at by the next exchange or AwaitClose
    }
  }

 private:
  // Where the reader is in the answer.
  enum class Phase : uint8_t {
    kIdle,        // no exchange
    kHead,        // reading the head
    kLength,      // a body of `remaining_` more bytes
    kChunkSize,   // a chunk-size line
    kChunkData,   // `remaining_` more bytes of a chunk
    kChunkEnd,    // the CRLF after a chunk's data
    kTrailer,     // trailer lines up to an empty one
    kUntilClose,  // a body that ends when the server closes the connection
  };

  void DeferConnectError(std::string error) {
    loop_.Defer([this, error = std::move(error)] {
      auto done = std::move(connect_done_);
      connect_done_ = nullptr;
      if (done) done(error);
    });
  }

  // ---- sending

  // Starts an exchange; false if it failed already (it is told later).
  bool Begin(std::string_view request) {
    if (awaiting_) {
      awaiting_ = false;
      closed_fn_ = nullptr;
    }
    ++gen_;
    phase_ = Phase::kHead;
    fresh_ = true;
    head_request_ = request.substr(0, 5) == "HEAD ";
    if (sending_) {
      unsent_.clear();
      sending_ = false;
    }
    if (closed_) return false;
    if (stray_bytes_) {
      DeferFail("the server sent bytes nobody asked for");
      return false;
    }
    if (unread_) {  // something came while idle: bytes, or the end
      unread_ = false;
      char c;
      const ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n > 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        DeferFail(n > 0 ? "the server sent bytes nobody asked for" : ErrnoText("read", errno));
        return false;
      }
      if (n == 0) {
        DeferFail("read: the server closed the connection");
        return false;
      }
    }
    return true;
  }

  // Sends what the socket takes now (nearly always all of it); the rest
  // when it is writable again. The answer is read as it comes, meanwhile.
  void Send(std::string_view request) {
    while (!request.empty()) {
      const ssize_t n = ::send(fd_, request.data(), request.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        request.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK) {
        unsent_.assign(request);
        sending_ = true;
        return;
      } else {
        return DeferFail(ErrnoText("write", errno));
      }
    }
  }

  // ---- reading

  // Reads what has arrived into the thread's buffer and feeds it to the
  // reader. The socket is edge-triggered: a read that does not fill the
  // buffer took everything, and bytes arriving later are a new event.
  void OnReadable() {
    if (fresh_) {
      fresh_ = false;
      head_view_ = {};
      gathering_ = false;
      partial_line_ = false;
      if (spilled_) {
        spilled_ = false;
        head_.clear();
        body_.clear();
        line_.clear();
      }
    }
    char* const buffer = loop_.buffer();
    while (true) {
      const ssize_t n = ::recv(fd_, buffer, kReadBufferBytes, MSG_DONTWAIT);
      if (n > 0) {
        if (!Feed(buffer, static_cast<size_t>(n))) return;  // ended, failed or closed
        // The answer goes on: its head must outlive the thread's buffer.
        if (answer_handler_ != nullptr && phase_ != Phase::kHead &&
            head_view_.data() != head_.data()) {
          head_.assign(head_view_);
          head_view_ = head_;
          spilled_ = true;
        }
        if (static_cast<size_t>(n) < kReadBufferBytes) return;
        continue;
      }
      if (n == 0) return OnEof();
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      return Fail(ErrnoText("read", errno));
    }
  }

  void OnEof() {
    if (phase_ == Phase::kUntilClose) {
      keep_alive_ = false;
      return End();
    }
    Fail("read: the server closed the connection");
  }

  // Takes n bytes of the answer. False once it ended, failed or the
  // connection was closed: nothing more is to be read now.
  bool Feed(const char* p, size_t n) {
    while (n > 0) {
      size_t used = 0;
      switch (phase_) {
        case Phase::kIdle:
          stray_.append(p, n);  // no exchange: kept for the next one to fail on
          stray_bytes_ = true;
          return false;
        case Phase::kHead:
          if (!ReadHead(p, n, used)) return false;
          if (phase_ == Phase::kIdle) {  // an answer without a body
            p += used;
            n -= used;
            return Finish(p, n);
          }
          break;
        case Phase::kLength:
        case Phase::kChunkData: {
          used = static_cast<size_t>(std::min<uint64_t>(remaining_, n));
          remaining_ -= used;
          if (!Body(p, used)) return false;
          if (remaining_ == 0) {
            if (phase_ == Phase::kLength) {
              p += used;
              n -= used;
              return Finish(p, n);
            }
            phase_ = Phase::kChunkEnd;
          }
          break;
        }
        case Phase::kUntilClose:
          used = n;
          if (!Body(p, n)) return false;
          break;
        case Phase::kChunkSize:
        case Phase::kChunkEnd:
        case Phase::kTrailer: {
          std::string_view line;
          bool whole = false;
          if (!TakeLine(p, n, used, line, whole)) return false;
          if (!whole) break;  // the line goes on in the next read
          if (!ChunkLine(line)) return false;
          if (phase_ == Phase::kIdle) {  // the trailer ended
            p += used;
            n -= used;
            return Finish(p, n);
          }
          break;
        }
      }
      p += used;
      n -= used;
    }
    return true;
  }

  // The head up to the empty line: in place when it lies in one read, else
  // gathered in head_.
  bool ReadHead(const char* p, size_t n, size_t& used) {
    const std::string_view data(p, n);
    if (!gathering_) {
      const size_t end = data.find("\r\n\r\n");
      if (end == std::string_view::npos) {
        head_.assign(data);
        gathering_ = true;
        spilled_ = true;
        used = n;
        return CheckHeadSize();
      }
      head_view_ = data.substr(0, end);
      used = end + 4;
    } else {
      const size_t had = head_.size();
      head_.append(data);
      const size_t end = head_.find("\r\n\r\n", had < 3 ? 0 : had - 3);
      if (end == std::string::npos) {
        used = n;
        return CheckHeadSize();
      }
      used = end + 4 - had;
      head_.resize(end);
      head_view_ = head_;
      gathering_ = false;
    }
    return OnHead();
  }

  bool CheckHeadSize() {
    if (head_.size() <= kMaxHeadBytes) return true;
    Fail("read: a head over " + std::to_string(kMaxHeadBytes) + " bytes");
    return false;
  }

  // The status, keep-alive and the body's framing from the head.
  bool OnHead() {
    const std::string_view head = head_view_;
    const std::string_view status_line = head.substr(0, head.find('\r'));
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
      Fail("read: a bad status line: " + std::string(status_line.substr(0, 80)));
      return false;
    }
    const bool http10 = status_line[7] == '0';
    int status = 0;
    for (size_t i = 9; i < 12; ++i) {
      if (status_line[i] < '0' || status_line[i] > '9') {
        Fail("read: a bad status line: " + std::string(status_line.substr(0, 80)));
        return false;
      }
      status = status * 10 + (status_line[i] - '0');
    }
    if (status >= 100 && status < 200 && status != 101) {  // interim: the answer follows
      head_.clear();
      head_view_ = {};
      gathering_ = false;
      return true;
    }
    status_ = status;
    bool chunked = false;
    bool has_length = false;
    bool bad_length = false;
    uint64_t length = 0;
    bool close = http10;
    ForEachHeader(head, [&](std::string_view name, std::string_view value) {
      if (SameIgnoringCase(name, "content-length")) {
        has_length = true;
        length = 0;
        if (value.empty()) bad_length = true;
        for (char c : value) {
          if (c < '0' || c > '9' || length > (UINT64_MAX - 9) / 10) {
            bad_length = true;
            break;
          }
          length = length * 10 + static_cast<uint64_t>(c - '0');
        }
      } else if (SameIgnoringCase(name, "transfer-encoding")) {
        chunked = HasToken(value, "chunked");
      } else if (SameIgnoringCase(name, "connection")) {
        if (HasToken(value, "close")) close = true;
        if (http10 && HasToken(value, "keep-alive")) close = false;
      }
      return true;
    });
    keep_alive_ = !close;
    keep_all_ = keep_body_ || status < 200 || status >= 300;
    if (stream_handler_ != nullptr && status != 200) {
      EndStream("status " + std::to_string(status));
      return false;
    }
    if (head_request_ || status == 204 || status == 304) {
      phase_ = Phase::kIdle;
    } else if (chunked) {
      phase_ = Phase::kChunkSize;
    } else if (has_length) {
      if (bad_length) {
        Fail("read: a bad Content-Length");
        return false;
      }
      remaining_ = length;
      phase_ = length > 0 ? Phase::kLength : Phase::kIdle;
    } else {
      keep_alive_ = false;
      phase_ = Phase::kUntilClose;
    }
    return true;
  }

  // A line of the chunked framing, which may end in a later read (`whole`
  // false: it was kept in line_).
  bool TakeLine(const char* p, size_t n, size_t& used, std::string_view& line, bool& whole) {
    const void* nl = std::memchr(p, '\n', n);
    whole = nl != nullptr;
    if (nl == nullptr) {
      line_.append(p, n);
      partial_line_ = true;
      spilled_ = true;
      used = n;
      if (line_.size() <= kMaxLineBytes) return true;
      Fail("read: a chunk line over " + std::to_string(kMaxLineBytes) + " bytes");
      return false;
    }
    const size_t len = static_cast<size_t>(static_cast<const char*>(nl) - p);
    used = len + 1;
    if (!partial_line_) {
      line = std::string_view(p, len);
    } else {
      line_.append(p, len);
      line = line_;
    }
    return true;
  }

  bool ChunkLine(std::string_view line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const Phase phase = phase_;
    bool ok = true;
    if (phase == Phase::kChunkSize) {
      line = Trim(line.substr(0, line.find(';')));
      uint64_t size = 0;
      ok = !line.empty() && line.size() <= 15;
      for (char c : line) {
        const int digit = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
        if (digit < 0) ok = false;
        size = size * 16 + static_cast<uint64_t>(digit < 0 ? 0 : digit);
      }
      if (ok) {
        remaining_ = size;
        phase_ = size == 0 ? Phase::kTrailer : Phase::kChunkData;
      }
    } else if (phase == Phase::kChunkEnd) {
      ok = line.empty();
      phase_ = Phase::kChunkSize;
    } else if (line.empty()) {  // the trailer's end
      phase_ = Phase::kIdle;
    }
    if (partial_line_) {
      line_.clear();
      partial_line_ = false;
    }
    if (!ok) Fail("read: bad chunked framing");
    return ok;
  }

  // n bytes of the body: to the stream's handler, kept, or skipped.
  bool Body(const char* p, size_t n) {
    if (n == 0) return true;
    if (stream_handler_ != nullptr) {
      if (!stream_handler_->Data(*this, std::string_view(p, n))) {
        Close();
        return false;
      }
      return !closed_;
    }
    if (!keep_all_) return true;
    if (body_.size() + n > kMaxAnswerBytes) {
      Fail("read: a body over " + std::to_string(kMaxAnswerBytes) + " bytes");
      return false;
    }
    body_.append(p, n);
    spilled_ = true;
    return true;
  }

  // The answer ended with n bytes of this read left over.
  bool Finish(const char* p, size_t n) {
    phase_ = Phase::kIdle;
    if (n > 0) {
      stray_.assign(p, n);
      stray_bytes_ = true;
    }
    End();
    return false;
  }

  void End() {
    phase_ = Phase::kIdle;
    if (stream_handler_ != nullptr) return EndStream("");
    AnswerHandler* handler = std::exchange(answer_handler_, nullptr);
    if (handler == nullptr) return;
    AnswerView answer;
    answer.status = status_;
    answer.keep_alive = keep_alive_;
    answer.head = head_view_;
    answer.body = body_;
    handler->Answered(*this, answer);
  }

  void EndStream(const std::string& error) {
    phase_ = Phase::kIdle;
    StreamHandler* handler = std::exchange(stream_handler_, nullptr);
    if (handler != nullptr && !closed_) handler->Ended(*this, error);
  }

  void Fail(const std::string& error) {
    phase_ = Phase::kIdle;
    if (closed_) return;
    if (stream_handler_ != nullptr) return EndStream(error);
    AnswerHandler* handler = std::exchange(answer_handler_, nullptr);
    if (handler != nullptr) handler->Failed(*this, error);
  }

  // A failure found while starting or sending goes to the exchange's
  // handler from the loop, not from inside Exchange.
  void DeferFail(std::string error) {
    loop_.Defer([this, gen = gen_, error = std::move(error)] {
      if (gen == gen_ && !closed_) Fail(error);
    });
  }

  // An event, or bytes left over, while AwaitClose waits.
  void CheckClosed() {
    char c;
    const ssize_t n = stray_bytes_ ? 1 : ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      unread_ = false;
      return;
    }
    const std::string why = n > 0    ? "the server sent bytes nobody asked for"
                            : n == 0 ? "closed by the server"
                                     : std::strerror(errno);
    awaiting_ = false;
    unread_ = false;
    EndFn closed = std::move(closed_fn_);
    closed_fn_ = nullptr;
    if (closed) closed(why);
  }

  // What an answer needs comes first (they share a cache line or two): with
  // thousands of connections each is cold when its answer comes. The buffers
  // behind them are touched only when used (see the flags).
  Loop& loop_;
  int fd_ = -1;
  AnswerHandler* answer_handler_ = nullptr;
  StreamHandler* stream_handler_ = nullptr;
  Phase phase_ = Phase::kIdle;
  bool connecting_ = false;
  bool fresh_ = false;         // the answer's first read is still to come
  bool spilled_ = false;       // head_, body_ or line_ hold bytes of this answer
  bool gathering_ = false;     // head_ gathers a head that spans reads
  bool partial_line_ = false;  // line_ holds the start of a chunk line
  bool sending_ = false;       // unsent_ holds the rest of the request
  bool stray_bytes_ = false;   // stray_ holds bytes nobody asked for
  bool keep_body_ = false;     // asked for by the exchange
  bool keep_all_ = false;      // the body is kept (asked for, or not a 2xx)
  bool head_request_ = false;  // the answer has no body
  bool keep_alive_ = true;
  bool unread_ = false;  // the socket had an event while no exchange was on
  bool awaiting_ = false;
  bool closed_ = false;
  int status_ = 0;
  uint64_t gen_ = 0;  // counts exchanges
  uint64_t remaining_ = 0;
  std::string_view head_view_;
  std::string head_;    // the head when it spans reads or outlives the thread's buffer
  std::string body_;    // a kept body
  std::string line_;    // a chunk line that spans reads
  std::string unsent_;  // the rest of a request the socket did not take at once
  std::string stray_;   // bytes after an answer, that nobody asked for
  uint64_t await_gen_ = 0;
  EndFn closed_fn_;
  std::function<void(const std::string&)> connect_done_;
};

// The callback form of Exchange: copies the answer out, then calls `done`.
class CallbackAnswer final : public AnswerHandler {
 public:
  explicit CallbackAnswer(AsyncConnection::AnswerFn done) : done_(std::move(done)) {}

  void Answered(AsyncConnection&, const AnswerView& view) override {
    HttpAnswer answer;
    answer.status = view.status;
    answer.keep_alive = view.keep_alive;
    ForEachHeader(view.head, [&](std::string_view name, std::string_view value) {
      answer.headers.emplace_back(name, value);
      return true;
    });
    answer.body.assign(view.body);
    Finish("", std::move(answer));
  }

  void Failed(AsyncConnection&, const std::string& error) override { Finish(error, {}); }

 private:
  void Finish(const std::string& error, HttpAnswer answer) {
    AsyncConnection::AnswerFn done = std::move(done_);
    delete this;
    done(error, std::move(answer));
  }

  AsyncConnection::AnswerFn done_;
};

}  // namespace

std::string_view AnswerView::Header(std::string_view name) const {
  std::string_view found;
  ForEachHeader(head, [&](std::string_view n, std::string_view value) {
    if (!SameIgnoringCase(n, name)) return true;
    found = value;
    return false;
  });
  return found;
}

std::string HttpAnswer::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (SameIgnoringCase(k, name)) return v;
  }
  return {};
}

void AsyncConnection::Exchange(std::string request, AnswerFn done) {
  Exchange(request, *new CallbackAnswer(std::move(done)), /*keep_body=*/true);
}

std::string HttpRequestText(std::string_view method, std::string_view target, std::string_view host,
                            std::string_view body, std::string_view content_type) {
  std::string out;
  out.reserve(128 + target.size() + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: ").append(host);
  out += "\r\nAccept: */*\r\nUser-Agent: hive-bench\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    if (!content_type.empty()) out.append("Content-Type: ").append(content_type).append("\r\n");
  }
  out += "\r\n";
  out.append(body);
  return out;
}

struct AsyncClient::Impl {
  std::string authority;
  sockaddr_in endpoint{};
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<std::thread> threads;
  std::atomic<size_t> next_loop{0};
  std::mutex mu;
  // Every connection opened, owned here: the loops hold plain pointers.
  std::vector<std::shared_ptr<Connection>> connections;  // guarded by mu

  // One OpenMany call.
  struct Batch {
    int n = 0;
    std::atomic<int> next{0};
    SetupFn setup;
    FailedFn failed;
  };

  void Launch(const std::shared_ptr<Batch>& batch) {
    const int i = batch->next++;
    if (i >= batch->n) return;
    Loop& loop = *loops[next_loop++ % loops.size()];
    auto c = std::make_shared<Connection>(loop);
    {
      std::lock_guard lock(mu);
      connections.push_back(c);
    }
    loop.Post([this, batch, c, i] {
      // The callback is kept by the connection: no owning pointer to it.
      c->Connect(endpoint, [this, batch, raw = c.get(), i](const std::string& error) {
        if (!error.empty()) {
          raw->Close();
          batch->failed(i, error);
          return Launch(batch);
        }
        auto once = std::make_shared<std::atomic<bool>>(false);
        batch->setup(i, raw->shared_from_this(), [this, batch, once] {
          if (!once->exchange(true)) Launch(batch);
        });
      });
    });
  }
};

AsyncClient::AsyncClient(const std::string& host, int port, int threads)
    : impl_(std::make_unique<Impl>()) {
  impl_->authority = host + ":" + std::to_string(port);
  impl_->endpoint.sin_family = AF_INET;
  impl_->endpoint.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &impl_->endpoint.sin_addr) != 1) {
    throw std::invalid_argument("async_http: not an IPv4 address: " + host);
  }
  for (int t = 0; t < std::max(1, threads); ++t) {
    impl_->loops.push_back(std::make_unique<Loop>());
  }
  for (auto& loop : impl_->loops) {
    impl_->threads.emplace_back([l = loop.get()] { l->Run(); });
    loop->SetThread(impl_->threads.back().get_id());
  }
}

AsyncClient::~AsyncClient() {
  for (auto& loop : impl_->loops) loop->Stop();
  for (auto& t : impl_->threads) t.join();
  // No callback runs any more: close the connections (dropping the
  // callbacks they keep), free them, then the loops with their tasks and
  // timers (and what those hold).
  std::vector<std::shared_ptr<Connection>> connections;
  {
    std::lock_guard lock(impl_->mu);
    connections.swap(impl_->connections);
  }
  for (auto& c : connections) c->Close();
  connections.clear();
  impl_->loops.clear();
}

void AsyncClient::OpenMany(int n, int window, SetupFn setup, FailedFn failed) {
  auto batch = std::make_shared<Impl::Batch>();
  batch->n = n;
  batch->setup = std::move(setup);
  batch->failed = std::move(failed);
  for (int i = 0; i < std::min(n, std::max(1, window)); ++i) impl_->Launch(batch);
}

const std::string& AsyncClient::authority() const { return impl_->authority; }

}  // namespace hive::bench
