// latch: log in to OAuth 2.0 / OpenID Connect identity providers from a terminal.
#include "app.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <functional>
#include <unistd.h>

namespace asio = boost::asio;
using namespace latchkey;

namespace {

constexpr const char* exit_codes_help =
    "Exit codes: 0 ok, 1 error, 2 usage, 77 log in again (expired or absent credentials),\n"
    "130 interrupted.";

// Runs one command on the io_context. The first Ctrl-C cancels it (flows stop, nothing is
// written, exit 130); a second one exits at once.
int run_command(asio::io_context& io, std::function<asio::awaitable<int>()> command) {
    int code = 1;
    asio::cancellation_signal cancel;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    int interrupts = 0;
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int) {
            if (ec) return;
            if (++interrupts > 1) ::_exit(130);
            cancel.emit(asio::cancellation_type::terminal);
            signals.async_wait(on_signal);
        };
    signals.async_wait(on_signal);
    auto done = [&](std::exception_ptr e, int rc) {
        signals.cancel();
        if (e) {
            try { std::rethrow_exception(e); }
            catch (const std::exception& ex) { cli::print_error(std::string("internal error: ") + ex.what()); }
            rc = 1;
        }
        code = interrupts > 0 && rc != 0 ? 130 : rc;
    };
    asio::co_spawn(io, command(), asio::bind_cancellation_slot(cancel.slot(), done));
    io.run();
    return code;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);
    CLI::App cli{"latch: log in to OAuth 2.0 / OpenID Connect identity providers", "latch"};
    cli.footer(exit_codes_help);
    cli.set_version_flag("--version", std::string("latch ") + LATCH_VERSION);
    cli.require_subcommand(1);
    cli.fallthrough();

    cli::global_options g;
    cli.add_option("--context", g.context, "Context to use for this command (default: LATCH_CONTEXT, else the current one)");
    cli.add_option("--ca-file", g.ca_file, "PEM file of CA certificates to trust instead of the system store");

    cli::login_options lo;
    auto* login = cli.add_subcommand("login", "Log in and store the tokens");
    login->add_flag("--device", lo.device, "Use the device authorization grant (RFC 8628)");
    login->add_option("--issuer", lo.issuer, "Issuer URL (env LATCH_ISSUER)");
    login->add_option("--client-id", lo.client_id, "OAuth client id (env LATCH_CLIENT_ID)");
    login->add_option("--scope", lo.scopes, "Scope to request; repeatable (default: openid profile email offline_access)");
    login->add_option("--timeout", lo.timeout_s, "Give up after this many seconds (default 300)")->check(CLI::Range(1, 86400));
    login->add_flag("--no-qr", lo.no_qr, "Do not print a QR code");

    cli::status_options so;
    auto* status = cli.add_subcommand("status", "Show who is logged in; exit 77 when a new login is needed");
    status->alias("whoami");
    status->add_flag("--json", so.json, "Machine-readable output");

    auto* token = cli.add_subcommand("token", "Print the access token (the only command that prints a secret)");
    auto* logout = cli.add_subcommand("logout", "Remove the stored credentials");
    for (auto* s : {login, status, token, logout}) s->footer(exit_codes_help);

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return cli.exit(e);  // --help, --version
        cli::print_error(e.what());
        return 2;
    }

    diagnostics diag;
    auto home = credential_store::default_home(diag);
    if (!home) {
        cli::print_error(diag.to_string());
        return 1;
    }
    asio::io_context io{1};
    cli::app a(io, g, credential_store{*home});
    std::function<asio::awaitable<int>()> cmd;
    if (*login) cmd = [&] { return cli::run_login(a, lo); };
    else if (*status) cmd = [&] { return cli::run_status(a, so); };
    else if (*token) cmd = [&] { return cli::run_token(a); };
    else cmd = [&] { return cli::run_logout(a); };
    return run_command(io, cmd);
}
