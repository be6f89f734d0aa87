#include "async_http.h"

#include <errno.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>

namespace hive::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr uint64_t kMaxAnswerBytes = 64u << 20;
// Beast reads at most what the buffer has room for (512 bytes at first); an
// answer of several KiB would otherwise take a dozen reads.
constexpr size_t kReadBufferBytes = 16u << 10;

bool SameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

class Connection final : public AsyncConnection, public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(asio::io_context& io) : socket_(io) {}

  tcp::socket& socket() { return socket_; }

  void Exchange(std::string request, AnswerFn done) override {
    CancelAwait();
    request_ = std::move(request);
    asio::async_write(
        socket_, asio::buffer(request_),
        [self = shared_from_this(), done = std::move(done)](const error_code& ec, size_t) mutable {
          if (ec) return done("write: " + ec.message(), {});
          self->ReadAnswer(std::move(done));
        });
  }

  void Stream(std::string request, DataFn on_data, EndFn on_end) override {
    CancelAwait();
    request_ = std::move(request);
    asio::async_write(
        socket_, asio::buffer(request_),
        [self = shared_from_this(), on_data = std::move(on_data), on_end = std::move(on_end)](
            const error_code& ec, size_t) mutable {
          if (self->closed_) return;
          if (ec) return on_end("write: " + ec.message());
          self->buffer_.reserve(kReadBufferBytes);
          self->parser_.emplace();
          self->parser_->body_limit(boost::none);
          http::async_read_header(
              self->socket_, self->buffer_, *self->parser_,
              [self, on_data = std::move(on_data), on_end = std::move(on_end)](const error_code& ec,
                                                                               size_t) mutable {
                if (self->closed_) return;
                if (ec) return on_end("read head: " + ec.message());
                if (self->parser_->get().result_int() != 200) {
                  return on_end("status " + std::to_string(self->parser_->get().result_int()));
                }
                self->ReadStream(std::move(on_data), std::move(on_end));
              });
        });
  }

  void AwaitClose(EndFn closed) override {
    const uint64_t gen = ++await_gen_;
    awaiting_ = true;
    socket_.async_wait(
        tcp::socket::wait_read,
        [self = shared_from_this(), gen, closed = std::move(closed)](const error_code& ec) mutable {
          if (gen != self->await_gen_ || self->closed_) return;
          self->awaiting_ = false;
          if (ec) return closed(ec.message());
          char c;
          const ssize_t n = ::recv(self->socket_.native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
          if (n == 0) return closed("closed by the server");
          if (n > 0) return closed("the server sent bytes nobody asked for");
          if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return self->AwaitClose(std::move(closed));
          }
          closed(std::strerror(errno));
        });
  }

  void After(std::chrono::steady_clock::duration delay, std::function<void()> fn) override {
    auto timer = std::make_shared<asio::steady_timer>(socket_.get_executor(), delay);
    timer->async_wait([timer, self = shared_from_this(), fn = std::move(fn)](const error_code& ec) {
      if (!ec && !self->closed_) fn();
    });
  }

  void Close() override {
    closed_ = true;
    error_code ignored;
    socket_.close(ignored);
  }

 private:
  void CancelAwait() {
    if (!awaiting_) return;
    awaiting_ = false;
    ++await_gen_;
    error_code ignored;
    socket_.cancel(ignored);
  }

  void ReadAnswer(AnswerFn done) {
    buffer_.reserve(kReadBufferBytes);
    parser_.emplace();
    parser_->body_limit(kMaxAnswerBytes);
    http::async_read(
        socket_, buffer_, *parser_,
        [self = shared_from_this(), done = std::move(done)](const error_code& ec, size_t) mutable {
          if (ec) return done("read: " + ec.message(), {});
          auto& message = self->parser_->get();
          HttpAnswer answer;
          answer.status = message.result_int();
          for (const auto& field : message) {
            answer.headers.emplace_back(std::string(field.name_string()),
                                        std::string(field.value()));
          }
          answer.body = std::move(message.body());
          self->parser_.reset();
          done("", std::move(answer));
        });
  }

  // Hands over what the parser put in the body after each read.
  void ReadStream(DataFn on_data, EndFn on_end) {
    std::string& body = parser_->get().body();
    if (!body.empty()) {
      std::string piece;
      piece.swap(body);
      if (!on_data(piece)) return Close();
    }
    if (parser_->is_done()) return on_end("");
    http::async_read_some(socket_, buffer_, *parser_,
                          [self = shared_from_this(), on_data = std::move(on_data),
                           on_end = std::move(on_end)](const error_code& ec, size_t) mutable {
                            if (self->closed_) return;
                            if (ec) return on_end("read: " + ec.message());
                            self->ReadStream(std::move(on_data), std::move(on_end));
                          });
  }

  tcp::socket socket_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  std::string request_;
  bool awaiting_ = false;
  uint64_t await_gen_ = 0;
  bool closed_ = false;
};

}  // namespace

std::string HttpAnswer::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (SameIgnoringCase(k, name)) return v;
  }
  return {};
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
  using WorkGuard = asio::executor_work_guard<asio::io_context::executor_type>;

  std::string authority;
  tcp::endpoint endpoint;
  std::vector<std::unique_ptr<asio::io_context>> ios;
  std::vector<WorkGuard> guards;
  std::vector<std::thread> threads;
  std::atomic<size_t> next_io{0};
  std::mutex mu;
  std::vector<std::weak_ptr<Connection>> connections;  // guarded by mu

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
    asio::io_context& io = *ios[next_io++ % ios.size()];
    auto c = std::make_shared<Connection>(io);
    {
      std::lock_guard lock(mu);
      connections.push_back(c);
    }
    c->socket().async_connect(endpoint, [this, batch, c, i](const error_code& ec) {
      if (ec) {
        batch->failed(i, "connect: " + ec.message());
        return Launch(batch);
      }
      error_code ignored;
      c->socket().set_option(tcp::no_delay(true), ignored);
      auto once = std::make_shared<std::atomic<bool>>(false);
      batch->setup(i, c, [this, batch, once] {
        if (!once->exchange(true)) Launch(batch);
      });
    });
  }
};

AsyncClient::AsyncClient(const std::string& host, int port, int threads)
    : impl_(std::make_unique<Impl>()) {
  impl_->authority = host + ":" + std::to_string(port);
  impl_->endpoint = tcp::endpoint(asio::ip::make_address(host), static_cast<uint16_t>(port));
  for (int t = 0; t < std::max(1, threads); ++t) {
    impl_->ios.push_back(std::make_unique<asio::io_context>(1));
    impl_->guards.emplace_back(impl_->ios.back()->get_executor());
  }
  for (auto& io : impl_->ios) {
    impl_->threads.emplace_back([io = io.get()] { io->run(); });
  }
}

AsyncClient::~AsyncClient() {
  {
    std::lock_guard lock(impl_->mu);
    for (auto& weak : impl_->connections) {
      if (auto c = weak.lock()) {
        asio::post(c->socket().get_executor(), [c] { c->Close(); });
      }
    }
  }
  for (auto& g : impl_->guards) g.reset();
  for (auto& io : impl_->ios) io->stop();
  for (auto& t : impl_->threads) t.join();
  // Destroying the contexts destroys the handlers still queued, and with
  // them the connections they hold.
  impl_->ios.clear();
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
