// The dashboard's static files as compiled into the binary. The definition is
// generated at build time by cmake/embed_assets.cmake from dashboard/static/.
#pragma once

#include <span>
#include <string_view>

namespace hive::dashboard {

struct EmbeddedAsset {
  std::string_view path;     // relative to static/, e.g. "app.js"
  std::string_view content;  // the file's bytes
};

// Every embedded file; static storage, immutable.
std::span<const EmbeddedAsset> EmbeddedAssets();

}  // namespace hive::dashboard
