// `latch help environment`, the examples in `latch --help`, `latch completion SHELL` and
// the hidden `latch --man` (what the build turns into latch.1).
#include "cli_tools.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>

namespace latchkey::cli {

// Every LATCH_* variable latch reads (tests/cli_tools/help_environment.sh greps the sources
// for "LATCH_..." names and fails when one is missing here).
const env_variable latch_variables[] = {
    {"LATCH_HOME", "Directory of the configuration and credentials (default: $XDG_CONFIG_HOME/latch, else ~/.config/latch)"},
    {"LATCH_CONTEXT", "Context to act on when --context is not given (default: the current one)"},
    {"LATCH_DEBUG", "1: trace HTTP requests and responses on stderr, secrets redacted (as --debug)"},
    {"LATCH_ISSUER", "Issuer URL for login and machine add when --issuer is not given"},
    {"LATCH_CLIENT_ID", "OAuth client id for login when --client-id is not given"},
    {"LATCH_CLIENT_SECRET", "Client secret of a confidential client (login --client-credentials or --password, refresh, token --exchange), unless --client-secret-file"},
    {"LATCH_USERNAME", "User name for login --password"},
    {"LATCH_PASSWORD", "Password for login --password"},
    {"LATCH_LOOKUP_URL", "Endpoint that describes an imported token (login --with-token), unless --lookup-url"},
    {"LATCH_SESSION_TOKEN", "Printed by token --gateway instead of the stored gateway session (an override; nothing is stored)"},
    {"LATCH_MACHINE_KEY", "PEM private key for login --machine, unless --key-file"},
    {"LATCH_REGISTRATION_TOKEN", "Initial access token for machine add (RFC 7591), unless --registration-token-file"},
    {"LATCH_ACCESS_TOKEN", "Set (not read) by exec and printed by env: the access token (another name with --env-name)"},
    {nullptr, nullptr},
};

const env_variable other_variables[] = {
    {"HTTPS_PROXY, HTTP_PROXY, ALL_PROXY", "Proxy for https:// and http:// requests (lower case too; user:password@ in the URL for basic auth)"},
    {"NO_PROXY", "Hosts, domains (.example.com), addresses and CIDRs reached directly; loopback always is"},
    {"SSL_CERT_FILE", "PEM file of CA certificates to trust (as --ca-file)"},
    {"XDG_CONFIG_HOME, HOME", "Where the default LATCH_HOME is"},
    {"BROWSER", "Browser command for logins (else xdg-open and friends)"},
    {"NO_COLOR", "Set: no colour in the output"},
    {"KUBERNETES_EXEC_INFO", "Set by kubectl for kubectl-credential"},
    {nullptr, nullptr},
};

const char* const examples_help =
    "  latch context add work --issuer https://id.example.com --client-id cli\n"
    "  latch login                    # browser, or a device code on a headless machine\n"
    "  curl -H \"Authorization: Bearer $(latch token)\" https://api.example.com\n"
    "  latch exec -- terraform plan   # the token in LATCH_ACCESS_TOKEN, not on argv\n"
    "  latch completion bash > ~/.local/share/bash-completion/completions/latch";

std::string environment_help() {
    std::string s = "Environment variables latch reads:\n";
    auto table = [&s](const env_variable* v) {
        for (; v->name; ++v) s += "  " + std::string(v->name) + "\n      " + v->meaning + "\n";
    };
    table(latch_variables);
    s += "\nAlso honoured:\n";
    table(other_variables);
    return s;
}

namespace {

[[noreturn]] void print_and_succeed(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    throw CLI::Success();
}

}  // namespace

void register_cli_tools(CLI::App& root) {
    root.footer(std::string("Examples:\n") + examples_help + "\n\n" + exit_codes_help);

    auto shell = std::make_shared<std::string>();
    auto* completion = root.add_subcommand("completion", "Print a shell completion script (bash, zsh or fish)");
    completion->add_option("shell", *shell, "bash | zsh | fish")->required()->check(CLI::IsMember({"bash", "zsh", "fish"}));
    completion->footer("Install: latch completion bash > ~/.local/share/bash-completion/completions/latch\n"
                       "         latch completion zsh > ~/.zfunc/_latch   (a directory on $fpath)\n"
                       "         latch completion fish > ~/.config/fish/completions/latch.fish");
    completion->callback([shell, &root] {
        print_and_succeed(completion_script(*shell, describe_cli(root), "latch"));
    });

    // `latch help` itself may come from elsewhere (issue 17 #4); the topic goes under it.
    auto named_help = root.get_subcommands([](CLI::App* s) { return s->get_name() == "help"; });
    CLI::App* help = named_help.empty() ? nullptr : named_help.front();
    if (!help) {
        help = root.add_subcommand("help", "Show help: latch help environment; latch COMMAND --help");
        help->callback([help] { if (help->get_subcommands().empty()) throw CLI::CallForHelp(); });
    }
    auto* env = help->add_subcommand("environment", "List the environment variables latch reads");
    env->callback([] { print_and_succeed(environment_help()); });

    root.add_flag_callback("--man", [&root] { print_and_succeed(man_page(describe_cli(root), LATCH_VERSION)); },
                           "Print the man page (roff)")
        ->group("");
}

}  // namespace latchkey::cli
