#include "hive/core/http_client.h"

#include <fcntl.h>
#include <httplib.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <nlohmann/json.hpp>

#include "hive/core/log.h"
#include "hive/core/text.h"
#include "http_wire.h"

namespace hive {
namespace {

// Smaller request bodies are sent as they are: the saving would not pay for
// the work.
constexpr size_t kMinCodedBody = 1024;

template <typename D>
std::pair<time_t, time_t> SecUsec(D d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return {static_cast<time_t>(us / 1'000'000), static_cast<time_t>(us % 1'000'000)};
}

// The reasons of this thread's OpenSSL errors, oldest (the cause) first;
// "" when there are none.
std::string OpenSslReason() {
  std::string out;
  while (const unsigned long err = ERR_get_error()) {
    // httplib's own SSL_shutdown after a failed handshake adds this; noise.
    if (ERR_GET_REASON(err) == SSL_R_SHUTDOWN_WHILE_IN_INIT) continue;
    const char* reason = ERR_reason_error_string(err);
    char buf[256];
    if (reason == nullptr) {
      ERR_error_string_n(err, buf, sizeof buf);
      reason = buf;
    }
    if (out.find(reason) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += reason;
  }
  return out;
}

// Loads the CA bundle once up front, so a missing or malformed file is an
// error of Create and not of every request.
Status CheckCaFile(const std::string& path) {
  ERR_clear_error();
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return Status::Internal("X509_STORE_new failed");
  const bool loaded = X509_STORE_load_file(store, path.c_str()) == 1;
  X509_STORE_free(store);
  if (!loaded) {
    const std::string reason = OpenSslReason();
    return Status::InvalidArgument("cannot load the CA file '" + path + "'" +
                                   (reason.empty() ? "" : ": " + reason));
  }
  return Status::Ok();
}

Status UseClientCertificate(SSL_CTX* ctx, const std::string& cert_file,
                            const std::string& key_file) {
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return Status::InvalidArgument("cannot load the client certificate '" + cert_file +
                                   "': " + OpenSslReason());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    return Status::InvalidArgument("cannot load the key '" + key_file +
                                   "' of the client certificate '" + cert_file +
                                   "': " + OpenSslReason());
  }
  return Status::Ok();
}

// OpenSSL writes to the socket with write(2), and Debian's cpp-httplib sends
// plain http with send(2) without MSG_NOSIGNAL, so a peer that has gone (or
// a socket Cancel() shut down) raises SIGPIPE, which kills a process that
// does not ignore it. As libpq does: block SIGPIPE in this thread for the
// call, and take a SIGPIPE the call raised before unblocking it.
// Thread-directed, so other threads are not affected.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe = PipeSet();
    pthread_sigmask(SIG_BLOCK, &pipe, &old_mask_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pipe = PipeSet();
      sigset_t pending;
      sigpending(&pending);
      const timespec now{0, 0};
      if (sigismember(&pending, SIGPIPE) == 1) (void)sigtimedwait(&pipe, nullptr, &now);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  static sigset_t PipeSet() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    return set;
  }
  bool was_pending_ = false;
  sigset_t old_mask_;
};

}  // namespace

// Cancel() must also reach a request that is still connecting or doing its
// TLS handshake: httplib holds its socket mutex then, so Client::stop()
// would wait for the connect timeout. The socket-options hook runs on the
// request's thread for each new socket before it connects; it keeps a
// duplicate of the descriptor, which Cancel() shuts down (a duplicate cannot
// be closed and reused under us), and shuts the socket down itself when the
// cancel came first.
struct HttpClient::Impl {
  ~Impl() {
    ForgetSocket();
    SigpipeGuard guard;  // httplib sends close_notify on a kept-alive TLS connection
    http.reset();
  }

  bool cancelled() {
    std::lock_guard lock(mu);
    return cancelled_;
  }

  void OnNewSocket(int fd) {
    std::lock_guard lock(mu);
    if (connecting_ >= 0) ::close(connecting_);
    connecting_ = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (cancelled_) ::shutdown(fd, SHUT_RDWR);
  }

  // After each request: the socket, if kept alive, is httplib's alone.
  void ForgetSocket() {
    std::lock_guard lock(mu);
    if (connecting_ >= 0) ::close(connecting_);
    connecting_ = -1;
  }

  void Cancel() {
    {
      std::lock_guard lock(mu);
      cancelled_ = true;
      if (connecting_ >= 0) ::shutdown(connecting_, SHUT_RDWR);
    }
    // Shuts down the socket of a request past its handshake, or closes an
    // idle kept-alive one (sending close_notify).
    SigpipeGuard guard;
    http->stop();
  }

