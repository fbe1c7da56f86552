// latch: log in to OAuth 2.0 / OpenID Connect identity providers from a terminal.
#include "app.hpp"
#include "cli_tools.hpp"
#include "integrations.hpp"
#include "token_fast.hpp"
#include "usage_errors.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <functional>
#include <string_view>
#include <sys/prctl.h>
#include <unistd.h>

namespace asio = boost::asio;
using namespace latchkey;

namespace {

// The command with total cancellation enabled, so the first Ctrl-C reaches it (a login
// then stops its flows but finishes saving tokens it already holds: transport/login.hpp).
asio::awaitable<int> async_interruptible(std::function<asio::awaitable<int>()> command) {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_return co_await command();
}

// Runs one command on the io_context. The first Ctrl-C asks it to stop (total
// cancellation: flows stop, nothing half-written, exit 130); the second, or 5 s after the
// first, stops it at once (terminal); a third exits.
int run_command(asio::io_context& io, std::function<asio::awaitable<int>()> command) {
    int code = 1;
    asio::cancellation_signal cancel;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer grace(io);
    int interrupts = 0;
    auto stop_now = [&] { cancel.emit(asio::cancellation_type::terminal); };
    std::function<void(const boost::system::error_code&, int)> on_signal =
        [&](const boost::system::error_code& ec, int) {
            if (ec) return;
            ++interrupts;
            if (interrupts > 2) ::_exit(130);
            if (interrupts == 1) {
                cancel.emit(asio::cancellation_type::total);
                grace.expires_after(std::chrono::seconds{5});
                grace.async_wait([&](const boost::system::error_code& e) { if (!e) stop_now(); });
            } else {
                stop_now();
            }
            signals.async_wait(on_signal);
        };
    signals.async_wait(on_signal);
    auto done = [&](std::exception_ptr e, int rc) {
        signals.cancel();
        grace.cancel();
        if (e) {
            try { std::rethrow_exception(e); }
            catch (const std::exception& ex) { cli::print_error(std::string("internal error: ") + ex.what()); }
            rc = 1;
        }
        code = interrupts > 0 && rc != 0 ? 130 : rc;
    };
    asio::co_spawn(io, async_interruptible(std::move(command)),
                   asio::bind_cancellation_slot(cancel.slot(), done));
    io.run();
    return code;
}

// Runs the selected command with the credential store at its default home.
int run_selected(const cli::global_options& g, const cli::command_fn& selected) {
    diagnostics diag;
    auto home = credential_store::default_home(diag);
    if (!home) {
        cli::print_error(diag.to_string());
        return 1;
    }
    asio::io_context io{1};
    cli::app a(io, g, credential_store{*home});
    return run_command(io, [&] { return selected(a); });
}

}  // namespace

int main(int argc, char** argv) {
    ::prctl(PR_SET_DUMPABLE, 0);  // issue 18 #12: no core dump or ptrace peer gets the tokens
    std::signal(SIGPIPE, SIG_IGN);
    auto aliased = cli::argv_for_program_name(argc, argv);  // docker-credential-latch
    if (!aliased.empty()) {
        argc = static_cast<int>(aliased.size()) - 1;
        argv = aliased.data();
    }
    // `latch token` with a valid cached token: two file reads and a print (token_fast.cpp).
    if (cli::print_cached_token(argc, argv)) return 0;
    // Fast path for the most frequent invocation, plain `latch token` (scripts and
    // credential helpers run it per request): the parse below would select exactly this
    // with default global options, but building the whole command tree costs ~0.2 ms of
    // a ~1.6 ms start (bench/README.md). Anything else, including any option, goes
    // through CLI11.
    if (argc == 2 && std::string_view(argv[1]) == "token")
        return run_selected(cli::global_options{}, [](cli::app& a) { return cli::run_token(a); });

    CLI::App cli{"latch: log in to OAuth 2.0 / OpenID Connect identity providers", "latch"};
    cli.footer(cli::exit_codes_help);
    cli.set_version_flag("--version", std::string("latch ") + LATCH_VERSION);
    cli.require_subcommand(1);
    cli.fallthrough();

    cli::global_options g;
    cli.add_option("--context", g.context, "Context to use for this command (default: LATCH_CONTEXT, else the current one)");
    cli.add_option("--ca-file", g.ca_file, "PEM file of CA certificates to trust instead of the system store");
    cli.add_flag("--debug", g.debug, "Trace HTTP requests and responses on stderr, secrets redacted (also LATCH_DEBUG=1)");
    cli.add_flag("--no-auto-refresh", g.no_auto_refresh, "Never refresh tokens automatically");

    cli::command_fn selected;
    cli::register_login(cli, selected);
    cli::register_session_commands(cli, selected);
    cli::register_context_commands(cli, selected);
    cli::register_machine_commands(cli, selected);
    cli::register_integration_commands(cli, selected);
    cli::register_help_commands(cli);  // help [COMMAND...], version (usage_errors.cpp)
    for (auto* s : cli.get_subcommands({})) s->footer(cli::exit_codes_help);
    cli::register_cli_tools(cli);  // completion, help environment, --man; examples in --help

    try {
        cli.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0) return cli.exit(e);  // --help, --version, help, version
        return cli::report_usage_error(e, cli, argc, argv);
    }
    if (!selected) {
        cli::print_error("no command given; see `latch --help`");
        return 2;
    }

    return run_selected(g, selected);
}
