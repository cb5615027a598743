#include "provider/submit_request.hpp"

#include <cstdint>

#include <nlohmann/json.hpp>

#include "provider/image_info.hpp"
#include "provider/multipart.hpp"

namespace genq::provider {
namespace {

std::string_view content_type_of(std::string_view bytes) {
    const auto info = read_image_info(bytes);
    return info ? mime_type(info->format) : std::string_view("application/octet-stream");
}

std::string wire_field(const Operation& op, const std::string& field) {
    return field == "image" ? op.image_field : field;
}

}  // namespace

std::string param_text(const nlohmann::json& value) {
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
    if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
    return value.dump();  // floats in their shortest round-trip form, booleans as true/false
}

SubmitBody build_submit_body(const Operation& op, const nlohmann::json& params,
                             const std::vector<NamedInput>& inputs) {
    MultipartBuilder mp;
    for (const NamedInput& in : inputs) {
        const std::string field = wire_field(op, in.field);
        mp.add_file(field, in.filename.empty() ? field : in.filename, content_type_of(in.bytes),
                    in.bytes);
    }
    if (params.is_object()) {
        for (const auto& [name, value] : params.items()) {
            if (!value.is_null()) mp.add_field(name, param_text(value));
        }
    }
    SubmitBody out;
    out.content_type = mp.content_type();
    out.body = mp.finish();
    return out;
}

}  // namespace genq::provider