  // The Status of a request that got no answer.
  Status TransportError(const HttpClientOptions& options, std::string_view method,
                        std::string_view target, httplib::Error error) {
    const std::string where = std::string(method) + " " + options.base_url + std::string(target);
    if (cancelled()) return Status::Aborted(where + ": cancelled");
    if (error == httplib::Error::SSLServerVerification && tls != nullptr) {
      const long result = tls->get_openssl_verify_result();
      const std::string why = result != X509_V_OK ? X509_verify_cert_error_string(result)
                                                  : "it is not issued for " + host;
      return Status::Unavailable(where + ": the server's certificate could not be verified with " +
                                 (options.ca_file.empty() ? std::string("the system's trust store")
                                                          : "the CA file " + options.ca_file) +
                                 ": " + why);
    }
    std::string detail = httplib::to_string(error);
    if (tls != nullptr) {
      // E.g. the server's alert when it wanted a client certificate.
      if (const std::string reason = OpenSslReason(); !reason.empty()) {
        detail += ": TLS: " + reason;
      }
    }
    return Status::Unavailable(where + ": " + detail);
  }

  std::unique_ptr<httplib::ClientImpl> http;
  httplib::SSLClient* tls = nullptr;  // `http` when the base URL is https
  std::string host;

 private:
  std::mutex mu;
  bool cancelled_ = false;  // GUARDED_BY(mu)
  int connecting_ = -1;     // GUARDED_BY(mu): a dup of the request's new socket
};

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  std::string_view url = options.base_url;
  const bool https = url.starts_with("https://");
  if (!https && !url.starts_with("http://")) {
    return Status::InvalidArgument("address '" + options.base_url +
                                   "' must start with http:// or https:// (e.g. "
                                   "http://127.0.0.1:7070)");
  }
  url.remove_prefix(https ? 8 : 7);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("address '" + options.base_url + "' must not have a path");
  }
  std::string host;
  int port = https ? 443 : 80;
  if (url.find(':') != std::string_view::npos && url.back() != ']') {
    HIVE_RETURN_IF_ERROR(ParseHostPort(url, &host, &port));
  } else {
    host = std::string(url);
  }
  if (host.empty())
    return Status::InvalidArgument("address '" + options.base_url + "' has no host");
  const bool client_cert = !options.cert_file.empty() || !options.key_file.empty();
  if (!https && (!options.ca_file.empty() || client_cert)) {
    return Status::InvalidArgument("address '" + options.base_url +
                                   "' is not https://: a CA file or a client certificate "
                                   "needs https://");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return Status::InvalidArgument(
        "a client certificate needs both its certificate file and its key file");
  }
  if (!options.ca_file.empty()) HIVE_RETURN_IF_ERROR(CheckCaFile(options.ca_file));

  std::unique_ptr<HttpClient> c(new HttpClient(std::move(options)));
  c->impl_ = std::make_unique<Impl>();
  Impl& impl = *c->impl_;
  impl.host = host;
  if (https) {
    auto tls = std::make_unique<httplib::SSLClient>(host, port);
    if (!tls->is_valid()) return Status::Internal("cannot create a TLS context");
    if (client_cert) {
      HIVE_RETURN_IF_ERROR(
          UseClientCertificate(tls->ssl_context(), c->options_.cert_file, c->options_.key_file));
    }
    // Chain and host name; an empty path means the system's trust store.
    tls->enable_server_certificate_verification(true);
    if (!c->options_.ca_file.empty()) tls->set_ca_cert_path(c->options_.ca_file);
    impl.tls = tls.get();
    impl.http = std::move(tls);
  } else {
    impl.http = std::make_unique<httplib::ClientImpl>(host, port);
  }
  auto& hc = *impl.http;
  auto [cs, cu] = SecUsec(c->options_.connect_timeout);
  auto [rs, ru] = SecUsec(c->options_.read_timeout);
  auto [ws, wu] = SecUsec(c->options_.write_timeout);
  hc.set_connection_timeout(cs, cu);
  hc.set_read_timeout(rs, ru);
  hc.set_write_timeout(ws, wu);
  hc.set_keep_alive(true);
  hc.set_tcp_nodelay(true);
  hc.set_socket_options([&impl](socket_t fd) { impl.OnNewSocket(fd); });
  if (!c->options_.bearer_token.empty()) hc.set_bearer_token_auth(c->options_.bearer_token);
  return c;
}

void HttpClient::Cancel() { impl_->Cancel(); }

