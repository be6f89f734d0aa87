#include "hive/dashboard/dashboard.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

// One shared body per asset, made on first use: every page load sends the
// same bytes, and gzips each file once.
std::shared_ptr<const SharedBody> FindAsset(std::string_view path) {
  static const std::vector<std::shared_ptr<const SharedBody>> bodies = [] {
    std::vector<std::shared_ptr<const SharedBody>> out;
    for (const EmbeddedAsset& asset : EmbeddedAssets()) {
      out.push_back(std::make_shared<const SharedBody>(std::string(asset.content)));
    }
    return out;
  }();
  const auto assets = EmbeddedAssets();
  for (size_t i = 0; i < assets.size(); ++i) {
    if (assets[i].path == path) return bodies[i];
  }
  return nullptr;
}

void Serve(std::string_view path, HttpResponse& res) {
  res.SetHeader("Cache-Control", "no-cache");
  std::shared_ptr<const SharedBody> body = FindAsset(path);
  if (body == nullptr) {
    res.SetError(Status::NotFound("no dashboard asset '" + std::string(path) + "'"));
    return;
  }
  res.status = 200;
  res.shared_body = std::move(body);
  res.content_type = std::string(ContentTypeFor(path));
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
