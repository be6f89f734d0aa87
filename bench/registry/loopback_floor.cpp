#include "loopback_floor.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace hive::bench {
namespace {

constexpr std::string_view kWatched = "/api/v1/services/watched";
constexpr std::string_view kInstances = "/api/v1/services/watched/instances/";

struct Connection {
  int fd = -1;
  std::string in;   // bytes of requests not handled yet
  std::string out;  // bytes of answers the socket has not taken yet
  bool parked = false;
};

// A header's value from a request head (any case), or "".
std::string_view HeaderValue(std::string_view head, std::string_view name) {
  size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    const size_t start = at + 2;
    const size_t end = head.find("\r\n", start);
    const std::string_view line =
        head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const size_t colon = line.find(':');
    if (colon == name.size()) {
      bool same = true;
      for (size_t i = 0; i < name.size() && same; ++i) {
        same = (line[i] | 0x20) == (name[i] | 0x20);
      }
      if (same) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        return value;
      }
    }
    at = end;
  }
  return {};
}

class FloorServer {
 public:
  FloorServer(int listener, int body_bytes)
      : listener_(listener), body_(static_cast<size_t>(body_bytes), 'x') {
    Render();
  }

  int Run() {
    epoll_ = ::epoll_create1(0);
    if (epoll_ < 0) return 1;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener_;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, listener_, &ev) != 0) return 1;
    std::vector<epoll_event> events(512);
    for (;;) {
      const int n = ::epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), -1);
      if (n < 0 && errno != EINTR) return 1;
      for (int i = 0; i < n; ++i) {
        const int fd = events[static_cast<size_t>(i)].data.fd;
        if (fd == listener_) {
          Accept();
          continue;
        }
        Connection* c = Find(fd);
        if (c == nullptr) continue;
        const uint32_t what = events[static_cast<size_t>(i)].events;
        if ((what & EPOLLOUT) != 0 && !c->out.empty()) Flush(*c);
        if ((what & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) Read(*c);
      }
    }
  }

 private:
  void Accept() {
    for (;;) {
      const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<size_t>(fd) >= connections_.size()) {
        connections_.resize(static_cast<size_t>(fd) + 1);
      }
      connections_[static_cast<size_t>(fd)] = std::make_unique<Connection>();
      connections_[static_cast<size_t>(fd)]->fd = fd;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.fd = fd;
      ::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
    }
  }

  Connection* Find(int fd) {
    if (fd < 0 || static_cast<size_t>(fd) >= connections_.size()) return nullptr;
    return connections_[static_cast<size_t>(fd)].get();
  }

  void Close(Connection& c) {
    const int fd = c.fd;
    ::close(fd);
    connections_[static_cast<size_t>(fd)].reset();  // a parked slot is skipped by its fd
  }

  // Reads what the socket has (edge-triggered: until a short read), then
  // handles every whole request in it.
  void Read(Connection& c) {
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::recv(c.fd, buffer, sizeof buffer, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return Close(c);
      if (n < 0) break;
      c.in.append(buffer, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buffer) break;
    }
    const int fd = c.fd;
    while (Find(fd) != nullptr && !c.parked && HandleOne(c)) {
    }
  }

  // Handles the first request in c.in if it is whole; false if it is not.
  bool HandleOne(Connection& c) {
    const size_t head_end = c.in.find("\r\n\r\n");
    if (head_end == std::string::npos) return false;
    const std::string_view head(c.in.data(), head_end);
    size_t body_bytes = 0;
    const std::string_view length = HeaderValue(head, "Content-Length");
    std::from_chars(length.data(), length.data() + length.size(), body_bytes);
    const size_t whole = head_end + 4 + body_bytes;
    if (c.in.size() < whole) return false;
    const size_t method_end = head.find(' ');
    const size_t target_end = head.find(' ', method_end + 1);
    const std::string_view method = head.substr(0, method_end);
    const std::string_view target = head.substr(method_end + 1, target_end - method_end - 1);
    Handle(c, method, target);
    c.in.erase(0, whole);
    return true;
  }

  void Handle(Connection& c, std::string_view method, std::string_view target) {
    const std::string_view path = target.substr(0, target.find('?'));
    if (method == "GET" && path == kWatched) {
      const size_t at = target.find("index=");
      uint64_t index = 0;
      if (at != std::string_view::npos) {
        std::from_chars(target.data() + at + 6, target.data() + target.size(), index);
      }
      if (at != std::string_view::npos && index == index_) {
        c.parked = true;
        parked_.push_back(c.fd);
        return;
      }
      return Send(c, answer_);
    }
    if (method == "PUT" && path.starts_with(kInstances)) {
      ++index_;
      Render();
      Send(c, Small("{\"index\":" + std::to_string(index_) + "}"));
      return WakeAll();
    }
    if (method == "GET" && path == "/metrics") {
      return Send(c, Small("# the loopback floor\nhive_registry_blocked_watchers " +
                           std::to_string(parked_.size()) + "\n"));
    }
    Send(c, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  }

  // Every parked connection gets the new answer, in one pass.
  void WakeAll() {
    std::vector<int> woken;
    woken.swap(parked_);
    for (const int fd : woken) {
      Connection* c = Find(fd);
      if (c == nullptr || !c->parked) continue;
      c->parked = false;
      Send(*c, answer_);
    }
    for (const int fd : woken) {  // their next requests may have come meanwhile
      if (Connection* c = Find(fd); c != nullptr && !c->in.empty()) {
        while (Find(fd) != nullptr && !c->parked && HandleOne(*c)) {
        }
      }
    }
  }

  void Send(Connection& c, std::string_view bytes) {
    if (!c.out.empty()) {
      c.out.append(bytes);
      return;
    }
    const ssize_t n = ::send(c.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) return;  // the read side sees the end
    const size_t sent = n < 0 ? 0 : static_cast<size_t>(n);
    if (sent < bytes.size()) c.out.assign(bytes.substr(sent));
  }

  void Flush(Connection& c) {
    const ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) c.out.erase(0, static_cast<size_t>(n));
  }

  static std::string Small(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }

  // The watch answer at the current index, with the headers hived sends.
  void Render() {
    answer_ = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Hive-Index: " +
              std::to_string(index_) +
              "\r\nVary: Accept-Encoding\r\nContent-Length: " + std::to_string(body_.size()) +
              "\r\n\r\n" + body_;
  }

  int listener_;
  int epoll_ = -1;
  std::string body_;
  std::string answer_;
  uint64_t index_ = 1;
  std::vector<std::unique_ptr<Connection>> connections_;  // by fd
  std::vector<int> parked_;                               // fds
};

}  // namespace

int RunLoopbackFloor(int port, int body_bytes) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (listener < 0 ||
      ::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, 4096) != 0) {
    std::perror("loopback floor: listen");
    return 1;
  }
  FloorServer server(listener, body_bytes);
  return server.Run();
}

}  // namespace hive::bench
