#include "usage_errors.hpp"
#include "terminal.hpp"

#include <latchkey/core/suggest.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <cctype>
#include <set>
#include <string_view>
#include <vector>

namespace latchkey::cli {

namespace {

// `-x`, `--name`, `--name-with-dashes`: what an option name looks like. Values rarely do;
// the few that could (a token starting with "--"?) are long, hence the length bound.
bool option_shaped(std::string_view s) {
    if (s.size() < 2 || s.size() > 40 || s[0] != '-') return false;
    s.remove_prefix(s[1] == '-' ? 2 : 1);
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
    });
}

// Small numbers (ports, timeouts) are no secret and masking them would blot CLI11's own
// counts ("Expected 1 argument").
bool harmless_number(std::string_view s) {
    return !s.empty() && s.size() <= 5 &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void collect_names(const CLI::App& app, std::set<std::string, std::less<>>& names) {
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        names.insert(sub->get_name());
        collect_names(*sub, names);
    }
}

bool token_on_argv(int argc, const char* const* argv) {
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a == "--token" || a.starts_with("--token=") || a.starts_with("--with-token="))
            return true;
        if (a == "--with-token" && i + 1 < argc && argv[i + 1][0] != '-') return true;
    }
    return false;
}

// What was typed as a value: every argument that is neither an option name nor a command
// name, and the part after '=' of `--name=value`.
std::vector<std::string> typed_values(const CLI::App& root, int argc, const char* const* argv) {
    std::set<std::string, std::less<>> names;
    collect_names(root, names);
    std::vector<std::string> values;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (auto eq = a.find('='); eq != std::string_view::npos && option_shaped(a.substr(0, eq))) {
            values.emplace_back(a.substr(eq + 1));
            continue;
        }
        if (option_shaped(a) || names.count(a) != 0) continue;
        values.emplace_back(a);
    }
    std::erase_if(values, [](const std::string& v) { return v.empty() || harmless_number(v); });
    // Longest first, so a value containing another is masked whole.
    std::sort(values.begin(), values.end(),
              [](const std::string& x, const std::string& y) { return x.size() > y.size(); });
    return values;
}

std::string mask(std::string text, const std::vector<std::string>& values) {
    static const std::string placeholder = "<value>";
    for (const auto& v : values) {
        for (auto at = text.find(v); at != std::string::npos; at = text.find(v, at)) {
            text.replace(at, v.size(), placeholder);
            at += placeholder.size();
        }
    }
    return text;
}

const CLI::App* find_sub(const CLI::App& app, std::string_view name) {
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        if (sub->get_name() == name) return sub;
        const auto& al = sub->get_aliases();
        if (std::find(al.begin(), al.end(), name) != al.end()) return sub;
    }
    return nullptr;
}

std::vector<std::string> sub_names(const CLI::App& app) {
    std::vector<std::string> names;
    for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        names.push_back(sub->get_name());
    return names;
}

// The command named by `words` (`context add`), or the first word that names none.
struct located {
    const CLI::App* app;
    std::string unknown;  // empty: every word named a command
};
located locate(const CLI::App& root, const std::vector<std::string>& words) {
    const CLI::App* at = &root;
    for (const auto& w : words) {
        const auto* sub = find_sub(*at, w);
        if (!sub) return {at, w};
        at = sub;
    }
    return {at, {}};
}

// "unknown command 'logni'; did you mean `latch login`?". A word that does not look like a
// command name (it may be a token typed in the wrong place) is not repeated (defect #1).
std::string unknown_command(const CLI::App& under, const std::string& word) {
    const bool name_like = word.size() <= 24 && std::all_of(word.begin(), word.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    });
    if (!name_like) return "unknown command (not repeated: it does not look like one)";
    const std::string prefix = under.get_parent() ? "latch " + under.get_name() + " " : "latch ";
    std::string text = "unknown command '" + word + "'";
    auto close = closest_names(word, sub_names(under));
    if (!close.empty()) text += "; did you mean `" + prefix + close.front() + "`?";
    return text;
}

// The words before the first option-shaped one that are not values of options: where a
// command name would be. Skips the value of a global option (`--context X`).
std::vector<std::string> command_words(const CLI::App& root, int argc, const char* const* argv) {
    std::vector<std::string> words;
    const CLI::App* at = &root;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (a.starts_with("-")) {
            const auto* opt = a.find('=') == std::string_view::npos
                                  ? at->get_option_no_throw(std::string(a)) : nullptr;
            if (opt && opt->get_type_size_max() > 0) ++i;  // its value
            continue;
        }
        const auto* sub = find_sub(*at, a);
        if (!sub && at->get_subcommands([](const CLI::App*) { return true; }).empty()) break;
        words.emplace_back(a);
        if (!sub) break;
        at = sub;
    }
    return words;
}

// CLI::Success / CLI::RuntimeError from a callback end the parse (CLI11 2.1).
void run_help(const CLI::App& root, const std::vector<std::string>& words) {
    auto where = locate(root, words);
    if (!where.unknown.empty()) {
        print_error(unknown_command(*where.app, where.unknown));
        std::fputs(where.app->help().c_str(), stderr);
        throw CLI::RuntimeError(2);
    }
    std::fputs(where.app->help().c_str(), stdout);
    throw CLI::Success();
}

}  // namespace

void register_help_commands(CLI::App& cli) {
    auto words = std::make_shared<std::vector<std::string>>();
    auto* help = cli.add_subcommand("help", "Show the help of latch or of a command: latch help [COMMAND...]");
    help->add_option("command", *words, "Command, e.g. `login` or `context add`");
    help->callback([words, &cli] { run_help(cli, *words); });
    auto* version = cli.add_subcommand("version", "Print latch's version");
    version->callback([] {
        std::printf("latch %s\n", LATCH_VERSION);
        throw CLI::Success();
    });
}

int report_usage_error(const CLI::ParseError& e, const CLI::App& root, int argc,
                       const char* const* argv) {
    if (dynamic_cast<const CLI::RuntimeError*>(&e)) return e.get_exit_code();  // help said it
    const auto words = command_words(root, argc, argv);
    const auto where = locate(root, words);
    if (!where.unknown.empty()) {
        print_error(unknown_command(*where.app, where.unknown));
        std::fputs(where.app->help().c_str(), stderr);
        return 2;
    }
    print_error(describe_usage_error(e, root, argc, argv));
    // A command that needs a subcommand and got none: show which there are.
    if (where.app->get_require_subcommand_min() > 0 &&
        where.app->get_subcommands([](const CLI::App* s) { return s->parsed(); }).empty() &&
        std::string_view(e.what()).find("subcommand") != std::string_view::npos)
        std::fputs(where.app->help().c_str(), stderr);
    return 2;
}

std::string describe_usage_error(const CLI::ParseError& e, const CLI::App& root, int argc,
                                 const char* const* argv) {
    if (token_on_argv(argc, argv))
        return "tokens are read from stdin, never from the command line (where `ps` and the "
               "shell history would show them): printf %s \"$TOK\" | latch login --with-token";
    auto values = typed_values(root, argc, argv);
    std::string text = mask(e.what(), values);
    if (!values.empty() && text != e.what()) text += " (values are not repeated in errors)";
    return text + "; see `latch --help`";
}

}  // namespace latchkey::cli
