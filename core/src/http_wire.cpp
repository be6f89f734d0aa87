#include "http_wire.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "hive/core/text.h"

namespace hive::http_internal {
namespace {

// Bodies smaller than this are sent as they are: the saving would not pay
// for the work.
constexpr size_t kMinCompressBytes = 1024;

bool Compressible(std::string_view content_type) {
  const std::string_view type = Trim(content_type.substr(0, content_type.find(';')));
  if (EqualsIgnoreCase(type, "text/event-stream")) return false;
  if (type.size() > 5 && EqualsIgnoreCase(type.substr(0, 5), "text/")) return true;
  for (std::string_view t : {"application/json", "application/javascript", "application/xml",
                             "application/x-ndjson", "image/svg+xml"}) {
    if (EqualsIgnoreCase(type, t)) return true;
  }
  return false;
}

// The largest window a zstd body may use (8 MiB): the decoder's memory per
// request. Fast levels use far less.
constexpr int kMaxZstdWindowLog = 23;

// What `size_hint` claims, within `limit`: room reserved up front so a large
// body is not copied at every doubling. Only reserved, never written, so a
// false claim costs address space, not memory.
void ReserveFor(uint64_t size_hint, size_t limit, std::string* out) {
  out->reserve(static_cast<size_t>(std::min<uint64_t>(size_hint, limit)));
}

// Inflates `in` with `window_bits`; TooLarge past `limit` bytes.
Status Inflate(std::string_view in, int window_bits, size_t limit, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Status::Internal("zlib: inflateInit2 failed");
  out->clear();
  if (window_bits > 15 && in.size() >= 18) {
    // gzip ends with the decoded size (mod 2^32) of its last member.
    const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    ReserveFor(uint64_t{t[0]} | uint64_t{t[1]} << 8 | uint64_t{t[2]} << 16 | uint64_t{t[3]} << 24,
               limit, out);
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char chunk[16384];
  int rc = Z_OK;
  Status status;
  while (true) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk);
    zs.avail_out = sizeof chunk;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      status = Status::InvalidArgument("the request body is not valid " +
                                       std::string(window_bits < 0 ? "deflate" : "gzip") + " data");
      break;
    }
    const size_t produced = sizeof chunk - zs.avail_out;
    if (out->size() + produced > limit) {
      status =
          Status::TooLarge("request body is over the limit of " + std::to_string(limit) + " bytes");
      break;
    }
    out->append(chunk, produced);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0) break;
      // Another gzip member follows (concatenated streams are valid gzip).
      if (inflateReset(&zs) != Z_OK) {
        status = Status::InvalidArgument("the request body is not valid gzip data");
        break;
      }
      continue;
    }
    if (rc == Z_BUF_ERROR && produced == 0) {
      status = Status::InvalidArgument("the request body ends inside its compressed data");
      break;
    }
  }
  inflateEnd(&zs);
  return status;
}

// Decodes zstd frames (one or several, as concatenated streams are valid);
// TooLarge past `limit` bytes.
Status Unzstd(std::string_view in, size_t limit, std::string* out) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!dctx) return Status::Internal("zstd: cannot create a decoder");
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kMaxZstdWindowLog);
  out->clear();
  const unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    ReserveFor(declared, limit, out);
  }
  ZSTD_inBuffer input{in.data(), in.size(), 0};
  char chunk[16384];
  size_t rc = 0;
  while (true) {
    ZSTD_outBuffer output{chunk, sizeof chunk, 0};
    rc = ZSTD_decompressStream(dctx.get(), &output, &input);
    if (ZSTD_isError(rc)) {
      return Status::InvalidArgument(std::string("the request body is not valid zstd data (") +
                                     ZSTD_getErrorName(rc) + ")");
    }
    if (out->size() + output.pos > limit) {
      return Status::TooLarge("request body is over the limit of " + std::to_string(limit) +
                              " bytes");
    }
    out->append(chunk, output.pos);
    if (input.pos == input.size && output.pos < output.size) break;
  }
  // rc is 0 at the end of a frame; otherwise the input stopped inside one.
  if (rc != 0) return Status::InvalidArgument("the request body ends inside its zstd data");
  return Status::Ok();
}

