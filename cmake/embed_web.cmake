# Turns lib/api/web/app.html into web_page() compiled into genq_core: the page is edited as a plain
# HTML file and needs no build step of its own.
file(READ ${SRC} page)
string(FIND "${page}" ")genqhtml" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${SRC} contains the raw-string delimiter )genqhtml")
endif()
file(WRITE ${OUT}.tmp "// Generated from lib/api/web/app.html by cmake/embed_web.cmake. Do not edit.\n#include \"api/web_page.hpp\"\nnamespace genq::api {\nstd::string_view web_page() {\n  static constexpr std::string_view kPage = R\"genqhtml(${page})genqhtml\";\n  return kPage;\n}\n}  // namespace genq::api\n")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
