// `latch login`: resolve the client configuration, run a flow, store what it returns.
#include "app.hpp"
#include "cli_tools.hpp"
#include "renewal_sources.hpp"

#include <latchkey/core/machine_store.hpp>
#include <latchkey/transport/line_reader.hpp>
#include <latchkey/transport/login.hpp>

#include <cstdio>
#include <cstdlib>

#include <unistd.h>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
}

// `--callback-url URL`, or `-`: one line from stdin.
asio::awaitable<result<std::string>> async_callback_text(app& a, const login_options& o,
                                                         diagnostics& diag) {
    if (o.callback_url != "-") {
        print_error("warning: other users can read a command line (`ps`); prefer "
                    "`--callback-url -` with the URL on stdin");
        co_return o.callback_url;
    }
    auto in = transport::line_reader::open_stdin(a.io.get_executor());
    if (!in) {
        diag.client_message = "--callback-url -: stdin is neither a terminal nor a pipe; "
                              "pipe the URL in, or paste it at the prompt";
        co_return client_errc::bad_input;
    }
    if (::isatty(STDIN_FILENO)) {
        std::fputs("Paste the URL the browser landed on: ", stderr);
        std::fflush(stderr);
    }
    error_code ec;
    std::string line = co_await in->async_read_line(ec);
    if (ec || line.empty()) {
        diag.client_message = "--callback-url -: no URL on stdin";
        co_return client_errc::bad_input;
    }
    co_return line;
}

// flag > env > stored context (README "Configuration precedence").
result<client_config> resolve_client(const login_options& o, const context_config* stored,
                                     diagnostics& diag) {
    client_config c;
    c.issuer = !o.issuer.empty() ? o.issuer : env_or("LATCH_ISSUER", stored ? stored->issuer : "");
    c.client_id = !o.client_id.empty() ? o.client_id
                                       : env_or("LATCH_CLIENT_ID", stored ? stored->client_id : "");
    c.scopes = !o.scopes.empty() ? o.scopes
               : stored && !stored->scopes.empty() ? stored->scopes
                                                   : default_scopes();
    if (c.issuer.empty()) {
        diag.client_message = "no issuer: pass --issuer URL or set LATCH_ISSUER";
        return client_errc::config_missing;
    }
    if (c.client_id.empty()) {
        diag.client_message = "no client id: pass --client-id ID or set LATCH_CLIENT_ID";
        return client_errc::config_missing;
    }
    return c;
}

// The way in, its options and the CLI's ports.
struct login_plan {
    transport::login_options lo;
    int bad_input_exit = 1;  // --callback-url: a refused URL is a usage error (2)
};

asio::awaitable<result<login_plan>> async_plan(app& a, const login_options& o,
                                               diagnostics& diag) {
    login_plan plan;
    auto& lo = plan.lo;
    lo.timeout = std::chrono::seconds{o.timeout_s};
    lo.port = static_cast<std::uint16_t>(o.port);
    lo.audience = o.audience;
    if (!o.callback_url.empty()) {
        auto text = co_await async_callback_text(a, o, diag);
        if (!text) co_return text.error();
        lo.way = transport::login_way::callback_url;
        lo.callback_url = std::move(*text);
        plan.bad_input_exit = 2;
    } else if (o.password || o.client_credentials) {
        lo.way = o.password ? transport::login_way::password
                            : transport::login_way::client_credentials;
        auto s = read_client_secret(o, diag);
        if (!s) co_return s.error();
        lo.client_secret = std::move(*s);
        lo.send_scope = !o.scopes.empty();
        lo.username = !o.username.empty() ? std::optional(o.username) : env_value("LATCH_USERNAME");
        if (auto p = env_value("LATCH_PASSWORD")) lo.password = secret{std::move(*p)};
    } else {
        lo.way = o.device ? transport::login_way::device
                 : o.browser ? transport::login_way::browser
                             : transport::login_way::automatic;
    }
    co_return plan;
}

