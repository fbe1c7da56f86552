// `latch exec`, `latch env`, `latch docker-credential` and what the integrations share.
#include "integrations.hpp"

#include <latchkey/transport/line_reader.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <CLI/CLI.hpp>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace latchkey::cli {
namespace asio = boost::asio;
namespace json = boost::json;

asio::awaitable<std::vector<std::string>> async_read_request(app& a, std::size_t max_lines) {
    std::vector<std::string> lines;
    auto in = transport::line_reader::open_stdin(a.io.get_executor());
    while (in && lines.size() < max_lines) {
        error_code ec;
        std::string line = co_await in->async_read_line(ec);
        if (ec || line.empty() || line == "\r") break;
        lines.push_back(std::move(line));
    }
    co_return lines;
}

asio::awaitable<std::optional<current_token>> async_current_token(app& a, int& exit_code,
                                                                  bool report_login_needed) {
    diagnostics diag;
    auto cur = load_current_context(a, diag);
    if (cur.exit_code != 0) {
        exit_code = cur.exit_code;
        co_return std::nullopt;
    }
    transport::token_source_options o;
    o.refresh_window = std::chrono::seconds{300};  // as `latch token`
    o.auto_refresh = !a.global.no_auto_refresh;
    transport::token_source source(a.io.get_executor(), a.client, a.store, cur.name, o);
    auto tokens = co_await source.tokens(diag);
    if (!tokens) {
        exit_code = exit_code_for(tokens.error());
        if (exit_code == 77 && !report_login_needed) co_return std::nullopt;
        if (tokens.error() == client_errc::not_logged_in)
            print_error("not logged in (context '" + cur.name + "'); run `latch login`");
        else if (tokens.error() == client_errc::session_expired)
            print_error("session expired (context '" + cur.name + "'); run `latch login`");
        else print_error(describe(tokens.error(), diag));
        co_return std::nullopt;
    }
    if (!diag.client_message.empty()) print_error("warning: " + diag.to_string());
    current_token t{cur.name, std::move(*tokens), {}};
    if (auto c = source.cached()) t.who = c->who;
    co_return t;
}

// The `latch` to write into other tools' configuration: the front (apps/latch/front), not
// this latch-cli it execs, so their `latch token` calls take the fast path. In a build
// tree the front is next to latch-cli; installed, LATCH_FRONT_FROM_CLI away from it.
std::string self_path() {
    char buf[4096];
    auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "latch";
    std::string self(buf, static_cast<std::size_t>(n));
    const auto slash = self.rfind('/');
    if (slash == std::string::npos || self.substr(slash + 1) != "latch-cli") return self;
    const std::string dir = self.substr(0, slash);
#ifndef LATCH_FRONT_FROM_CLI
#define LATCH_FRONT_FROM_CLI "../../bin/latch"
#endif
    for (const auto& front : {dir + "/latch", dir + "/" + std::string(LATCH_FRONT_FROM_CLI)})
        if (::access(front.c_str(), X_OK) == 0) return front;
    return self;
}

