// The request parser of HttpServer's transport (internal to core, included
// by http_transport.cpp only): a Beast basic_parser that keeps hive's own
// request shape and enforces HttpLimits while it parses.
#pragma once

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "hive/core/http.h"
#include "hive/core/text.h"

namespace hive::http_internal {

namespace beast = boost::beast;
namespace http = boost::beast::http;

// A request parser that keeps hive's own request shape and enforces
// HttpLimits while it parses: the request line and header fields before the
// head is complete (Beast's header limit bounds the bytes it buffers), the
// body as it arrives.
class RequestParser final : public http::basic_parser<true> {
 public:
  enum class Violation { kNone, kRequestLine, kHeaderBytes, kHeaderCount, kBody };

  explicit RequestParser(const HttpLimits& limits) : limits_(limits) {
    const size_t head = limits.max_request_line_bytes + limits.max_header_bytes + 4;
    header_limit(static_cast<std::uint32_t>(std::min<size_t>(head, UINT32_MAX)));
    // The body limit is the route's, enforced below once it is known.
    body_limit(boost::none);
    headers_.reserve(kUsualHeaderCount);
  }

  void SetBodyLimit(size_t limit) { body_max_ = limit; }
  size_t body_limit_bytes() const { return body_max_; }
  Violation violation() const { return violation_; }
  std::string_view method() const { return method_; }
  const std::string& target() const { return target_; }
  int version() const { return version_; }
  std::vector<Header>& headers() { return headers_; }
  std::string& body() { return body_; }
  bool expects_continue() const { return expect_continue_; }

 private:
  void on_request_impl(http::verb, beast::string_view method, beast::string_view target,
                       int version, boost::system::error_code& ec) override {
    if (method.size() + target.size() + 10 > limits_.max_request_line_bytes) {
      violation_ = Violation::kRequestLine;
      ec = http::error::header_limit;
      return;
    }
    method_.assign(method.data(), method.size());
    target_.assign(target.data(), target.size());
    version_ = version;
  }

  void on_response_impl(int, beast::string_view, int, boost::system::error_code& ec) override {
    ec = http::error::bad_method;
  }

  void on_field_impl(http::field name, beast::string_view name_string, beast::string_view value,
                     boost::system::error_code& ec) override {
    if (headers_.size() >= limits_.max_header_count) {
      violation_ = Violation::kHeaderCount;
      ec = http::error::header_limit;
      return;
    }
    header_bytes_ += name_string.size() + value.size() + 4;  // ": " and CRLF
    if (header_bytes_ > limits_.max_header_bytes) {
      violation_ = Violation::kHeaderBytes;
      ec = http::error::header_limit;
      return;
    }
    if (name == http::field::expect && EqualsIgnoreCase(Trim(value), "100-continue")) {
      expect_continue_ = true;
    }
    headers_.emplace_back(std::string(name_string.data(), name_string.size()),
                          std::string(value.data(), value.size()));
  }

  void on_header_impl(boost::system::error_code&) override {}

  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::system::error_code& ec) override {
    if (content_length && *content_length > body_max_) {
      violation_ = Violation::kBody;
      ec = http::error::body_limit;
      return;
    }
    if (content_length) body_.reserve(static_cast<size_t>(*content_length));
  }

  size_t on_body_impl(beast::string_view data, boost::system::error_code& ec) override {
    return Append(data, ec);
  }

  void on_chunk_header_impl(std::uint64_t size, beast::string_view,
                            boost::system::error_code& ec) override {
    if (size > body_max_ - std::min(body_max_, body_.size())) {
      violation_ = Violation::kBody;
      ec = http::error::body_limit;
    }
  }

  size_t on_chunk_body_impl(std::uint64_t, beast::string_view data,
                            boost::system::error_code& ec) override {
    return Append(data, ec);
  }

  void on_finish_impl(boost::system::error_code&) override {}

  size_t Append(beast::string_view data, boost::system::error_code& ec) {
    if (body_.size() + data.size() > body_max_) {
      violation_ = Violation::kBody;
      ec = http::error::body_limit;
      return 0;
    }
    body_.append(data.data(), data.size());
    return data.size();
  }

  static constexpr size_t kUsualHeaderCount = 12;

  const HttpLimits& limits_;
  Violation violation_ = Violation::kNone;
  bool expect_continue_ = false;
  std::string method_;
  std::string target_;
  int version_ = 11;
  std::vector<Header> headers_;
  size_t header_bytes_ = 0;
  std::string body_;
  size_t body_max_ = 0;
};

}  // namespace hive::http_internal
