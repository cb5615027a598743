// The three shells' completion scripts, written from a CompletionModel. Each is self-contained:
// the bash one needs no bash-completion helpers, so it also works when sourced by hand.
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "completion.hpp"

namespace genqctl {
namespace {

std::string join(const std::vector<std::string>& v, const char* sep = " ") {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
    return out;
}

// A POSIX single-quoted word (bash and zsh).
std::string sq(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

std::vector<std::string> command_names(const CompletionModel& m) {
    std::vector<std::string> names;
    for (const auto& c : m.commands) names.push_back(c.name);
    return names;
}

std::vector<std::string> value_words(const CompletionModel& m, Values v) {
    if (v == Values::states) return m.states;
    if (v == Values::kinds) return m.kinds;
    if (v == Values::commands) return command_names(m);
    return {};
}

// Every option name of a command, the global ones included (they are accepted after it too).
std::vector<std::string> option_names(const CompletionModel& m, const CompletionCommand* c) {
    std::vector<std::string> names;
    auto add = [&](const CompletionOption& o) {
        for (const auto& n : o.names)
            if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    };
    for (const auto& o : m.globals) add(o);
    if (c)
        for (const auto& o : c->options) add(o);
    return names;
}

// ---- bash ----------------------------------------------------------------------------------

// `case "$prev"` arms: what follows an option that takes a value.
std::string bash_value_cases(const CompletionModel& m) {
    std::map<Values, std::set<std::string>> by;
    auto add = [&](const CompletionOption& o) {
        if (o.values != Values::none) by[o.values].insert(o.names.begin(), o.names.end());
    };
    for (const auto& o : m.globals) add(o);
    for (const auto& c : m.commands)
        for (const auto& o : c.options) add(o);
    std::string out;
    for (const auto& [v, names] : by) {
        out += "        " + join({names.begin(), names.end()}, "|") + ")\n            ";
        if (v == Values::files)
            out += "compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- \"$cur\"))";
        else if (v == Values::any)
            out += "COMPREPLY=()";
        else
            out += "COMPREPLY=($(compgen -W " + sq(join(value_words(m, v))) + " -- \"$cur\"))";
        out += "\n            return ;;\n";
    }
    return out;
}

std::string bash_command_cases(const CompletionModel& m) {
    std::string out;
    for (const auto& c : m.commands) {
        const char* args = c.arguments == Values::files      ? "files"
                           : c.arguments == Values::commands ? "commands"
                                                             : "";
        out += "        " + c.name + ") opts=" + sq(join(option_names(m, &c))) + " args=" + args +
               " ;;\n";
    }
    return out;
}

// Global options that take a value: their value is not the command.
std::string bash_global_valued(const CompletionModel& m) {
    std::vector<std::string> names;
    for (const auto& o : m.globals)
        if (o.values != Values::none) names.insert(names.end(), o.names.begin(), o.names.end());
    return names.empty() ? "--\\ " : join(names, "|");
}

}  // namespace

std::string bash_completion(const CompletionModel& m) {
    std::string commands = sq(join(command_names(m)));
    return "# bash completion for genqctl (written by `genqctl completion bash`; do not edit)\n"
           "_genqctl() {\n"
           "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"\" cmd=\"\" opts=\"\" args=\"\" i w\n"
           "    ((COMP_CWORD > 0)) && prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
           "    # --opt=value: bash splits at '=' (COMP_WORDBREAKS)\n"
           "    if [[ $prev == = ]] && ((COMP_CWORD > 1)); then prev=\"${COMP_WORDS[COMP_CWORD-2]}\"; fi\n"
           "    if [[ $cur == = ]]; then cur=\"\"; fi\n"
           "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
           "        w=\"${COMP_WORDS[i]}\"\n"
           "        case \"$w\" in\n"
           "            " + bash_global_valued(m) + ") ((i++)) ;;\n"
           "            -*) ;;\n"
           "            *) cmd=\"$w\"; break ;;\n"
           "        esac\n"
           "    done\n"
           "    case \"$prev\" in\n" +
           bash_value_cases(m) +
           "    esac\n"
           "    case \"$cmd\" in\n"
           "        \"\") opts=" + sq(join(option_names(m, nullptr))) + " args=commands ;;\n" +
           bash_command_cases(m) +
           "    esac\n"
           "    if [[ $cur == -* ]]; then\n"
           "        COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
           "    elif [[ $args == files ]]; then\n"
           "        compopt -o filenames 2>/dev/null\n"
           "        COMPREPLY=($(compgen -f -- \"$cur\"))\n"
           "    elif [[ $args == commands ]]; then\n"
           "        COMPREPLY=($(compgen -W " + commands + " -- \"$cur\"))\n"
           "    else\n"
           "        COMPREPLY=()\n"
           "    fi\n"
           "}\n"
           "complete -F _genqctl genqctl\n";
}

// ---- zsh -----------------------------------------------------------------------------------
namespace {

// An _arguments description: [ and ] would end it early.
std::string zsh_desc(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '[' || c == ']' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

std::string zsh_action(const CompletionModel& m, Values v) {
    if (v == Values::files) return ":file:_files";
    if (v == Values::any) return ":value: ";
    if (v == Values::none) return "";
    return ":" + std::string(v == Values::states ? "state" : v == Values::kinds ? "kind" : "command") +
           ":(" + join(value_words(m, v)) + ")";
}

std::vector<std::string> zsh_specs(const CompletionModel& m,
                                   const std::vector<CompletionOption>& opts) {
    std::vector<std::string> out;
    for (const auto& o : opts)
        for (const auto& n : o.names)
            out.push_back(sq(n + "[" + zsh_desc(o.description) + "]" + zsh_action(m, o.values)));
    return out;
}

std::string zsh_arguments(const CompletionModel& m, Values v) {
    if (v == Values::files) return "'*:file:_files'";
    if (v == Values::commands) return sq("1:command:(" + join(command_names(m)) + ")");
    if (v == Values::any) return "'*:argument: '";
    return "";
}

}  // namespace

std::string zsh_completion(const CompletionModel& m) {
    std::string out =
        "#compdef genqctl\n"
        "# zsh completion for genqctl (written by `genqctl completion zsh`; do not edit)\n"
        "_genqctl() {\n"
        "    local curcontext=\"$curcontext\" state line\n"
        "    local -a globals commands\n"
        "    globals=(\n        " +
        join(zsh_specs(m, m.globals), "\n        ") +
        "\n    )\n"
        "    commands=(\n";
    for (const auto& c : m.commands) out += "        " + sq(c.name + ":" + c.description) + "\n";
    out +=
        "    )\n"
        "    _arguments -C $globals ': :->command' '*:: :->args' && return\n"
        "    case $state in\n"
        "        command) _describe -t commands 'genqctl command' commands ;;\n"
        "        args)\n"
        "            case $words[1] in\n";
    for (const auto& c : m.commands) {
        auto specs = zsh_specs(m, c.options);
        if (auto a = zsh_arguments(m, c.arguments); !a.empty()) specs.push_back(a);
        out += "                " + c.name + ") _arguments $globals";
        for (const auto& s : specs) out += " \\\n                    " + s;
        out += " ;;\n";
    }
    return out +
           "            esac ;;\n"
           "    esac\n"
           "}\n"
           "if [ \"$funcstack[1]\" = \"_genqctl\" ]; then _genqctl \"$@\"; else compdef _genqctl genqctl; fi\n";
}

// ---- fish ----------------------------------------------------------------------------------
namespace {

std::string fq(const std::string& s) {
    std::string out = "'";
    for (char c : s) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

std::string fish_option(const CompletionModel& m, const CompletionOption& o,
                        const std::string& condition) {
    std::string out = "complete -c genqctl" + condition;
    for (const auto& n : o.names)
        out += n.rfind("--", 0) == 0 ? " -l " + n.substr(2) : " -s " + n.substr(1);
    if (o.values == Values::files) out += " -r -F";
    if (o.values == Values::any) out += " -x";
    if (o.values == Values::states || o.values == Values::kinds || o.values == Values::commands)
        out += " -x -a " + fq(join(value_words(m, o.values)));
    return out + " -d " + fq(o.description) + "\n";
}

}  // namespace

std::string fish_completion(const CompletionModel& m) {
    std::string out =
        "# fish completion for genqctl (written by `genqctl completion fish`; do not edit)\n"
        "complete -c genqctl -f\n";
    for (const auto& o : m.globals) out += fish_option(m, o, "");
    for (const auto& c : m.commands)
        out += "complete -c genqctl -n __fish_use_subcommand -a " + fq(c.name) + " -d " +
               fq(c.description) + "\n";
    for (const auto& c : m.commands) {
        std::string cond = " -n " + fq("__fish_seen_subcommand_from " + c.name);
        for (const auto& o : c.options) out += fish_option(m, o, cond);
        if (c.arguments == Values::files) out += "complete -c genqctl" + cond + " -F\n";
        if (c.arguments == Values::commands)
            out += "complete -c genqctl" + cond + " -a " + fq(join(command_names(m))) + "\n";
    }
    return out;
}

}  // namespace genqctl
