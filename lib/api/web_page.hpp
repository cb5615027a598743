// The page served at GET /: the genq web app (lib/api/web/app.html, embedded at build time by
// cmake/embed_web.cmake), which also carries the wrapper API document's browser example verbatim.
#pragma once
#include <string_view>

namespace genq::api {

std::string_view web_page();

}  // namespace genq::api
