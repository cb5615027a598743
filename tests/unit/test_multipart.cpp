#include <doctest/doctest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "provider/multipart.hpp"

using namespace genq::provider;

namespace {

std::string boundary_of(const MultipartBuilder& b) {
    const std::string ct = b.content_type();
    const std::string prefix = "multipart/form-data; boundary=";
    REQUIRE(ct.starts_with(prefix));
    return ct.substr(prefix.size());
}

std::vector<MultipartPart> parsed(std::string_view ct, std::string_view body) {
    auto r = parse_multipart(ct, body);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r.value();
}

std::string refusal(std::string_view ct, std::string_view body) {
    auto r = parse_multipart(ct, body);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == "bad_multipart");
    return r.error().message;
}

const std::string kCt = "multipart/form-data; boundary=XyZ";

// A body as curl or a browser would send it, with boundary XyZ.
std::string body_of(std::initializer_list<std::string> parts) {
    std::string body;
    for (const std::string& p : parts) body += "--XyZ\r\n" + p + "\r\n";
    return body + "--XyZ--\r\n";
}

const std::string kField = "Content-Disposition: form-data; name=\"seed\"\r\n\r\n42";

}  // namespace

TEST_SUITE("provider.multipart") {
    TEST_CASE("builder output parses back to the same fields and files") {
        const std::string binary("\r\n--\0\xff\r\n\r\nPNG--\r\n", 17);
        MultipartBuilder b;
        b.add_field("seed", "42");
        b.add_field("empty", "");
        b.add_file("image", "cat.png", "image/png", binary);
        const std::string ct = b.content_type();
        const std::string body = b.finish();
        const auto parts = parsed(ct, body);
        REQUIRE(parts.size() == 3);
        CHECK(parts[0].name == "seed");
        CHECK(parts[0].data == "42");
        CHECK(parts[0].filename.empty());
        CHECK(parts[0].content_type.empty());
        CHECK(parts[1].name == "empty");
        CHECK(parts[1].data.empty());
        CHECK(parts[2].name == "image");
        CHECK(parts[2].filename == "cat.png");
        CHECK(parts[2].content_type == "image/png");
        CHECK(parts[2].data == binary);
        // The data is a view into the body, not a copy.
        CHECK(parts[2].data.data() >= body.data());
        CHECK(parts[2].data.data() + parts[2].data.size() <= body.data() + body.size());
    }

    TEST_CASE("the boundary is random and fits RFC 2046") {
        std::set<std::string> seen;
        for (int i = 0; i < 50; ++i) {
            MultipartBuilder b;
            const std::string boundary = boundary_of(b);
            CHECK(boundary.size() >= 32);
            CHECK(boundary.size() <= 70);
            CHECK(boundary.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") ==
                  std::string::npos);
            seen.insert(boundary);
        }
        CHECK(seen.size() == 50);
    }

    TEST_CASE("names and filenames cannot break out of their quotes or headers") {
        MultipartBuilder b;
        b.add_field("a\"b\r\nX-Evil: 1", "v");
        b.add_file("f", "x\".png\"; name=\"other\r\n\r\nhi", "image/png\r\nX-Evil: 1", "data");
        const std::string ct = b.content_type();
        const std::string body = b.finish();
        CHECK(body.find("\r\nX-Evil") == std::string::npos);
        const auto parts = parsed(ct, body);
        REQUIRE(parts.size() == 2);
        CHECK(parts[0].name == "a%22b%0D%0AX-Evil: 1");
        CHECK(parts[0].data == "v");
        CHECK(parts[1].name == "f");
        CHECK(parts[1].filename == "x%22.png%22; name=%22other%0D%0A%0D%0Ahi");
        CHECK(parts[1].content_type == "application/octet-stream");
        CHECK(parts[1].data == "data");
    }

    TEST_CASE("backslashes in names survive the round trip") {
        MultipartBuilder b;
        b.add_file("dir\\", "C:\\in\\\"cat\".png", "image/png", "x");
        const std::string ct = b.content_type();
        const std::string body = b.finish();
        CHECK(body.find("filename=\"C:\\\\in\\\\%22cat%22.png\"") != std::string::npos);
        const auto parts = parsed(ct, body);
        REQUIRE(parts.size() == 1);
        CHECK(parts[0].name == "dir\\");
        CHECK(parts[0].filename == "C:\\in\\%22cat%22.png");
    }

    TEST_CASE("a part containing the boundary gets the body a fresh boundary") {
        MultipartBuilder b;
        b.add_field("first", "one");
        const std::string old = boundary_of(b);
        const std::string hostile = "\r\n--" + old + "--\r\n";
        b.add_field("second", hostile);
        CHECK(boundary_of(b) != old);
        const std::string ct = b.content_type();
        const std::string body = b.finish();
        CHECK(body.find(old) == body.find(hostile) + 4);  // only inside the part's data
        const auto parts = parsed(ct, body);
        REQUIRE(parts.size() == 2);
        CHECK(parts[0].data == "one");
        CHECK(parts[1].data == hostile);
    }

    TEST_CASE("the builder is spent after finish") {
        MultipartBuilder b;
        const std::string ct = b.content_type();
        const std::string body = b.finish();
        CHECK(parsed(ct, body).empty());
        CHECK_THROWS_AS(b.add_field("x", "y"), std::logic_error);
        CHECK_THROWS_AS(b.finish(), std::logic_error);
    }

    TEST_CASE("the boundary parameter: quoted or not, any case, among others") {
        const std::string body = body_of({kField});
        for (const char* ct : {"multipart/form-data; boundary=XyZ",
                               "multipart/form-data; boundary=\"XyZ\"",
                               "Multipart/Form-Data;BOUNDARY=XyZ",
                               "multipart/form-data; charset=utf-8; boundary=XyZ;",
                               "multipart/form-data ; boundary = \"X\\yZ\""}) {
            CAPTURE(ct);
            const auto parts = parsed(ct, body);
            REQUIRE(parts.size() == 1);
            CHECK(parts[0].data == "42");
        }
    }

    TEST_CASE("bad Content-Type headers") {
        const std::string body = body_of({kField});
        CHECK(refusal("multipart/form-data", body) == "Content-Type has no boundary parameter");
        CHECK(refusal("application/json; boundary=XyZ", body) ==
              "Content-Type is not multipart/form-data");
        CHECK(refusal("multipart/mixed; boundary=XyZ", body) ==
              "Content-Type is not multipart/form-data");
        CHECK(refusal("multipart/form-data; boundary=\"XyZ", body) == "malformed Content-Type");
        CHECK(refusal("multipart/form-data; boundary=\"\"", body) ==
              "Content-Type has an invalid boundary");
        CHECK(refusal("multipart/form-data; boundary=" + std::string(71, 'b'), body) ==
              "Content-Type has an invalid boundary");
        CHECK(refusal("multipart/form-data; boundary=a; boundary=b", body) ==
              "Content-Type has no boundary parameter");
        CHECK(refusal("", body) == "Content-Type is not multipart/form-data");
    }

    TEST_CASE("preamble, epilogue, transport padding and curl's escaped quotes") {
        const std::string body =
            "This is the preamble.\r\n--XyZ  \t\r\n"
            "content-disposition: form-data; name=\"image\"; filename=\"a\\\"b.png\"\r\n"
            "content-type:image/jpeg\r\n"
            "X-Other: ignored\r\n\r\n"
            "\xff\xd8\r\n--XyZ--\r\nepilogue\r\n--XyZ\r\n";
        const auto parts = parsed(kCt, body);
        REQUIRE(parts.size() == 1);
        CHECK(parts[0].name == "image");
        CHECK(parts[0].filename == "a\"b.png");
        CHECK(parts[0].content_type == "image/jpeg");
        CHECK(parts[0].data == "\xff\xd8");
    }

    TEST_CASE("an empty filename is still a file part with no name") {
        const std::string body =
            body_of({"Content-Disposition: form-data; name=\"mask\"; filename=\"\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n"});
        const auto parts = parsed(kCt, body);
        REQUIRE(parts.size() == 1);
        CHECK(parts[0].name == "mask");
        CHECK(parts[0].filename.empty());
        CHECK(parts[0].content_type == "application/octet-stream");
        CHECK(parts[0].data.empty());
    }

    TEST_CASE("malformed part headers") {
        CHECK(refusal(kCt, body_of({"\r\nno headers"})) == "part without Content-Disposition");
        CHECK(refusal(kCt, body_of({"Content-Type: text/plain\r\n\r\nx"})) ==
              "part without Content-Disposition");
        CHECK(refusal(kCt, body_of({"Content-Disposition: attachment; name=\"a\"\r\n\r\nx"})) ==
              "malformed Content-Disposition");
        CHECK(refusal(kCt, body_of({"Content-Disposition: form-data\r\n\r\nx"})) ==
              "Content-Disposition without a name");
        CHECK(refusal(kCt, body_of({"Content-Disposition: form-data; name=\"\"\r\n\r\nx"})) ==
              "Content-Disposition without a name");
        CHECK(refusal(kCt, body_of({"Content-Disposition: form-data; name=\"a\r\n\r\nx"})) ==
              "malformed Content-Disposition");
        CHECK(refusal(kCt, body_of({"Content-Disposition: form-data; name=a b\r\n\r\nx"})) ==
              "malformed Content-Disposition");
        CHECK(refusal(kCt, body_of({"Content-Disposition: form-data; name=a; name=b\r\n\r\nx"})) ==
              "Content-Disposition without a name");
        CHECK(refusal(kCt, body_of({"Content-Disposition form-data; name=a\r\n\r\nx"})) ==
              "malformed part header");
        CHECK(refusal(kCt, body_of({"Content-Disposition: form-data;\r\n name=a\r\n\r\nx"})) ==
              "malformed part header");
        CHECK(refusal(kCt, body_of({"Content-Disposition: form-data; name=a\nX: y\r\n\r\nx"})) ==
              "malformed part header");
        CHECK(refusal(kCt, body_of({kField.substr(0, kField.find("\r\n")) + "\r\n" + kField})) ==
              "duplicate Content-Disposition");
    }

    TEST_CASE("part headers are capped at 8 KiB") {
        const std::string disposition = "Content-Disposition: form-data; name=\"a\"\r\n";
        const std::string filler = "X-Pad: ";
        const std::size_t room = 8 * 1024 - disposition.size() - filler.size();
        const std::string fits = disposition + filler + std::string(room, 'p');
        const std::string body = body_of({fits + "\r\n\r\nx"});
        const auto parts = parsed(kCt, body);
        REQUIRE(parts.size() == 1);
        CHECK(parts[0].data == "x");
        CHECK(refusal(kCt, body_of({fits + "p\r\n\r\nx"})) == "part headers larger than 8 KiB");
        CHECK(refusal(kCt, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n") ==
              "unterminated part headers");
    }

    TEST_CASE("the closing delimiter is required") {
        CHECK(refusal(kCt, "--XyZ\r\n" + kField) == "missing closing delimiter");
        CHECK(refusal(kCt, "--XyZ\r\n" + kField + "\r\n--XyZ") == "missing closing delimiter");
        CHECK(refusal(kCt, "--XyZ\r\n" + kField + "\r\n--XyZ\r\n") == "missing closing delimiter");
        CHECK(refusal(kCt, "--XyZ\r\n" + kField + "\r\n--XyZ  ") == "missing closing delimiter");
        CHECK(refusal(kCt, "no delimiter here") == "no delimiter line for the boundary");
        CHECK(refusal(kCt, "") == "no delimiter line for the boundary");
        CHECK(refusal(kCt, "--XyZ\r\n" + kField + "\r\n--XyZzy\r\n") ==
              "malformed delimiter line");
    }

    TEST_CASE("at most 64 parts") {
        std::string body;
        for (int i = 0; i < 64; ++i) body += "--XyZ\r\n" + kField + "\r\n";
        CHECK(parsed(kCt, body + "--XyZ--\r\n").size() == 64);
        CHECK(refusal(kCt, body + "--XyZ\r\n" + kField + "\r\n--XyZ--\r\n") ==
              "more than 64 parts");
    }
}
