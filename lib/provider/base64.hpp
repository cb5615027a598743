// Standard base64 (RFC 4648 §4, with padding): the provider's JSON result form carries the video
// or image this way; the stand-in provider and the tests encode with the same code.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace genq::provider {

std::string base64_encode(std::string_view bytes);

// Strict: standard alphabet, length a multiple of 4, '=' only as final padding, unused bits zero,
// no whitespace. nullopt on anything else, so a corrupted result is never half-decoded.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace genq::provider
