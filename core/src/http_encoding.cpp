#include "http_encoding.h"

#include <zlib.h>

#include <algorithm>

#include "hive/core/text.h"
#include "http_transport.h"

namespace hive::http_internal {
namespace {

// Bodies smaller than this are sent as they are: the saving would not pay
// for the work.
constexpr size_t kMinCompressBytes = 1024;

bool Compressible(std::string_view content_type) {
  const std::string type = AsciiLower(Trim(content_type.substr(0, content_type.find(';'))));
  if (type == "text/event-stream") return false;
  return type.starts_with("text/") || type == "application/json" ||
         type == "application/javascript" || type == "application/xml" ||
         type == "application/x-ndjson" || type == "image/svg+xml";
}

// Inflates `in` with `window_bits`; TooLarge past `limit` bytes.
Status Inflate(std::string_view in, int window_bits, size_t limit, std::string* out) {
  z_stream zs{};
  if (inflateInit2(&zs, window_bits) != Z_OK) return Status::Internal("zlib: inflateInit2 failed");
  out->clear();
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

}  // namespace

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
  } else {
    return Status::InvalidArgument("unsupported Content-Encoding '" +
                                   std::string(encoding.substr(0, 64)) + "' (use gzip)");
  }
  *body = std::move(out);
  return Status::Ok();
}

std::string Gzip(std::string_view in) {
  z_stream zs{};
  // Level 1: most of the saving on JSON and text for a fraction of the CPU.
  if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(in.size())));
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string();
}

void CompressIfWorthIt(const Exchange& x, HttpResponse& res) {
  if (!Compressible(res.content_type)) return;
  for (const auto& [name, value] : res.headers) {
    if (EqualsIgnoreCase(name, "Content-Encoding")) return;
  }
  res.SetHeader("Vary", "Accept-Encoding");
  if (!x.accepts_gzip || x.head_only || res.body.size() < kMinCompressBytes) return;
  std::string gz = Gzip(res.body);
  if (gz.empty() || gz.size() >= res.body.size()) return;
  res.body = std::move(gz);
  res.SetHeader("Content-Encoding", "gzip");
}

}  // namespace hive::http_internal
