// libFuzzer entry point for genq's multipart parser; the body is genq::fuzz::multipart (targets.hpp).
#include "targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    genq::fuzz::multipart(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