// One line for a failed login and its exit code.
int report_login_failure(const login_plan& plan, const error_code& ec,
                         const diagnostics& diag) {
    if (ec == client_errc::cancelled) {
        print_error("interrupted; nothing was stored");
        return 130;
    }
    const bool interactive = plan.lo.way == transport::login_way::automatic ||
                             plan.lo.way == transport::login_way::device ||
                             plan.lo.way == transport::login_way::browser;
    if (interactive && ec == oauth_errc::access_denied)
        print_error("login denied at the identity provider" +
                    (diag.server_message.empty() ? std::string{}
                                                 : ": " + escape_untrusted(diag.server_message)));
    else if (interactive && ec == oauth_errc::expired_token)
        print_error("the device code expired before it was approved; run `latch login` again");
    else if (interactive && ec == client_errc::timeout)  // seed 000: say what to run
        print_error(describe(ec, diag) + "; run `latch login` again (`--timeout SECONDS` waits longer)");
    else print_error(describe(ec, diag));
    return ec == client_errc::bad_input ? plan.bad_input_exit : 1;
}

// Issue 18 #11: some IdPs compare the loopback port too, so the port a browser login
// worked on with --port is remembered in the context and used when none is given.
constexpr std::string_view port_key = "loopback_port";

void use_remembered_port(transport::login_options& lo, const context_config* stored) {
    if (lo.port != 0 || !stored) return;
    auto it = stored->extra.find(std::string(port_key));
    if (it == stored->extra.end()) return;
    const int port = std::atoi(it->second.c_str());
    if (port < 1 || port > 65535) return;
    lo.port = static_cast<std::uint16_t>(port);
    lo.port_remembered = true;
}

void remember_port(std::map<std::string, std::string>& extra, const transport::login_options& lo,
                   const transport::login_result& got) {
    if (lo.port != 0 && got.loopback_port == lo.port)  // a chosen port, and it worked
        extra[std::string(port_key)] = std::to_string(got.loopback_port);
}

// --machine NAME (seed spelling): the id and issuer `latch machine add` kept for a machine
// of that name or id fill in --client-id/--issuer when they are not given. Prints why not.
bool resolve_machine(app& a, login_options& o) {
    diagnostics diag;
    auto known = machine_store(a.store.home()).find(o.machine_name, diag);
    if (!known) print_error(describe(known.error(), diag));
    else if (!*known) print_error("no machine named '" + o.machine_name + "' was added here; see `latch machine list`");
    if (!known || !*known) return false;
    if (o.client_id.empty()) o.client_id = (*known)->machine_id;
    if (o.issuer.empty()) o.issuer = (*known)->issuer;
    return true;
}

}  // namespace

asio::awaitable<int> run_login(app& a, login_options o) {
    diagnostics diag;
    auto cur = load_current_context(a, diag);
    if (cur.exit_code) co_return cur.exit_code;
    const std::string ctx = cur.name;
    auto& cfg = cur.cfg;
    if (o.with_token) co_return co_await run_login_import(a, std::move(cfg), ctx, std::move(o));
    if (!o.machine_name.empty() && !resolve_machine(a, o)) co_return 2;
    auto it = cfg.contexts.find(ctx);
    auto client = resolve_client(o, it == cfg.contexts.end() ? nullptr : &it->second, diag);
    if (!client) { print_error(describe(client.error(), diag)); co_return 2; }
    if (o.machine) co_return co_await run_machine_login(a, std::move(cfg), ctx, *client, o);

    auto plan = co_await async_plan(a, o, diag);
    if (!plan) {
        print_error(describe(plan.error(), diag));
        co_return plan.error() == client_errc::bad_input && !o.callback_url.empty() ? 2 : 1;
    }
    use_remembered_port(plan->lo, it == cfg.contexts.end() ? nullptr : &it->second);
    terminal_user user{detect_terminal(o.no_qr || o.password || o.client_credentials)};
    std::unique_ptr<transport::line_reader> pasted;
    if (plan->lo.way == transport::login_way::automatic || plan->lo.way == transport::login_way::browser)
        pasted = transport::line_reader::open_stdin(a.io.get_executor());
    terminal_prompt prompt{a};
    transport::login_ports ports{user, o.no_browser_open ? nullptr : &a.browser(), pasted.get(),
                                 can_prompt() ? &prompt : nullptr};
    auto got = co_await transport::async_login(a.client, *client, plan->lo, ports, diag);
    pasted.reset();
    if (!got) co_return report_login_failure(*plan, got.error(), diag);
    transport::save_options opts;
    remember_client_auth(opts.extra, o);  // renewal_sources.cpp
    remember_port(opts.extra, plan->lo, *got);
    co_return co_await async_store_login(a, ctx, *client, *got, std::move(opts));
}