Result<HttpClientResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                            std::string_view body, std::string_view content_type,
                                            const std::vector<Header>& headers) {
  if (method != "GET" && method != "POST" && method != "PUT" && method != "PATCH" &&
      method != "DELETE") {
    return Status::InvalidArgument("unsupported HTTP method " + std::string(method));
  }
  if (impl_->cancelled()) {
    return Status::Aborted(std::string(method) + " " + options_.base_url + std::string(target) +
                           ": cancelled");
  }
  auto r = SendOnce(method, target, body, content_type, headers);
  if (r.ok() && r->status == 415 && options_.request_coding == RequestCoding::kZstd &&
      body.size() >= kMinCodedBody) {
    log::Info("the server does not read zstd request bodies; sending gzip",
              {{"server", options_.base_url}});
    options_.request_coding = RequestCoding::kGzip;
    r = SendOnce(method, target, body, content_type, headers);
  }
  return r;
}

Result<HttpClientResponse> HttpClient::SendOnce(std::string_view method, std::string_view target,
                                                std::string_view body,
                                                std::string_view content_type,
                                                const std::vector<Header>& headers) {
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  // Compressed here rather than by cpp-httplib: a fast level, and zstd.
  std::string coded;
  if (options_.request_coding != RequestCoding::kIdentity && body.size() >= kMinCodedBody) {
    const bool zstd = options_.request_coding == RequestCoding::kZstd;
    coded = zstd ? http_internal::Zstd(body) : http_internal::Gzip(body);
    if (!coded.empty()) {
      body = coded;
      h.emplace("Content-Encoding", zstd ? "zstd" : "gzip");
    }
  }
  auto& c = *impl_->http;
  const std::string path(target);
  const std::string ct(content_type.empty() ? "application/octet-stream" : content_type);
  SigpipeGuard guard;
  ERR_clear_error();
  httplib::Result r{nullptr, httplib::Error::Unknown};
  if (method == "GET") {
    r = c.Get(path, h);
  } else if (method == "POST") {
    r = c.Post(path, h, body.data(), body.size(), ct);
  } else if (method == "PUT") {
    r = c.Put(path, h, body.data(), body.size(), ct);
  } else if (method == "PATCH") {
    r = c.Patch(path, h, body.data(), body.size(), ct);
  } else {
    r = body.empty() ? c.Delete(path, h) : c.Delete(path, h, body.data(), body.size(), ct);
  }
  impl_->ForgetSocket();
  if (!r) return impl_->TransportError(options_, method, target, r.error());
  HttpClientResponse out;
  out.status = r->status;
  out.body = std::move(r->body);
  for (const auto& [k, v] : r->headers) out.headers.emplace_back(k, v);
  return out;
}

Result<int> HttpClient::GetStream(std::string_view target,
                                  const std::function<bool(std::string_view)>& on_data) {
  if (impl_->cancelled()) {
    return Status::Aborted("GET " + options_.base_url + std::string(target) + ": cancelled");
  }
  int status = 0;
  SigpipeGuard guard;
  ERR_clear_error();
  auto r = impl_->http->Get(
      std::string(target), httplib::Headers{},
      [&](const httplib::Response& res) {
        status = res.status;
        return true;
      },
      [&](const char* data, size_t len) { return on_data(std::string_view(data, len)); });
  impl_->ForgetSocket();
  // Canceled: on_data asked to stop.
  if (!r && r.error() != httplib::Error::Canceled) {
    return impl_->TransportError(options_, "GET", target, r.error());
  }
  return status;
}

std::optional<std::string> HttpClientResponse::HeaderValue(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return std::nullopt;
}

Status StatusFromResponse(const HttpClientResponse& response) {
  if (response.ok()) return Status::Ok();
  auto j = nlohmann::json::parse(response.body, nullptr, false);
  std::string message = "HTTP " + std::to_string(response.status);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& e = j["error"];
    if (e.contains("message") && e["message"].is_string())
      message = e["message"].get<std::string>();
  } else if (!response.body.empty()) {
    message += ": " + response.body.substr(0, 200);
  }
  switch (response.status) {
    case 400:
      return Status::InvalidArgument(message);
    case 401:
      return Status::Unauthenticated(message);
    case 403:
      return Status::PermissionDenied(message);
    case 404:
      return Status::NotFound(message);
    case 409:
      return Status::Aborted(message);
    case 413:
      return Status::TooLarge(message);
    case 429:
      return Status::ResourceExhausted(message);
    case 502:
    case 503:
    case 504:
      return Status::Unavailable(message);
    default:
      return Status::Internal(message);
  }
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace hive
