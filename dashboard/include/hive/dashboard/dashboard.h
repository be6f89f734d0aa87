// The web dashboard hived serves at `/`: static HTML, JavaScript and CSS
// compiled into the binary at build time (no files beside it at run time).
// The page itself reads the JSON API (/api/v1/...) from the browser, so the
// dashboard has no server-side state and depends on no other component.
//
// Thread-safe: the assets are immutable; handlers may run concurrently.
#pragma once

#include "hive/core/http.h"

namespace hive::dashboard {

// Registers, all with Access::kPublic (the page asks for a token itself when
// the API answers 401):
//   GET /            index.html
//   GET /ui/{path*}  the page's assets (app.js, style.css, ...), with their
//                    Content-Type; unknown paths answer a 404 JSON error.
// Every answer carries `Cache-Control: no-cache` so a new hived build is
// picked up on reload. REQUIRES: before server.Listen().
void MountDashboard(hive::HttpServer& server);

}  // namespace hive::dashboard
