// One image of a job as it goes to the provider: which field it fills and its bytes.
#pragma once
#include <string>
#include <string_view>

namespace genq::provider {

struct NamedInput {
    // "image" (the job's main image; sent under the operation's image_field, e.g. relight's
    // subject_image, which is accepted here too), "mask", or an extra image field of the
    // operation (background_reference, light_reference).
    std::string field;
    std::string filename;    // shown to the provider; empty: the field name
    std::string_view bytes;  // not owned: the caller keeps the bytes alive
};

}  // namespace genq::provider
