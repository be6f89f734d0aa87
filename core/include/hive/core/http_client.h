// A small blocking HTTP client for hive's own processes (hive-agent, hivectl,
// tests). Wraps cpp-httplib so it stays out of headers. Not thread-safe: use
// one HttpClient per thread. Connection reuse (keep-alive) is automatic.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/http.h"
#include "hive/core/status.h"

namespace hive {

struct HttpClientOptions {
  // "http://host:port" (https is not supported yet).
  std::string base_url = "http://127.0.0.1:7070";
  std::string bearer_token;  // sent as Authorization: Bearer …
  Duration connect_timeout = std::chrono::seconds(3);
  Duration read_timeout = std::chrono::seconds(30);
  Duration write_timeout = std::chrono::seconds(30);
  bool gzip_requests = false;  // compress request bodies
};

struct HttpClientResponse {
  int status = 0;
  std::string body;
  std::vector<Header> headers;
  std::optional<std::string> HeaderValue(std::string_view name) const;
  bool ok() const { return status >= 200 && status < 300; }
};

class HttpClient {
 public:
  // InvalidArgument when base_url is not http://host[:port].
  static Result<std::unique_ptr<HttpClient>> Create(HttpClientOptions options);
  ~HttpClient();

  // Transport failures (refused, timed out, reset) are Unavailable; any HTTP
  // answer, including 4xx/5xx, is a response. `target` is path plus query.
  Result<HttpClientResponse> Send(std::string_view method, std::string_view target,
                                  std::string_view body = {},
                                  std::string_view content_type = "application/json",
                                  const std::vector<Header>& headers = {});

  Result<HttpClientResponse> Get(std::string_view target, const std::vector<Header>& headers = {}) {
    return Send("GET", target, {}, {}, headers);
  }

  // Streams a GET response to `on_data` as it arrives (SSE, tails); returns
  // when the server ends the stream or on_data returns false.
  Result<int> GetStream(std::string_view target,
                        const std::function<bool(std::string_view)>& on_data);

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Impl;
  explicit HttpClient(HttpClientOptions options);
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// If `response` is an hive error body, returns its message as a Status with
// the code named in it; otherwise a Status built from the HTTP status.
Status StatusFromResponse(const HttpClientResponse& response);

// Percent-encodes a query-string value or a path segment.
std::string UrlEncode(std::string_view s);

}  // namespace hive
