// genqctl completion: walks the CLI11 app into a CompletionModel and prints a shell's script.
#include "completion.hpp"

#include <cstdio>

#include "core/job_state.hpp"
#include "provider/operation.hpp"

namespace genqctl {
namespace {

// The values an option or argument takes, by its name. Everything not named here completes
// to nothing in particular (ids, numbers, prompts).
Values values_of(const CLI::Option& opt) {
    if (opt.get_expected_max() == 0 && !opt.get_positional()) return Values::none;
    auto has = [&](const char* name) {
        for (const auto& l : opt.get_lnames())
            if (l == name) return true;
        return opt.get_name(true, false) == name;
    };
    if (has("state")) return Values::states;
    if (has("kind")) return Values::kinds;
    if (has("command")) return Values::commands;
    if (has("socket") || has("output") || has("mask") || has("images")) return Values::files;
    return Values::any;
}

CompletionOption option_of(const CLI::Option& opt) {
    CompletionOption o;
    for (const auto& l : opt.get_lnames()) o.names.push_back("--" + l);
    for (const auto& s : opt.get_snames()) o.names.push_back("-" + s);
    o.description = opt.get_description();
    o.values = values_of(opt);
    return o;
}

CompletionCommand command_of(const CLI::App& sub) {
    CompletionCommand c{sub.get_name(), sub.get_description(), {}, Values::none};
    for (const auto* opt : sub.get_options()) {
        if (opt->nonpositional())
            c.options.push_back(option_of(*opt));
        else
            c.arguments = values_of(*opt);
    }
    return c;
}

}  // namespace

CompletionModel completion_model(const CLI::App& app) {
    CompletionModel m;
    for (const auto* opt : app.get_options())
        if (opt->nonpositional()) m.globals.push_back(option_of(*opt));
    // Hidden commands (an empty group, as `completion` itself) are not offered.
    for (const auto* sub : app.get_subcommands([](const CLI::App* s) {
             return !s->get_group().empty();
         }))
        m.commands.push_back(command_of(*sub));
    // A command's own --help is the global one as far as a shell is concerned.
    for (auto& c : m.commands)
        std::erase_if(c.options, [&](const CompletionOption& o) {
            for (const auto& g : m.globals)
                if (g.names == o.names) return true;
            return false;
        });
    for (auto s : {genq::JobState::queued, genq::JobState::submitting, genq::JobState::running,
                   genq::JobState::succeeded, genq::JobState::failed, genq::JobState::canceled})
        m.states.emplace_back(genq::to_string(s));
    for (const auto& op : genq::provider::operations()) m.kinds.push_back(op.kind);
    return m;
}

void add_completion(CLI::App& app, Runner& run) {
    auto shell = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("completion", "print a shell completion script");
    cmd->group("");  // hidden: packagers and the build use it, users get the installed files
    cmd->add_option("shell", *shell, "bash, zsh or fish")
        ->required()
        ->check(CLI::IsMember({"bash", "zsh", "fish"}));
    cmd->callback([&app, &run, shell] {
        run = [&app, shell] {
            auto m = completion_model(app);
            std::string out = *shell == "bash"  ? bash_completion(m)
                              : *shell == "zsh" ? zsh_completion(m)
                                                : fish_completion(m);
            std::fputs(out.c_str(), stdout);
            return int{kOk};
        };
    });
}

}  // namespace genqctl