// Compresses with `compress(dst, capacity)` into an unwritten buffer of
// `bound` bytes (only the pages written are touched), then copies the
// result out; empty when `compress` returns 0.
template <typename Compress>
std::string CompressInto(size_t bound, Compress compress) {
  std::unique_ptr<char[]> buffer(new char[bound]);
  const size_t n = compress(buffer.get(), bound);
  return std::string(buffer.get(), n);
}

}  // namespace

std::string Zstd(std::string_view in) {
  return CompressInto(ZSTD_compressBound(in.size()), [&](char* dst, size_t capacity) -> size_t {
    const size_t n = ZSTD_compress(dst, capacity, in.data(), in.size(), 1);
    return ZSTD_isError(n) ? 0 : n;
  });
}

namespace {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

// A header value may come from data; a line break in it would end the head.
void AppendHeaderLine(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  for (char c : value) out += (c == '\r' || c == '\n') ? ' ' : c;
  out += "\r\n";
}

// Decodes %XX; with `plus_is_space` also '+' (query strings). Malformed
// escapes are kept as they are.
std::string PercentDecode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size() && hex(in[i + 1]) >= 0 && hex(in[i + 2]) >= 0) {
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}
}  // namespace

bool SupportedEncoding(std::string_view encoding) {
  encoding = Trim(encoding);
  return encoding.empty() || EqualsIgnoreCase(encoding, "identity") ||
         EqualsIgnoreCase(encoding, "gzip") || EqualsIgnoreCase(encoding, "x-gzip") ||
         EqualsIgnoreCase(encoding, "deflate") || EqualsIgnoreCase(encoding, "zstd");
}

Status DecodeBody(std::string_view encoding, size_t limit, std::string* body) {
  encoding = Trim(encoding);
  if (encoding.empty() || EqualsIgnoreCase(encoding, "identity")) return Status::Ok();
  std::string out;
  if (EqualsIgnoreCase(encoding, "gzip") || EqualsIgnoreCase(encoding, "x-gzip")) {
    HIVE_RETURN_IF_ERROR(Inflate(*body, 15 + 16, limit, &out));
  } else if (EqualsIgnoreCase(encoding, "deflate")) {
    // HTTP's "deflate" is zlib-wrapped; some clients send it raw.
    Status zlib = Inflate(*body, 15, limit, &out);
    if (zlib.code() == StatusCode::kInvalidArgument) {
      HIVE_RETURN_IF_ERROR(Inflate(*body, -15, limit, &out));
    } else {
      HIVE_RETURN_IF_ERROR(zlib);
    }
  } else if (EqualsIgnoreCase(encoding, "zstd")) {
    HIVE_RETURN_IF_ERROR(Unzstd(*body, limit, &out));
  } else {
    return Status::InvalidArgument("unsupported Content-Encoding '" +
                                   std::string(encoding.substr(0, 64)) + "' (use " +
                                   std::string(kAcceptedCodings) + ")");
  }
  *body = std::move(out);
  return Status::Ok();
}

std::string Gzip(std::string_view in) {
  z_stream zs{};
  // Level 1: most of the saving on JSON and text for a fraction of the CPU.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out =
      CompressInto(deflateBound(&zs, static_cast<uLong>(in.size())), [&](char* dst, size_t cap) {
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
        zs.avail_in = static_cast<uInt>(in.size());
        zs.next_out = reinterpret_cast<Bytef*>(dst);
        zs.avail_out = static_cast<uInt>(cap);
        return deflate(&zs, Z_FINISH) == Z_STREAM_END ? static_cast<size_t>(zs.total_out) : 0;
      });
  deflateEnd(&zs);
  return out;
}

