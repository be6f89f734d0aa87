// A raw TCP client for tests that speak HTTP by hand: partial, slow,
// oversized or hostile requests that no client library would send, and
// connections held open on purpose. Not thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace hive::testing {

class RawConnection {
 public:
  // Connects to 127.0.0.1:`port`, from the local address `source` (another
  // 127.x.y.z, to look like another client) when it is not empty.
  explicit RawConnection(int port, const std::string& source = "");
  ~RawConnection();
  RawConnection(RawConnection&& other) noexcept;
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }

  // Sends all of `bytes`; false when the peer closed or reset first.
  bool Send(std::string_view bytes);

  // One whole HTTP response (its head and a Content-Length body), or what
  // arrived before the peer closed or `timeout` passed.
  std::string ReadResponse(std::chrono::milliseconds timeout);
  // Reads until `needle` was read, the peer closed or `timeout` passed.
  std::string ReadUntil(std::string_view needle, std::chrono::milliseconds timeout);
  // True once the peer closed (or reset) the connection within `timeout`;
  // what it sent meanwhile is dropped.
  bool WaitForClose(std::chrono::milliseconds timeout);

 private:
  // Reads what is there within `timeout`; false on timeout, and sets closed_
  // at end of stream.
  bool ReadSome(std::chrono::steady_clock::time_point deadline);

  int fd_ = -1;
  bool closed_ = false;
  std::string buffer_;
};

// The status code of an HTTP response ("HTTP/1.1 431 ..."), 0 if none.
int StatusOf(std::string_view response);

}  // namespace hive::testing
