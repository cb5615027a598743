// libFuzzer entry point for --fit's decoders and resampler; the body is genq::fuzz::image_decode
// (targets.hpp).
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    genq::fuzz::image_decode(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
