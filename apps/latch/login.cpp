// `latch login`: resolve the client configuration, run a flow, store what it returns.
#include "app.hpp"
#include "renewal_sources.hpp"

#include "login_paste.hpp"

#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/id_token.hpp>

#include <boost/json/object.hpp>

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <cstdlib>

namespace latchkey::cli {
namespace asio = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;

namespace {

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::string(v) : fallback;
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

}  // namespace

asio::awaitable<int> run_login(app& a, login_options o) {
    diagnostics diag;
    auto cur = load_current_context(a, diag);
    if (cur.exit_code) co_return cur.exit_code;
    const std::string ctx = cur.name;
    auto& cfg = cur.cfg;
    if (o.with_token) co_return co_await run_login_import(a, std::move(cfg), ctx, std::move(o));
    auto it = cfg.contexts.find(ctx);
    auto client = resolve_client(o, it == cfg.contexts.end() ? nullptr : &it->second, diag);
    if (!client) { print_error(describe(client.error(), diag)); co_return 2; }
    remember_client_auth(cfg.contexts[ctx], o);  // renewal_sources.cpp; saved with the login
    if (o.machine) co_return co_await run_machine_login(a, std::move(cfg), ctx, *client, o);

    auto meta = co_await a.async_discover(*client, diag);
    if (!meta) { print_error(describe(meta.error(), diag)); co_return exit_code_for(meta.error()); }
    if (!o.callback_url.empty()) {
        auto got = co_await async_callback_url_login(a, *client, *meta, o, diag);
        if (!got) { print_error(describe(got.error(), diag)); co_return got.error() == client_errc::bad_input ? 2 : 1; }
        co_return co_await async_store_login(a, std::move(cfg), ctx, *client, *meta, std::move(*got));
    }
    if (o.password || o.client_credentials) {
        auto got = co_await async_grant_login(a, *client, *meta, o, diag);
        if (!got) {
            if (got.error() == client_errc::cancelled) print_error("interrupted; nothing was stored");
            else print_error(describe(got.error(), diag));
            co_return got.error() == client_errc::cancelled ? 130 : 1;
        }
        co_return co_await async_store_login(a, std::move(cfg), ctx, *client, *meta, std::move(*got));
    }
    const auto mode = choose_login_mode(o, *meta);
    if (mode != login_mode::browser && meta->device_authorization_endpoint.empty()) {
        print_error("the identity provider at " + client->issuer +
                    " does not advertise a device authorization endpoint (RFC 8628)");
        co_return 1;
    }
    if (mode != login_mode::device && meta->authorization_endpoint.empty()) {
        print_error("the identity provider at " + client->issuer +
                    " does not advertise an authorization endpoint");
        co_return 1;
    }
    auto tokens = co_await async_interactive_login(a, *client, *meta, o, mode, diag);
    if (!tokens) {
        auto ec = tokens.error();
        if (ec == client_errc::cancelled) print_error("interrupted; nothing was stored");
        else if (ec == oauth_errc::access_denied)
            print_error("login denied at the identity provider" +
                        (diag.server_message.empty() ? std::string{}
                                                     : ": " + escape_untrusted(diag.server_message)));
        else if (ec == oauth_errc::expired_token)
            print_error("the device code expired before it was approved; run `latch login` again");
        else print_error(describe(ec, diag));
        co_return ec == client_errc::cancelled ? 130 : 1;
    }

    co_return co_await async_store_login(a, std::move(cfg), ctx, *client, *meta, std::move(*tokens));
}

asio::awaitable<int> async_store_login(app& a, config_file cfg, const std::string& ctx,
                                       const client_config& client, const provider_metadata& meta,
                                       login_outcome outcome) {
    diagnostics diag;
    stored_credentials creds;
    creds.context = ctx;
    creds.issuer = client.issuer;
    creds.client_id = client.client_id;
    creds.method = outcome.method;
    creds.obtained_at = a.clock.now();
    creds.tokens = std::move(outcome.tokens);
    // OIDC Core §3.1.3.7: every ID token is verified before anything is stored.
    std::optional<boost::json::object> claims;
    if (creds.tokens.id_token) {
        auto v = co_await transport::async_verify_id_token(a.http, meta, client.client_id,
                                                           creds.tokens.id_token->reveal(),
                                                           outcome.nonce, a.clock.now(), diag,
                                                           a.client.jwks);
        if (!v) { print_error(describe(v.error(), diag) + "; nothing was stored"); co_return 1; }
        claims = std::move(*v);
    }
    if (creds.method == login_method::client_credentials || creds.method == login_method::machine)
        creds.who.subject = client.client_id;  // no user
    else creds.who = co_await a.async_identify(meta, creds.tokens, claims ? &*claims : nullptr);

    // Remember the client so later commands need no flags.
    auto& remembered = cfg.contexts[ctx];
    remembered.issuer = client.issuer;
    remembered.client_id = client.client_id;
    remembered.scopes = client.scopes;
    if (cfg.contexts.size() == 1) cfg.current_context = ctx;
    if (auto ec = a.store.save(creds, diag)) { print_error(describe(ec, diag)); co_return 1; }
    if (auto ec = a.store.save_config(cfg, diag)) { print_error(describe(ec, diag)); co_return 1; }

    std::fprintf(stderr, "Logged in to %s as %s (context '%s', %s).\n", client.issuer.c_str(),
                 creds.who.display().empty() ? "an unnamed account"
                                             : escape_untrusted(creds.who.display(), 120).c_str(),
                 ctx.c_str(), std::string(short_method_label(creds.method)).c_str());
    co_return co_await async_gateway_after_login(a, std::move(remembered), std::move(creds));
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
    login->add_flag("--machine", lo->machine, "Silent login as a machine: client credentials signed with its key (private_key_jwt; see `latch machine`)")->excludes(pw)->excludes("--client-credentials");
    login->add_option("--key-file", lo->key_file, "Machine private key PEM, mode 0600 (else env LATCH_MACHINE_KEY, else the key `latch machine add` stored)");
    login->callback([lo, login, &selected] {
        lo->timeout_given = login->count("--timeout") > 0;
        selected = [lo](app& a) { return run_login(a, *lo); };
    });
}

}  // namespace latchkey::cli
