// The small page served at GET / : the browser example of the wrapper API document, unchanged, so
// a browser on the [http] listener can try genq without a web server of its own.
#pragma once
#include <string_view>

namespace genq::api {

std::string_view web_page();

}  // namespace genq::api
