#include "hive/dashboard/dashboard.h"

#include <string>
#include <string_view>

#include "assets.h"
#include "hive/core/status.h"

namespace hive::dashboard {
namespace {

std::string_view ContentTypeFor(std::string_view path) {
  struct Mapping {
    std::string_view extension;
    std::string_view type;
  };
  static constexpr Mapping kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
  };
  for (const auto& m : kTypes) {
    if (path.ends_with(m.extension)) return m.type;
  }
  return "application/octet-stream";
}

const EmbeddedAsset* FindAsset(std::string_view path) {
  for (const EmbeddedAsset& asset : EmbeddedAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

void Serve(std::string_view path, HttpResponse& res) {
  res.SetHeader("Cache-Control", "no-cache");
  const EmbeddedAsset* asset = FindAsset(path);
  if (asset == nullptr) {
    res.SetError(Status::NotFound("no dashboard asset '" + std::string(path) + "'"));
    return;
  }
  res.status = 200;
  res.body = std::string(asset->content);
  res.content_type = std::string(ContentTypeFor(asset->path));
}

}  // namespace

void MountDashboard(HttpServer& server) {
  server.Route("GET", "/", {Access::kPublic},
               [](const HttpRequest&, HttpResponse& res) { Serve("index.html", res); });
  server.Route(
      "GET", "/ui/{path*}", {Access::kPublic},
      [](const HttpRequest& req, HttpResponse& res) { Serve(req.PathParam("path"), res); });
}

}  // namespace hive::dashboard
