// The stand-in's own description of the stable-image family (generate, upscale, edit, control):
// each endpoint's fields, ranges, images and price, written from the provider's reference
// independently of genq's operation table (lib/provider/operation.cpp), which is what it tests.
#pragma once

#include "media.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fakeapi {

struct FamilyCheck {
    std::vector<std::string> errors;
    nlohmann::json params = nlohmann::json::object();  // what arrived, images as their headers
    std::string image_sha;                             // of the main image; empty without one
    std::string format = "png";                        // output_format
    std::uint64_t seed = 0;
};

// True for the kinds this file describes (ultra ... style); the older kinds live in
// endpoints.cpp.
bool is_family_kind(std::string_view kind);

// Validates one submission the way the provider documents it.
FamilyCheck check_family(std::string_view kind, const Form& form);

// Credits per successful generation of any kind the stand-in serves (sd3: by model).
double price_of(std::string_view kind, const nlohmann::json& params);

}  // namespace fakeapi
