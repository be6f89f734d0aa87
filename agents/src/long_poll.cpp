#include "long_poll.h"

#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hive/core/http.h"
#include "hive/core/text.h"

namespace hive::agent {
namespace {

using Steady = std::chrono::steady_clock;

constexpr size_t kMaxAnswer = 64u << 20;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Closes the socket on every path out of Get.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<std::string> DecodeChunked(std::string_view in) {
  std::string out;
  while (true) {
    const size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return Status::Unavailable("truncated chunked answer");
    size_t size = 0;
    const std::string_view hex = in.substr(0, eol);
    size_t i = 0;
    for (; i < hex.size(); ++i) {
      const char c = hex[i];
      int v;
      if (c >= '0' && c <= '9')
        v = c - '0';
      else if (c >= 'a' && c <= 'f')
        v = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v = c - 'A' + 10;
      else
        break;  // chunk extensions
      size = size * 16 + static_cast<size_t>(v);
      if (size > kMaxAnswer) return Status::Unavailable("chunk too large");
    }
    if (i == 0) return Status::Unavailable("bad chunk size");
    in.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (in.size() < size + 2) return Status::Unavailable("truncated chunked answer");
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

}  // namespace

Result<std::unique_ptr<CancellableGet>> CancellableGet::Create(std::string_view base_url,
                                                               std::string bearer_token) {
  std::string_view url = base_url;
  if (!url.starts_with("http://")) {
    return Status::InvalidArgument("address '" + std::string(base_url) +
                                   "' must start with http://");
  }
  url.remove_prefix(7);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  std::string host;
  int port = 80;
  if (url.find(':') != std::string_view::npos && url.back() != ']') {
    HIVE_RETURN_IF_ERROR(ParseHostPort(url, &host, &port));
  } else {
    host = std::string(url);
  }
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host.find('/') != std::string::npos) {
    return Status::InvalidArgument("address '" + std::string(base_url) +
                                   "' is not http://host:port");
  }
  const int wake = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake < 0) return Status::Internal(std::string("eventfd: ") + std::strerror(errno));
  return std::unique_ptr<CancellableGet>(
      new CancellableGet(std::move(host), port, std::move(bearer_token), wake));
}

CancellableGet::~CancellableGet() { ::close(wake_fd_); }

void CancellableGet::Cancel() {
  const uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

Result<HttpClientResponse> CancellableGet::Get(std::string_view target, Duration timeout) {
  const auto deadline = Steady::now() + std::chrono::duration_cast<Steady::duration>(timeout);
  const std::string where =
      "GET http://" + host_ + ":" + std::to_string(port_) + std::string(target);
  // Waits until `fd` is ready for `events`, the deadline passes or Cancel().
  auto wait = [&](int fd, short events) -> Status {
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now());
      if (left.count() <= 0) return Status::Unavailable(where + ": timed out");
      pollfd fds[2] = {{fd, events, 0}, {wake_fd_, POLLIN, 0}};
      const int n = ::poll(fds, 2, static_cast<int>(left.count()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::Unavailable(where + ": poll: " + std::strerror(errno));
      if (fds[1].revents != 0) return Status::Aborted(where + ": cancelled");
      if (fds[0].revents != 0) return Status::Ok();
    }
  };
  {
    pollfd p{wake_fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) == 1) return Status::Aborted(where + ": cancelled");
  }

  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (const int rc = ::getaddrinfo(host_.c_str(), std::to_string(port_).c_str(), &hints, &res);
      rc != 0) {
    return Status::Unavailable(where + ": cannot resolve " + host_ + ": " + ::gai_strerror(rc));
  }
  Fd sock;
  Status connect_status = Status::Unavailable(where + ": no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    Fd s{::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol)};
    if (s.fd < 0) continue;
    if (::connect(s.fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        connect_status = Status::Unavailable(where + ": " + std::strerror(errno));
        continue;
      }
      connect_status = wait(s.fd, POLLOUT);
      if (connect_status.IsAborted()) break;
      if (!connect_status.ok()) continue;
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        connect_status = Status::Unavailable(where + ": " + std::strerror(err));
        continue;
      }
    }
    connect_status = Status::Ok();
    std::swap(sock.fd, s.fd);
    break;
  }
  ::freeaddrinfo(res);
  if (!connect_status.ok()) return connect_status;

  std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: " + host_ + ":" +
                        std::to_string(port_) +
                        "\r\nAccept: application/json\r\nConnection: close\r\n";
  if (!token_.empty()) request += "Authorization: Bearer " + token_ + "\r\n";
  request += "\r\n";
  std::string_view pending = request;
  while (!pending.empty()) {
    const ssize_t n = ::send(sock.fd, pending.data(), pending.size(), MSG_NOSIGNAL);
    if (n > 0) {
      pending.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      HIVE_RETURN_IF_ERROR(wait(sock.fd, POLLOUT));
    } else {
      return Status::Unavailable(where + ": send: " + std::strerror(errno));
    }
  }

  std::string raw;
  char buf[16384];
  while (true) {
    const ssize_t n = ::recv(sock.fd, buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      if (raw.size() > kMaxAnswer) return Status::Unavailable(where + ": answer too large");
    } else if (n == 0) {
      break;
    } else if (errno == EAGAIN || errno == EINTR) {
      HIVE_RETURN_IF_ERROR(wait(sock.fd, POLLIN));
    } else {
      return Status::Unavailable(where + ": recv: " + std::strerror(errno));
    }
  }

  const size_t head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos || !raw.starts_with("HTTP/1.")) {
    return Status::Unavailable(where + ": malformed answer");
  }
  HttpClientResponse out;
  const std::string_view head(raw.data(), head_end);
  const auto lines = Split(head, '\n');
  const std::string_view status_line = Trim(lines[0]);
  const size_t sp = status_line.find(' ');
  if (sp == std::string_view::npos || status_line.size() < sp + 4) {
    return Status::Unavailable(where + ": malformed status line");
  }
  for (char c : status_line.substr(sp + 1, 3)) {
    if (c < '0' || c > '9') return Status::Unavailable(where + ": malformed status line");
    out.status = out.status * 10 + (c - '0');
  }
  bool chunked = false;
  std::optional<size_t> content_length;
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string_view line = Trim(lines[i]);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name(Trim(line.substr(0, colon)));
    std::string value(Trim(line.substr(colon + 1)));
    if (EqualsIgnoreCase(name, "Transfer-Encoding") && value.find("chunked") != std::string::npos) {
      chunked = true;
    }
    if (EqualsIgnoreCase(name, "Content-Length")) {
      size_t v = 0;
      for (char c : value) {
        if (c < '0' || c > '9') break;
        v = v * 10 + static_cast<size_t>(c - '0');
      }
      content_length = v;
    }
    out.headers.emplace_back(std::move(name), std::move(value));
  }
  std::string_view body(raw.data() + head_end + 4, raw.size() - head_end - 4);
  if (chunked) {
    auto decoded = DecodeChunked(body);
    if (!decoded.ok()) return Status::Unavailable(where + ": " + decoded.status().message());
    out.body = std::move(*decoded);
  } else {
    if (content_length) {
      if (body.size() < *content_length) return Status::Unavailable(where + ": truncated answer");
      body = body.substr(0, *content_length);
    }
    out.body = std::string(body);
  }
  return out;
}

}  // namespace hive::agent
