// git's credential-helper protocol (gitcredentials(7), git-credential(1)) and
// `latch setup-git`, which points git at it for one URL.
#include "integrations.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <memory>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {

constexpr std::size_t max_request_lines = 64;  // git sends a handful

struct git_options {
    std::string action;
    std::string username;  // empty: the stored preferred_username, else "oauth2"
};

// `get` answers the current context's access token as the password; git ignores attributes
// it does not know, and git >= 2.41 drops the password once password_expiry_utc passes.
asio::awaitable<int> run_git_credential(app& a, git_options o) {
    if (o.action == "store" || o.action == "erase") {
        // git calls these after every use (store) or a rejection (erase); the token is kept
        // by `latch login`, so there is nothing to store and nothing we may throw away.
        // git writes `key=value` lines and a blank line; none is needed to answer, but
        // reading them means git never sees a broken pipe.
        co_await async_read_request(a, max_request_lines);
        co_return 0;
    }
    if (o.action != "get") {
        print_error("unknown action; git calls this helper with get, store or erase");
        co_return 2;
    }
    co_await async_read_request(a, max_request_lines);
    int code = 1;
    auto tok = co_await async_current_token(a, code);
    if (!tok) co_return code;
    std::string user = !o.username.empty()         ? o.username
                       : !tok->who.username.empty() ? tok->who.username
                                                    : std::string("oauth2");
    std::string out = "username=" + user + "\npassword=" + tok->tokens.access_token.reveal() + "\n";
    if (tok->tokens.expires_at)
        out += "password_expiry_utc=" +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                  tok->tokens.expires_at->time_since_epoch()).count()) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    co_return 0;
}

struct setup_git_options {
    std::string url;
    std::string username;
    bool dry_run = false;
};

// git config --global: credential.<url>.helper = "" (drop helpers configured for all URLs
// for this one) then our helper, with this context.
asio::awaitable<int> run_setup_git(app& a, setup_git_options o) {
    if (o.url.find("://") == std::string::npos) o.url = "https://" + o.url;
    if (o.url.find_first_of(" \t\r\n\"'") != std::string::npos ||
        o.username.find_first_of(" \t\r\n\"'") != std::string::npos) {
        print_error("--url and --username must not contain spaces or quotes");
        co_return 2;
    }
    diagnostics diag;
    auto cur = load_current_context(a, diag);
    if (cur.exit_code != 0) co_return cur.exit_code;
    std::string helper = "!'" + self_path() + "' --context " + cur.name + " git-credential";
    if (!o.username.empty()) helper += " --username '" + o.username + "'";
    const std::string key = "credential." + o.url + ".helper";
    if (o.dry_run) {
        std::printf("git config --global --replace-all %s ''\ngit config --global --add %s \"%s\"\n",
                    key.c_str(), key.c_str(), helper.c_str());
        co_return 0;
    }
    if (run_program({"git", "config", "--global", "--replace-all", key, ""}) != 0 ||
        run_program({"git", "config", "--global", "--add", key, helper}) != 0) {
        print_error("`git config --global` failed; is git installed?");
        co_return 1;
    }
    std::fprintf(stderr, "git will use latch (context '%s') for %s\n", cur.name.c_str(), o.url.c_str());
    co_return 0;
}

}  // namespace

void register_git_commands(CLI::App& cli, command_fn& selected) {
    auto go = std::make_shared<git_options>();
    auto* git = cli.add_subcommand("git-credential", "git credential helper: the access token as the password");
    git->add_option("action", go->action, "get | store | erase (git passes it)")->required();
    git->add_option("--username", go->username, "User name to give git (default: your preferred_username, else oauth2)");
    git->callback([go, &selected] { selected = [go](app& a) { return run_git_credential(a, *go); }; });

    auto so = std::make_shared<setup_git_options>();
    auto* setup = cli.add_subcommand("setup-git", "Configure git (--global) to use latch for one URL");
    setup->add_option("--url", so->url, "URL (or host) git should use latch for, e.g. https://git.example.com")->required();
    setup->add_option("--username", so->username, "User name to give git");
    setup->add_flag("--dry-run", so->dry_run, "Print the git config commands instead of running them");
    setup->callback([so, &selected] { selected = [so](app& a) { return run_setup_git(a, *so); }; });
}

}  // namespace latchkey::cli
