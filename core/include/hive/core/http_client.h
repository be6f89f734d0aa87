// A small blocking HTTP(S) client for hive's own processes (hive-agent,
// hivectl, the Elasticsearch sink, tests). Wraps cpp-httplib so it stays out
// of headers. Connection reuse (keep-alive) is automatic.
//
// TLS: an https:// base URL always verifies the server's certificate, its
// chain against HttpClientOptions::ca_file (or the system's trust store) and
// its subjectAltName against the URL's host. A client certificate is sent
// when cert_file/key_file are set (servers that require one: mutual TLS).
//
// Thread-safety: one thread sends requests; Cancel() may be called from any
// thread at any time.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/clock.h"
#include "hive/core/http.h"
#include "hive/core/status.h"

namespace hive {

// How request bodies are sent: as they are, or compressed (Content-Encoding)
// at a fast level. hived reads both codings; zstd costs a few times less CPU
// on each side than gzip for about the same size.
enum class RequestCoding { kIdentity, kGzip, kZstd };

struct HttpClientOptions {
  // "http://host[:port]" or "https://host[:port]" (ports 80 and 443 by default).
  std::string base_url = "http://127.0.0.1:7070";
  std::string bearer_token;  // sent as Authorization: Bearer …
  Duration connect_timeout = std::chrono::seconds(3);
  Duration read_timeout = std::chrono::seconds(30);
  Duration write_timeout = std::chrono::seconds(30);
  // Bodies of 1 KiB or more are compressed with this coding. A server that
  // answers 415 to zstd (a hived from before it) gets the request again at
  // once as gzip, and gzip from then on.
  RequestCoding request_coding = RequestCoding::kIdentity;
  // https only (InvalidArgument with an http:// base_url). A PEM CA bundle
  // the server's certificate must chain to; empty: the system's trust store.
  std::string ca_file;
  // https only, both or neither: a PEM client certificate (then its chain)
  // and its private key, presented to servers that ask for one.
  std::string cert_file;
  std::string key_file;
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
  // InvalidArgument when base_url is not http(s)://host[:port], or the TLS
  // files are misused or cannot be loaded (the message names the file).
  static Result<std::unique_ptr<HttpClient>> Create(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Transport failures (refused, timed out, reset, TLS handshake) are
  // Unavailable; a server certificate that cannot be verified is Unavailable
  // with a message that says so and names the CA file. Any HTTP answer,
  // including 4xx/5xx, is a response. Aborted when Cancel() came before the
  // request or cut it short. `target` is path plus query.
  Result<HttpClientResponse> Send(std::string_view method, std::string_view target,
                                  std::string_view body = {},
                                  std::string_view content_type = "application/json",
                                  const std::vector<Header>& headers = {});

  Result<HttpClientResponse> Get(std::string_view target, const std::vector<Header>& headers = {}) {
    return Send("GET", target, {}, {}, headers);
  }

  // Streams a GET response to `on_data` as it arrives (SSE, tails); returns
  // when the server ends the stream or on_data returns false. Errors as Send.
  Result<int> GetStream(std::string_view target,
                        const std::function<bool(std::string_view)>& on_data);

  // Aborts the request in flight, if any, at once (also while it connects or
  // does the TLS handshake) and makes every later request return Aborted; a
  // response that had arrived in full is still returned. Thread-safe;
  // calling it again does nothing more.
  void Cancel();

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Impl;
  explicit HttpClient(HttpClientOptions options);
  // Send without the 415 fallback.
  Result<HttpClientResponse> SendOnce(std::string_view method, std::string_view target,
                                      std::string_view body, std::string_view content_type,
                                      const std::vector<Header>& headers);
  HttpClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

// If `response` is an hive error body, returns its message as a Status with
// the code named in it; otherwise a Status built from the HTTP status.
Status StatusFromResponse(const HttpClientResponse& response);

// Percent-encodes a query-string value or a path segment.
std::string UrlEncode(std::string_view s);

}  // namespace hive
