#include "usage_errors.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
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

}  // namespace

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
