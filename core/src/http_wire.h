// HTTP/1.1 on the wire for HttpServer (internal to core): request targets
// and content codings in, status lines, headers, chunks and gzip out. Plain
// functions of strings, no I/O.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "hive/core/http.h"
#include "hive/core/status.h"
#include "http_transport.h"

namespace hive::http_internal {

// Fills `req`'s path (percent-decoded) and query (decoded, '+' as space)
// from a request target; an absolute URL is taken by its path. False for a
// target that is neither (e.g. "*" or garbage).
bool SplitTarget(std::string_view target, HttpRequest& req);

// Whether the Accept-Encoding headers take gzip.
bool AcceptsGzip(const std::vector<Header>& headers);

// The request content codings DecodeBody reads, as an Accept-Encoding value
// (what a 415 answer lists).
inline constexpr std::string_view kAcceptedCodings = "gzip, deflate, zstd";

// Whether DecodeBody reads `encoding` (a Content-Encoding value).
bool SupportedEncoding(std::string_view encoding);

// Replaces `body` by its decoding under `encoding` (a Content-Encoding
// value; empty or identity: unchanged). TooLarge once the decoded body passes
// `limit` (a compression bomb stops there); InvalidArgument for corrupt data
// or an encoding other than gzip, deflate and zstd. A zstd frame may use a
// window of at most 8 MiB (the decoder's memory).
Status DecodeBody(std::string_view encoding, size_t limit, std::string* body);

// gzip / zstd of `in` at a fast level; empty on failure.
std::string Gzip(std::string_view in);
std::string Zstd(std::string_view in);

// The status line and headers of an answer, ending with the blank line.
// Content-Length is `content_length` unless `chunked`; the answer's own
// Connection, Content-Length and Transfer-Encoding headers are not copied,
// and line breaks in header values become spaces.
std::string SerializeHead(const HttpResponse& res, size_t content_length, bool chunked, bool close);

// The bytes an answer sends: its body, or its shared body (gzipped when
// CompressIfWorthIt chose gzip for it).
const std::string& BodyToSend(const HttpResponse& res);

// Whether the handler asked to close the connection after the answer.
bool AnswerSaysClose(const HttpResponse& res);

// Appends `data` as one chunk of chunked transfer coding.
void AppendChunk(std::string& out, std::string_view data);

}  // namespace hive::http_internal
