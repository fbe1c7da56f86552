#include "cli_model.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace latchkey::cli {

namespace {

bool is_word(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return std::islower(static_cast<unsigned char>(c)) || c == '-';
    });
}

// "get | list | store | erase", optionally followed by " (...)": the description of an
// argument that takes one of a few words lists them this way (docker-credential, completion).
std::vector<std::string> choices_in(std::string_view description) {
    description = description.substr(0, description.find(" ("));
    std::vector<std::string> words;
    for (;;) {
        auto bar = description.find(" | ");
        auto word = description.substr(0, bar);
        if (!is_word(word)) return {};
        words.emplace_back(word);
        if (bar == std::string_view::npos) break;
        description.remove_prefix(bar + 3);
    }
    if (words.size() < 2) return {};
    return words;
}

value_hint hint_for(const option_info& o) {
    value_hint h;
    if (o.value_name.empty()) return h;
    const bool context_arg = std::find(o.names.begin(), o.names.end(), "--context") != o.names.end() ||
                             (o.positional == "name" && o.description.starts_with("Context name"));
    const std::string& n = o.names.empty() ? o.positional : o.names.front();
    if (context_arg) {
        h.what = value_hint::kind::context;
    } else if (auto c = choices_in(o.description); !c.empty()) {
        h.what = value_hint::kind::choices;
        h.choices = std::move(c);
    } else if (n.ends_with("-file") || n.ends_with("-dir")) {
        h.what = value_hint::kind::file;
    }
    return h;
}

option_info describe_option(const CLI::Option& opt) {
    option_info o;
    for (const auto& l : opt.get_lnames()) o.names.push_back("--" + l);
    for (const auto& s : opt.get_snames()) o.names.push_back("-" + s);
    if (o.names.empty()) o.positional = opt.get_name();
    o.description = opt.get_description();
    if (opt.get_expected_max() > 0) {  // flags expect none (CLI11 sets expected(0))
        // "INT:INT in [1 - 65535]" (a checked type) -> "INT"
        o.value_name = opt.get_type_name().substr(0, opt.get_type_name().find(':'));
        if (o.value_name.empty()) o.value_name = "VALUE";
    }
    o.required = opt.get_required();
    o.hint = hint_for(o);
    return o;
}

}  // namespace

command_info describe_cli(const CLI::App& app) {
    command_info c;
    c.name = app.get_name();
    c.aliases = app.get_aliases();
    c.description = app.get_description();
    c.subcommand_required = app.get_require_subcommand_min() > 0;
    auto visible = [](const CLI::Option* o) { return !o->get_group().empty(); };
    for (const auto* opt : app.get_options(visible))
        if (opt->nonpositional()) c.options.push_back(describe_option(*opt));
    for (const auto* opt : app.get_options(visible))
        if (!opt->nonpositional()) c.options.push_back(describe_option(*opt));
    auto shown = [](const CLI::App* s) { return !s->get_name().empty() && !s->get_group().empty(); };
    for (const auto* sub : app.get_subcommands(shown)) c.subcommands.push_back(describe_cli(*sub));
    return c;
}

std::vector<const option_info*> accepted_options(const std::vector<const command_info*>& path) {
    std::vector<const option_info*> out;
    auto known = [&](const option_info& o) {
        return std::any_of(out.begin(), out.end(), [&](const option_info* k) {
            return std::any_of(o.names.begin(), o.names.end(), [&](const std::string& n) {
                return std::find(k->names.begin(), k->names.end(), n) != k->names.end();
            });
        });
    };
    for (auto it = path.rbegin(); it != path.rend(); ++it)
        for (const auto& o : (*it)->options)
            if (!o.names.empty() && !known(o)) out.push_back(&o);
    return out;
}

std::string path_words(const std::vector<const command_info*>& path) {
    std::string s;
    for (std::size_t i = 1; i < path.size(); ++i) s += (i > 1 ? " " : "") + path[i]->name;
    return s;
}

}  // namespace latchkey::cli
