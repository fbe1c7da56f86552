// The command tree of `latch`, read from its CLI11 definition at run time, as plain data:
// what the shell completions (completion.cpp) and the man page (manpage.cpp) are generated
// from, so neither can go stale when a command or option is added.
#pragma once

#include <string>
#include <vector>

namespace CLI { class App; }

namespace latchkey::cli {

// What a shell may offer as the value of an option or positional argument.
struct value_hint {
    enum class kind { none, file, context, choices } what = kind::none;
    std::vector<std::string> choices;  // kind::choices
};

struct option_info {
    std::vector<std::string> names;  // "--context", "-h"; empty for a positional argument
    std::string positional;          // the positional argument's name ("name", "action")
    std::string description;
    std::string value_name;          // "TEXT", "INT"; empty for a flag
    bool required = false;
    value_hint hint;
};

struct command_info {
    std::string name;                // "" for the root
    std::vector<std::string> aliases;
    std::string description;
    std::vector<option_info> options;      // own options, then positionals in order
    std::vector<command_info> subcommands;
    bool subcommand_required = false;
};

// The visible tree under `app` (hidden commands and options, group "", are left out).
command_info describe_cli(const CLI::App& app);

// Options a command accepts: its own and, since the root falls through to its parents,
// theirs (nearest first, without duplicates). `path` runs from the root to the command.
std::vector<const option_info*> accepted_options(const std::vector<const command_info*>& path);

// Visits every command with its path from the root (root first, depth first).
template <class Visit>
void for_each_command(const command_info& root, Visit&& visit) {
    std::vector<const command_info*> path{&root};
    auto walk = [&](auto& self, const command_info& c) -> void {
        visit(path);
        for (const auto& s : c.subcommands) {
            path.push_back(&s);
            self(self, s);
            path.pop_back();
        }
    };
    walk(walk, root);
}

// "context add" for a path (the root's name left out).
std::string path_words(const std::vector<const command_info*>& path);

}  // namespace latchkey::cli
