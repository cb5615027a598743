// libFuzzer entry point for genq's response parser; the body is genq::fuzz::response (targets.hpp).
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    genq::fuzz::response(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
