#include "hive/core/http_client.h"

#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "hive/core/text.h"

namespace hive {
namespace {

template <typename D>
std::pair<time_t, time_t> SecUsec(D d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  return {static_cast<time_t>(us / 1'000'000), static_cast<time_t>(us % 1'000'000)};
}

}  // namespace

struct HttpClient::Impl {
  explicit Impl(const std::string& host, int port) : client(host, port) {}
  httplib::Client client;
};

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Create(HttpClientOptions options) {
  std::string_view url = options.base_url;
  if (!url.starts_with("http://")) {
    return Status::InvalidArgument("address '" + options.base_url +
                                   "' must start with http:// (e.g. http://127.0.0.1:7070)");
  }
  url.remove_prefix(7);
  while (!url.empty() && url.back() == '/') url.remove_suffix(1);
  if (url.find('/') != std::string_view::npos) {
    return Status::InvalidArgument("address '" + options.base_url + "' must not have a path");
  }
  std::string host;
  int port = 80;
  if (url.find(':') != std::string_view::npos && url.back() != ']') {
    HIVE_RETURN_IF_ERROR(ParseHostPort(url, &host, &port));
  } else {
    host = std::string(url);
  }
  if (host.empty())
    return Status::InvalidArgument("address '" + options.base_url + "' has no host");
  std::unique_ptr<HttpClient> c(new HttpClient(std::move(options)));
  c->impl_ = std::make_unique<Impl>(host, port);
  auto& hc = c->impl_->client;
  auto [cs, cu] = SecUsec(c->options_.connect_timeout);
  auto [rs, ru] = SecUsec(c->options_.read_timeout);
  auto [ws, wu] = SecUsec(c->options_.write_timeout);
  hc.set_connection_timeout(cs, cu);
  hc.set_read_timeout(rs, ru);
  hc.set_write_timeout(ws, wu);
  hc.set_keep_alive(true);
  hc.set_tcp_nodelay(true);
  hc.set_compress(c->options_.gzip_requests);
  if (!c->options_.bearer_token.empty()) hc.set_bearer_token_auth(c->options_.bearer_token);
  return c;
}

Result<HttpClientResponse> HttpClient::Send(std::string_view method, std::string_view target,
                                            std::string_view body, std::string_view content_type,
                                            const std::vector<Header>& headers) {
  httplib::Headers h;
  for (const auto& [k, v] : headers) h.emplace(k, v);
  auto& c = impl_->client;
  const std::string path(target);
  httplib::Result r{nullptr, httplib::Error::Unknown};
  const std::string ct(content_type.empty() ? "application/octet-stream" : content_type);
  if (method == "GET") {
    r = c.Get(path, h);
  } else if (method == "POST") {
    r = c.Post(path, h, body.data(), body.size(), ct);
  } else if (method == "PUT") {
    r = c.Put(path, h, body.data(), body.size(), ct);
  } else if (method == "PATCH") {
    r = c.Patch(path, h, body.data(), body.size(), ct);
  } else if (method == "DELETE") {
    r = body.empty() ? c.Delete(path, h) : c.Delete(path, h, body.data(), body.size(), ct);
  } else {
    return Status::InvalidArgument("unsupported HTTP method " + std::string(method));
  }
  if (!r) {
    return Status::Unavailable(std::string(method) + " " + options_.base_url + path + ": " +
                               httplib::to_string(r.error()));
  }
  HttpClientResponse out;
  out.status = r->status;
  out.body = std::move(r->body);
  for (const auto& [k, v] : r->headers) out.headers.emplace_back(k, v);
  return out;
}

Result<int> HttpClient::GetStream(std::string_view target,
                                  const std::function<bool(std::string_view)>& on_data) {
  int status = 0;
  auto r = impl_->client.Get(
      std::string(target), httplib::Headers{},
      [&](const httplib::Response& res) {
        status = res.status;
        return true;
      },
      [&](const char* data, size_t len) { return on_data(std::string_view(data, len)); });
  if (!r && r.error() != httplib::Error::Canceled) {
    return Status::Unavailable("GET " + options_.base_url + std::string(target) + ": " +
                               httplib::to_string(r.error()));
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
