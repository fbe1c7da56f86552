// Where people use a token: kubectl (exec credential plugin), git and docker credential
// helpers, `latch exec` and `latch env`. Each is a thin shell over token_source: the token
// is refreshed as `latch token` would, and it never goes on any argv.
#pragma once

#include "app.hpp"

#include <optional>
#include <vector>
#include <string>

namespace latchkey::cli {

// kubectl-credential, kubeconfig add, git-credential, setup-git, docker-credential, exec,
// env.
void register_integration_commands(CLI::App& cli, command_fn& selected);

// Shared by the integrations (integrations.cpp).
struct current_token {
    std::string context;
    token_set tokens;
    identity who;
};
// The current context's tokens through a token_source with the CLI's settings (refresh
// within 5 minutes of expiry unless --no-auto-refresh). On failure prints one line and
// returns nullopt with `exit_code` set (77: log in again); with `report_login_needed`
// false, a 77 is returned without a message (the caller logs in instead).
// The request a credential helper's caller writes on stdin (git: key=value lines ending with
// a blank line; docker: one line), at most `max_lines`, awaited on the io_context (no
// blocking read). Stops at a blank line or the end; empty when stdin is closed or a file.
boost::asio::awaitable<std::vector<std::string>> async_read_request(app& a, std::size_t max_lines);

boost::asio::awaitable<std::optional<current_token>> async_current_token(
    app& a, int& exit_code, bool report_login_needed = true);

// This executable's absolute path (for helper stanzas written into other tools' config).
std::string self_path();

// Runs `argv` (searched on PATH) with the same stdio and waits; returns its exit status,
// or -1 when it could not be started (errno kept).
int run_program(const std::vector<std::string>& argv);

void register_git_commands(CLI::App& cli, command_fn& selected);     // integrations_git.cpp
void register_kube_commands(CLI::App& cli, command_fn& selected);    // integrations_kube.cpp

}  // namespace latchkey::cli
