// Shared by the completion generators (completion.cpp: bash; completion_zsh_fish.cpp).
#pragma once

#include "cli_tools.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey::cli::completion_detail {

using case_arms = std::vector<std::pair<std::string, std::string>>;

std::string sh_quote(std::string_view s);    // 'text' for bash and zsh
std::string fish_quote(std::string_view s);  // 'text' for fish
std::string join(const std::vector<std::string>& words, std::string_view sep = " ");
// "context", "file", "choices a b c" or "": what the shell function offers for a value.
std::string hint_word(const value_hint& h);
const option_info* first_positional(const command_info& c);

// The data every script is made of.
struct tree_tables {
    case_arms subcommands;     // path -> "add use list" (aliases included)
    case_arms options;         // path -> "--context --help" (accepted_options)
    case_arms positional;      // path -> hint word of its first positional argument
    case_arms option_values;   // "--context" -> hint word, or "value" (options taking one)
    std::vector<std::string> valued;  // every option name that takes a value
};
tree_tables tables_of(const command_info& root);

std::string zsh_script(const command_info& root, std::string_view program);
std::string fish_script(const command_info& root, std::string_view program);

}  // namespace latchkey::cli::completion_detail
