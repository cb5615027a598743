// The body of a submission to the provider, for any row of the operation table: pure (no I/O),
// so the engine only adds headers and sends it.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "provider/named_input.hpp"
#include "provider/operation.hpp"

namespace genq::provider {

struct SubmitBody {
    std::string content_type;  // "multipart/form-data; boundary=..."
    std::string body;
};

// A param as multipart text: strings as they are, integers in decimal, other numbers in their
// shortest round-trip form (1.8, 0.35), booleans as true/false.
std::string param_text(const nlohmann::json& value);

// The multipart body for `op`: each input as a file part under the provider's field name (the
// main image "image" goes as op.image_field, e.g. relight's subject_image), with a content type
// sniffed from its bytes; then each (validated) param as a text field. Inputs are expected to
// have passed validate_job; a field the operation does not know is still sent as named.
SubmitBody build_submit_body(const Operation& op, const nlohmann::json& params,
                             const std::vector<NamedInput>& inputs);

}  // namespace genq::provider