void CompressIfWorthIt(const Exchange& x, HttpResponse& res) {
  if (!Compressible(res.content_type)) return;
  for (const auto& [name, value] : res.headers) {
    if (EqualsIgnoreCase(name, "Content-Encoding")) return;
  }
  res.SetHeader("Vary", "Accept-Encoding");
  const size_t size = res.shared_body ? res.shared_body->bytes().size() : res.body.size();
  if (!x.accepts_gzip || x.head_only || size < kMinCompressBytes) return;
  if (res.shared_body) {
    const std::string& gz = res.shared_body->gzipped();
    if (gz.empty() || gz.size() >= size) return;
  } else {
    std::string gz = Gzip(res.body);
    if (gz.empty() || gz.size() >= size) return;
    res.body = std::move(gz);
  }
  res.SetHeader("Content-Encoding", "gzip");
}

const std::string& BodyToSend(const HttpResponse& res) {
  if (!res.shared_body) return res.body;
  for (const auto& [name, value] : res.headers) {
    if (EqualsIgnoreCase(name, "Content-Encoding") && EqualsIgnoreCase(Trim(value), "gzip")) {
      return res.shared_body->gzipped();
    }
  }
  return res.shared_body->bytes();
}

// The status line and headers of an answer; `content_length` is ignored when
// `chunked`.
std::string SerializeHead(const HttpResponse& res, size_t content_length, bool chunked,
                          bool close) {
  std::string out;
  out.reserve(128 + res.headers.size() * 48);
  out += "HTTP/1.1 ";
  out += std::to_string(res.status);
  out += ' ';
  out += ReasonPhrase(res.status);
  out += "\r\n";
  if (!res.content_type.empty()) AppendHeaderLine(out, "Content-Type", res.content_type);
  for (const auto& [name, value] : res.headers) {
    if (EqualsIgnoreCase(name, "Connection") || EqualsIgnoreCase(name, "Content-Length") ||
        EqualsIgnoreCase(name, "Transfer-Encoding")) {
      continue;
    }
    AppendHeaderLine(out, name, value);
  }
  if (chunked) {
    out += "Transfer-Encoding: chunked\r\n";
  } else {
    out += "Content-Length: ";
    out += std::to_string(content_length);
    out += "\r\n";
  }
  if (close) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

bool AnswerSaysClose(const HttpResponse& res) {
  for (const auto& [name, value] : res.headers) {
    if (EqualsIgnoreCase(name, "Connection") && EqualsIgnoreCase(Trim(value), "close")) return true;
  }
  return false;
}

void AppendChunk(std::string& out, std::string_view data) {
  char size[20];
  const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  out.append(size, static_cast<size_t>(n));
  out.append(data);
  out += "\r\n";
}

// Fills the request's method, path and query from the parsed request line.
// False for a target that is not a path (origin-form) or an absolute URL.
bool SplitTarget(std::string_view target, HttpRequest& req) {
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const size_t scheme_end = target.find("//") + 2;
    const size_t path_start = target.find('/', scheme_end);
    target = path_start == std::string_view::npos ? "/" : target.substr(path_start);
  }
  if (!target.starts_with('/')) return false;
  const size_t q = target.find('?');
  req.path = PercentDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) {
    for (std::string_view pair : Split(target.substr(q + 1), '&')) {
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      req.query.emplace_back(
          PercentDecode(pair.substr(0, eq), true),
          eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true));
    }
  }
  return true;
}

bool AcceptsGzip(const std::vector<Header>& headers) {
  for (const auto& [name, value] : headers) {
    if (!EqualsIgnoreCase(name, "Accept-Encoding")) continue;
    for (std::string_view part : Split(value, ',')) {
      part = Trim(part);
      const std::string_view coding = Trim(part.substr(0, part.find(';')));
      if (!EqualsIgnoreCase(coding, "gzip")) continue;
      const size_t q = part.find("q=");
      return q == std::string_view::npos ||
             std::strtod(std::string(part.substr(q + 2)).c_str(), nullptr) > 0;
    }
  }
  return false;
}

}  // namespace hive::http_internal

namespace hive {

const std::string& SharedBody::gzipped() const {
  std::call_once(gzip_once_, [this] { gzipped_ = http_internal::Gzip(bytes_); });
  return gzipped_;
}

}  // namespace hive
