// The HTTP server's request reading, as its transport does it: the bytes of
// a connection, cut into reads at points the input chooses, go through the
// request parser with small limits; the head's target is split, its
// encodings read, its body decoded; an answer carrying the request's header
// values is serialised. Invariants: no limit is ever exceeded (header count
// and bytes, request line, body, decoded body), a path always starts with
// '/', and a serialised head has exactly one line per header whatever the
// values hold.
#include <boost/asio/buffer.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "hive/core/http.h"
#include "http_request_parser.h"
#include "http_wire.h"

namespace {

using hive::http_internal::RequestParser;

constexpr size_t kBodyLimit = 2048;
constexpr size_t kDecodedLimit = 4096;

hive::HttpLimits SmallLimits() {
  hive::HttpLimits limits;
  limits.max_request_line_bytes = 256;
  limits.max_header_bytes = 1024;
  limits.max_header_count = 16;
  return limits;
}

size_t CountCrlf(std::string_view s) {
  size_t n = 0;
  for (size_t at = s.find("\r\n"); at != std::string_view::npos; at = s.find("\r\n", at + 2)) ++n;
  return n;
}

void CheckHead(RequestParser& parser) {
  FUZZ_CHECK(parser.headers().size() <= 16);
  size_t bytes = 0;
  for (const auto& [name, value] : parser.headers()) bytes += name.size() + value.size() + 4;
  FUZZ_CHECK(bytes <= 1024);
  FUZZ_CHECK(parser.method().size() + parser.target().size() + 10 <= 256);

  hive::HttpRequest req;
  req.headers = parser.headers();
  if (hive::http_internal::SplitTarget(parser.target(), req)) {
    FUZZ_CHECK(!req.path.empty() && req.path.front() == '/');
  }
  (void)hive::http_internal::AcceptsGzip(req.headers);

  // An answer echoing the request's header values still has one line each.
  hive::HttpResponse res;
  for (const auto& [name, value] : req.headers) res.SetHeader("X-Echo", value);
  const std::string head = hive::http_internal::SerializeHead(res, 0, false, true);
  // Status line, Content-Type, the echoes, Content-Length, Connection, blank.
  FUZZ_CHECK(CountCrlf(head) == 1 + 1 + res.headers.size() + 1 + 1 + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = hive::fuzz::AsText(data, size);
  // The first byte chooses where the reads are cut.
  const size_t step = input.empty() ? 1 : 1 + static_cast<unsigned char>(input.front()) % 64;
  if (!input.empty()) input.remove_prefix(1);

  const hive::HttpLimits limits = SmallLimits();
  RequestParser parser(limits);
  std::string pending;
  bool head_checked = false;
  boost::system::error_code ec;
  for (size_t at = 0; at < input.size() && !parser.is_done();) {
    const size_t take = std::min(step, input.size() - at);
    pending.append(input.substr(at, take));
    at += take;
    while (!pending.empty() && !parser.is_done()) {
      const size_t used = parser.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (parser.is_header_done() && !head_checked) {
        head_checked = true;
        CheckHead(parser);
        parser.SetBodyLimit(kBodyLimit);
      }
      if (ec) break;
    }
    if (ec && ec != boost::beast::http::error::need_more) break;
    ec = {};
  }
  if (!parser.is_done()) return 0;
  FUZZ_CHECK(parser.body().size() <= kBodyLimit);
  std::string body = std::move(parser.body());
  for (const auto& [name, value] : parser.headers()) {
    if (!hive::EqualsIgnoreCase(name, "Content-Encoding")) continue;
    if (hive::http_internal::DecodeBody(value, kDecodedLimit, &body).ok()) {
      FUZZ_CHECK(body.size() <= kDecodedLimit);
    }
    break;
  }
  return 0;
}
