// image_is_complete (issue 7): a file cut off after its header is refused before it is queued.
#include <doctest/doctest.h>

#include <string>

#include "provider/image_info.hpp"
#include "provider/operation.hpp"
#include "provider/validate.hpp"

using namespace genq::provider;

// Defined in test_image_info.cpp.
namespace genq::test_images {
std::string png(std::uint32_t w, std::uint32_t h, int colour_type = 2, std::string extra = {});
std::string jpeg(std::uint32_t w, std::uint32_t h, unsigned char sof = 0xC0,
                 std::string before = {});
std::string webp_vp8x(std::uint32_t w, std::uint32_t h, bool alpha);
}  // namespace genq::test_images

using namespace genq::test_images;

TEST_SUITE("provider.image_complete") {
    TEST_CASE("whole files are complete, also with bytes after the end") {
        CHECK(image_is_complete(png(1024, 576), ImageFormat::png));
        CHECK(image_is_complete(png(1024, 576) + std::string(100, '\0'), ImageFormat::png));
        CHECK(image_is_complete(jpeg(1024, 576), ImageFormat::jpeg));
        CHECK(image_is_complete(jpeg(1024, 576) + "trailer", ImageFormat::jpeg));
        CHECK(image_is_complete(webp_vp8x(1024, 576, false), ImageFormat::webp));
    }

    TEST_CASE("every cut is noticed") {
        const std::string p = png(1024, 576), j = jpeg(1024, 576), w = webp_vp8x(64, 64, true);
        for (std::size_t n = 0; n < p.size(); ++n)
            CHECK_FALSE(image_is_complete(p.substr(0, n), ImageFormat::png));
        for (std::size_t n = 0; n < j.size(); ++n)
            CHECK_FALSE(image_is_complete(j.substr(0, n), ImageFormat::jpeg));
        for (std::size_t n = 0; n < w.size(); ++n)
            CHECK_FALSE(image_is_complete(w.substr(0, n), ImageFormat::webp));
    }

    TEST_CASE("validate_image refuses a truncated file, naming the field") {
        const Operation* op = find_operation("video");
        REQUIRE(op != nullptr);
        const std::string p = png(1024, 576);
        CHECK(validate_image(*op, p).ok());
        auto r = validate_image(*op, p.substr(0, p.size() - 5));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("image") == 0);
        CHECK(r.error().message.find("truncated") != std::string::npos);
    }
}
