// Shell completion for genqctl, generated from the command definitions themselves (the CLI11
// app), so a new command or option is completed without anyone editing a completion script.
#pragma once
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "ctl.hpp"

namespace genqctl {

// What a value (of an option or an argument) completes to.
enum class Values { none, any, files, states, kinds, commands };

struct CompletionOption {
    std::vector<std::string> names;  // "--kind", "-o"
    std::string description;
    Values values = Values::none;    // none: a flag
};

struct CompletionCommand {
    std::string name;
    std::string description;
    std::vector<CompletionOption> options;
    Values arguments = Values::none;  // what its positional arguments complete to
};

// Everything a shell needs: the global options and each visible command.
struct CompletionModel {
    std::vector<CompletionOption> globals;
    std::vector<CompletionCommand> commands;
    std::vector<std::string> states;  // values of --state
    std::vector<std::string> kinds;   // values of --kind
};

CompletionModel completion_model(const CLI::App& app);
std::string bash_completion(const CompletionModel& m);
std::string zsh_completion(const CompletionModel& m);
std::string fish_completion(const CompletionModel& m);

// The hidden `genqctl completion bash|zsh|fish` (the build writes the installed files with it).
void add_completion(CLI::App& app, Runner& run);

}  // namespace genqctl
