// Content-Encoding for HttpServer (internal to core): request bodies sent
// gzip- or deflate-compressed, and gzip for answers that pay for it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "hive/core/status.h"

namespace hive::http_internal {

// Replaces `body` by its decoding under `encoding` (a Content-Encoding
// value; empty or identity: unchanged). TooLarge once the decoded body passes
// `limit` (a compression bomb stops there); InvalidArgument for corrupt data
// or an encoding other than gzip and deflate.
Status DecodeBody(std::string_view encoding, size_t limit, std::string* body);

// gzip of `in` at a fast level; empty on failure.
std::string Gzip(std::string_view in);

}  // namespace hive::http_internal
