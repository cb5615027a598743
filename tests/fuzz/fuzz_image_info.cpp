// libFuzzer entry point for genq's image_info parser; the body is genq::fuzz::image_info (targets.hpp).
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    genq::fuzz::image_info(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