int run_program(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    if (int rc = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ); rc != 0) {
        errno = rc;
        return -1;
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

namespace {

// Single quotes for a POSIX shell: 'it'\''s'.
std::string shell_quote(std::string_view s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

bool valid_env_name(const std::string& n) {
    if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
    for (unsigned char c : n)
        if (!std::isalnum(c) && c != '_') return false;
    return true;
}

struct exec_options {
    std::string env_name = "LATCH_ACCESS_TOKEN";
    std::vector<std::string> command;
};

// Runs the command with the token in its environment; never on its argv (`ps` shows argv
// to every user, the environment only to the same user).
asio::awaitable<int> run_exec(app& a, exec_options o) {
    if (!valid_env_name(o.env_name)) {
        print_error("--env-name must be a variable name (letters, digits, _)");
        co_return 2;
    }
    int code = 1;
    auto tok = co_await async_current_token(a, code);
    if (!tok) co_return code;
    ::setenv(o.env_name.c_str(), tok->tokens.access_token.reveal().c_str(), 1);
    std::vector<char*> args;
    for (auto& s : o.command) args.push_back(s.data());
    args.push_back(nullptr);
    std::fflush(nullptr);
    ::execvp(args[0], args.data());
    const int err = errno;
    print_error("cannot run " + escape_untrusted(o.command[0], 100) + ": " + std::strerror(err));
    co_return err == ENOENT ? 127 : 126;
}

// Prints `export NAME='token'` for `eval "$(latch env)"`: like `latch token`, a command that
// exists to print the token.
asio::awaitable<int> run_env(app& a, std::string env_name) {
    if (!valid_env_name(env_name)) {
        print_error("--env-name must be a variable name (letters, digits, _)");
        co_return 2;
    }
    int code = 1;
    auto tok = co_await async_current_token(a, code);
    if (!tok) co_return code;
    std::string line = "export " + env_name + "=" + shell_quote(tok->tokens.access_token.reveal()) + "\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    co_return 0;
}

// docker-credential-helpers protocol: `get` reads the registry's server URL on stdin and
// answers {"ServerURL","Username","Secret"}; `list` answers the URLs we hold credentials
// for (none are stored: any registry gets the current context's token); store/erase are
// refused, the token belongs to `latch login`.
asio::awaitable<int> run_docker_credential(app& a, std::string action) {
    if (action == "store" || action == "erase") {
        print_error("docker-credential-latch does not " + action +
                    " credentials: they come from `latch login` (use `latch logout` to remove them)");
        co_return 1;
    }
    if (action == "list") {
        std::printf("{}\n");
        co_return 0;
    }
    if (action != "get") {
        print_error("unknown action; use get, list, store or erase");
        co_return 2;
    }
    auto request = co_await async_read_request(a, 1);
    std::string server = request.empty() ? std::string() : std::move(request.front());
    while (!server.empty() && (server.back() == '\r' || server.back() == ' ')) server.pop_back();
    if (server.empty()) {
        print_error("no server URL on stdin");
        co_return 2;
    }
    int code = 1;
    auto tok = co_await async_current_token(a, code);
    if (!tok) co_return code;
    json::object o;
    o["ServerURL"] = server;
    o["Username"] = tok->who.username.empty() ? std::string("latch") : tok->who.username;
    o["Secret"] = tok->tokens.access_token.reveal();
    std::printf("%s\n", json::serialize(o).c_str());
    co_return 0;
}

void register_exec_commands(CLI::App& cli, command_fn& selected) {
    auto eo = std::make_shared<exec_options>();
    auto* exec = cli.add_subcommand("exec", "Run a command with the access token in its environment (never on its argv)");
    exec->add_option("--env-name", eo->env_name, "Variable to put the token in")->capture_default_str();
    exec->add_option("command", eo->command, "The command and its arguments, after --")->required();
    exec->footer("Example: latch exec -- sh -c 'curl -H \"Authorization: Bearer $LATCH_ACCESS_TOKEN\" https://api.example'");
    exec->callback([eo, &selected] { selected = [eo](app& a) { return run_exec(a, *eo); }; });

    auto env_name = std::make_shared<std::string>("LATCH_ACCESS_TOKEN");
    auto* env = cli.add_subcommand("env", "Print `export NAME='token'` for eval \"$(latch env)\"");
    env->add_option("--env-name", *env_name, "Variable to set")->capture_default_str();
    env->callback([env_name, &selected] { selected = [env_name](app& a) { return run_env(a, *env_name); }; });

    auto action = std::make_shared<std::string>();
    auto* docker = cli.add_subcommand("docker-credential", "docker credential helper (get, list); install as docker-credential-latch");
    docker->add_option("action", *action, "get | list | store | erase")->required();
    docker->callback([action, &selected] {
        selected = [action](app& a) { return run_docker_credential(a, *action); };
    });
}

}  // namespace

void register_integration_commands(CLI::App& cli, command_fn& selected) {
    register_exec_commands(cli, selected);
    register_git_commands(cli, selected);
    register_kube_commands(cli, selected);
}

}  // namespace latchkey::cli
