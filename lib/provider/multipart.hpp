// multipart/form-data: the encoder genq uses towards the provider, and the bounded parser the
// control server uses for POST /v1/jobs and /api/img2video.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace genq::provider {

class MultipartBuilder {
public:
    MultipartBuilder();  // random boundary that cannot occur in the parts (checked on add)
    void add_field(std::string_view name, std::string_view value);
    void add_file(std::string_view name, std::string_view filename, std::string_view content_type,
                  std::string_view bytes);
    std::string content_type() const;  // "multipart/form-data; boundary=..."
    std::string finish();              // the whole body; the builder is spent afterwards

private:
    std::string boundary_;
    std::string body_;
};

struct MultipartPart {
    std::string name;
    std::string filename;      // empty for plain fields
    std::string content_type;  // as sent, may be empty
    std::string_view data;     // points into the body passed to parse_multipart
};

// content_type is the request's Content-Type header. Errors (code "bad_multipart") name what is
// wrong: missing boundary, malformed part headers, missing closing delimiter, too many parts (>64).
Result<std::vector<MultipartPart>> parse_multipart(std::string_view content_type,
                                                   std::string_view body);

}  // namespace genq::provider
