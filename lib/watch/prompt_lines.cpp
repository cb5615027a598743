#include "watch/prompt_lines.hpp"

#include <map>

#include "core/files.hpp"
#include "watch/watch_policy.hpp"

namespace genq::watch {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::string_view trim(std::string_view s) {
    const char* ws = " \t\r\f\v";
    auto b = s.find_first_not_of(ws);
    if (b == std::string_view::npos) return {};
    return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

std::string stem(std::string_view name) {
    auto dot = name.rfind('.');
    return std::string(dot == std::string_view::npos || dot == 0 ? name : name.substr(0, dot));
}

}  // namespace

bool is_prompt_list(std::string_view name) {
    const std::string l = lower(name);
    if (l.size() <= 4 || !l.ends_with(".txt") || l.ends_with(".error.txt")) return false;
    // The image rules for hidden and temporary names, applied to the same name as a .png.
    return is_candidate(l.substr(0, l.size() - 4) + ".png");
}

std::vector<PromptLine> split_prompt_lines(std::string_view file_name, std::string_view text) {
    if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
    std::vector<PromptLine> out;
    std::map<std::string, int> seen;
    const std::string base = stem(file_name);
    int number = 0;
    while (!text.empty()) {
        auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        ++number;
        std::string_view prompt = trim(line);
        if (prompt.empty()) continue;
        const int occurrence = ++seen[std::string(prompt)];
        out.push_back({number, std::string(prompt),
                       sha256_hex(std::to_string(occurrence) + '\n' + std::string(prompt)),
                       base + "-" + std::to_string(number)});
    }
    return out;
}

}  // namespace genq::watch
