// Watched *.txt files for prompt-only kinds (issue 15): one job per non-empty line, the line
// being the prompt. The decisions without the I/O: which names are prompt lists, how a file
// splits into lines, and what identifies a line across edits and restarts.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace genq::watch {

// "prompts.txt" (any case), not hidden, not a temporary name, not genq's own "*.error.txt".
bool is_prompt_list(std::string_view name);

struct PromptLine {
    int number = 0;        // 1-based line number in the file as read now
    std::string text;      // the prompt: the line without its end and surrounding white space
    std::string key;       // identity: sha256 of the text and its occurrence (1st, 2nd, ...)
    std::string job_name;  // "prompts-3": the job's input name, so the result is prompts-3.png
};

// The non-empty lines of `text` (LF or CRLF ends; a UTF-8 BOM is skipped). The same text twice
// is two lines with different keys; moving a line keeps its key, so only new lines are new.
std::vector<PromptLine> split_prompt_lines(std::string_view file_name, std::string_view text);

}  // namespace genq::watch