asio::awaitable<int> async_store_login(app& a, const std::string& ctx, const client_config& client,
                                       const transport::login_result& login,
                                       transport::save_options opts) {
    diagnostics diag;
    auto saved = co_await transport::async_save_login(a.store, a.clock, ctx, client, login,
                                                      std::move(opts), diag);
    if (!saved) { print_error(describe(saved.error(), diag)); co_return 1; }
    if (!saved->set_aside_notice.empty()) print_error("warning: " + saved->set_aside_notice);
    const auto& who = saved->credentials.who;
    std::fprintf(stderr, "Logged in to %s as %s (context '%s', %s).\n", client.issuer.c_str(),
                 who.display().empty() ? "an unnamed account"
                                       : escape_untrusted(who.display(), 120).c_str(),
                 ctx.c_str(), std::string(short_method_label(login.method)).c_str());
    note_refresh_token_storage(a, ctx, saved->credentials);  // keyring_note.cpp
    co_return co_await async_gateway_after_login(a, std::move(saved->context),
                                                  std::move(saved->credentials));
}

}  // namespace latchkey::cli

#include <CLI/CLI.hpp>

namespace latchkey::cli {

void register_login(CLI::App& cli, command_fn& selected) {
    auto lo = std::make_shared<login_options>();
    auto* login = cli.add_subcommand("login", "Log in and store the tokens");
    auto* dev = login->add_flag("--device", lo->device, "Use the device authorization grant (RFC 8628) only");
    login->add_flag("--browser", lo->browser, "Use the browser (authorization code + PKCE) only")->excludes(dev);
    login->add_flag("--no-browser-open", lo->no_browser_open, "Do not open a browser; print the URL");
    login->add_option("--port", lo->port, "Loopback port for the browser callback (default: any free port)")->check(CLI::Range(1, 65535));
    login->add_option("--issuer", lo->issuer, "Issuer URL (env LATCH_ISSUER)");
    login->add_option("--client-id", lo->client_id, "OAuth client id (env LATCH_CLIENT_ID)");
    login->add_option("--scope", lo->scopes, "Scope to request; repeatable (default: openid profile email offline_access)");
    login->add_option("--timeout", lo->timeout_s, "Give up after this many seconds (default 300; 120 with --machine)")->check(CLI::Range(1, 86400));
    login->add_flag("--no-qr", lo->no_qr, "Do not print a QR code");
    auto* pw = login->add_flag("--password", lo->password, "Resource owner password grant: LATCH_USERNAME/LATCH_PASSWORD (bypasses MFA; for CI)");
    login->add_flag("--client-credentials", lo->client_credentials, "Client credentials grant, for services (secret from LATCH_CLIENT_SECRET or --client-secret-file)")->excludes(pw);
    login->add_option("--client-secret-file", lo->client_secret_file, "File holding the client secret (else env LATCH_CLIENT_SECRET)");
    login->add_option("--callback-url", lo->callback_url, "Store the verified ID token of a callback URL with #id_token=... (`-`: read the URL from stdin)")->excludes(dev)->excludes(pw);
    register_import_options(*login, *lo);
    login->add_option("--machine", lo->machine_name, "Silent login as a machine (optionally the NAME or id `latch machine add` gave it): client credentials signed with its key (private_key_jwt; see `latch machine`)")->expected(0, 1)->excludes(pw)->excludes("--client-credentials");
    login->add_option("--username", lo->username, "User name for --password (else env LATCH_USERNAME, else asked); the password is never taken from the command line")->needs(pw);
    login->add_option("--audience", lo->audience, "The `audience` parameter some identity providers need (Auth0, Okta): sent on the authorization, device and token requests");
    login->add_option("--key-file", lo->key_file, "Machine private key PEM, mode 0600 (else env LATCH_MACHINE_KEY, else the key `latch machine add` stored)");
    login->add_flag("--dpop", lo->dpop, "With --machine: bind the token to the machine's key with DPoP proofs (RFC 9449) even if the identity provider does not advertise DPoP (when it does, proofs are sent anyway)")->needs("--machine");
    login->callback([lo, login, &selected] {
        lo->timeout_given = login->count("--timeout") > 0;
        lo->machine = login->count("--machine") > 0;
        selected = [lo](app& a) { return run_login(a, *lo); };
    });
}

}  // namespace latchkey::cli
