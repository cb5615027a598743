// UTF-8 helpers for text that ends up in JSON (params, error messages): nlohmann::json refuses to
// serialise invalid UTF-8, so such text is checked or cut at character boundaries.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace genq::provider {

// Well-formed UTF-8: no overlong forms, surrogates or code points past U+10FFFF.
bool is_valid_utf8(std::string_view s);

// Code points in valid UTF-8 text.
std::size_t utf8_length(std::string_view s);

// At most `max_bytes` of `s`, cut at a character boundary, with "..." appended when cut.
std::string truncate_utf8(std::string_view s, std::size_t max_bytes);

}  // namespace genq::provider
