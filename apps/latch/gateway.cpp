// Gateway sessions (seed 001): a context may name a gateway login URL. After every login
// into it latch POSTs the ID token there (core/gateway.hpp) and caches the session token
// the gateway returns, with its expiry, in the context's credentials file. `latch token
// --gateway` prints that session token, exchanging again when it has expired (refreshing
// the ID token first when that has expired too). LATCH_SESSION_TOKEN overrides it. A 401
// from the gateway means the login behind the session is no longer accepted: exit 77.
//
// A failed exchange right after a login keeps the login (it succeeded and is stored) but
// exits 1 with a warning, so a script notices at the step that failed; `latch token
// --gateway` tries the exchange again.
#include "app.hpp"
#include "cli_tools.hpp"
#include "renewal_sources.hpp"

#include <latchkey/core/gateway.hpp>
#include <latchkey/core/token_import.hpp>  // lookup_url_key
#include <latchkey/transport/gateway_session.hpp>
#include <latchkey/transport/token_source.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

namespace latchkey::cli {
namespace asio = boost::asio;

namespace {

std::string relogin(const std::string& ctx) { return "latch login --context " + ctx; }

std::string gateway_401(const std::string& ctx) {
    return "gateway returned 401 (session expired) for context '" + ctx + "'; log in again: " + relogin(ctx);
}

void print_secret_line(const secret& s) {
    // `latch token` exists to print this: the one place a whole secret is printed.
    std::fwrite(s.reveal().data(), 1, s.reveal().size(), stdout);
    std::fputc('\n', stdout);
}

int login_kept(const std::string& ctx, const std::string& why) {
    print_error("warning: logged in, but there is no gateway session for context '" + ctx + "': " +
                why + "; the login is stored, and `latch --context " + ctx +
                " token --gateway` tries the exchange again");
    return 1;
}

}  // namespace

asio::awaitable<int> async_gateway_after_login(app& a, context_config c, stored_credentials creds) {
    const auto g = gateway_config_of(c);
    if (g.url.empty()) co_return 0;
    const auto& ctx = creds.context;
    auto subject = transport::gateway_subject(creds);
    if (!subject) co_return login_kept(ctx, "the login returned no ID token (request the openid scope)");
    diagnostics diag;
    auto s = co_await transport::async_exchange_gateway(a.http, a.clock, g, *subject, diag);
    if (!s) {
        if (s.error() == client_errc::session_expired) co_return login_kept(ctx, "the gateway at " + g.url + " answered 401");
        co_return login_kept(ctx, describe(s.error(), diag));
    }
    const std::string shown = s->token.redacted();
    const std::string until = s->expires_at ? format_time(*s->expires_at) : "at a time the gateway did not say";
    if (auto ec = co_await transport::async_save_gateway_session(a.clock, a.store, ctx, std::move(*s), diag))
        co_return login_kept(ctx, "storing the session failed: " + describe(ec, diag));
    std::fprintf(stderr, "Gateway session for context '%s' from %s: %s (expires %s).\n", ctx.c_str(),
                 g.url.c_str(), shown.c_str(), until.c_str());
    co_return 0;
}

asio::awaitable<int> run_token_gateway(app& a) {
    if (const char* env = std::getenv("LATCH_SESSION_TOKEN"); env && *env) {
        print_secret_line(secret{env});  // an override: printed as it is, nothing stored
        co_return 0;
    }
    diagnostics diag;
    auto cur = load_current_context(a, diag, true);
    if (cur.exit_code) co_return cur.exit_code;
    const auto& ctx = cur.name;
    const auto& cfg = cur.cfg;
    auto known = cfg.contexts.find(ctx);
    const auto g = gateway_config_of(known == cfg.contexts.end() ? context_config{} : known->second);
    if (g.url.empty()) {
        print_error("context '" + ctx + "' has no gateway; add one with `latch context add " + ctx +
                    " --issuer URL --client-id ID --gateway URL`");
        co_return 2;
    }
    auto creds = a.store.load(ctx, diag);
    if (!creds) { print_error(describe(creds.error(), diag)); co_return 1; }
    if (!*creds) { print_error("not logged in (context '" + ctx + "'); run `" + relogin(ctx) + "`"); co_return 77; }
    const auto& c = **creds;
    if (auto cached = transport::fresh_gateway_session(c, g, a.clock.now())) {
        print_secret_line(*cached);
        co_return 0;
    }
    // The forced ID-token refresh goes through token_source (its lock and single-flight).
    auto source = make_source(a, ctx);
    auto subject = co_await transport::async_fresh_gateway_subject(
        *source, c, a.clock.now(), !a.global.no_auto_refresh, relogin(ctx), diag);
    if (!subject) { print_error(describe(subject.error(), diag)); co_return exit_code_for(subject.error()); }
    auto s = co_await transport::async_exchange_gateway(a.http, a.clock, g, *subject, diag);
    if (!s) {
        if (s.error() == client_errc::session_expired) { print_error(gateway_401(ctx)); co_return 77; }
        print_error(describe(s.error(), diag));
        co_return 1;
    }
    const secret token = s->token;
    if (auto ec = co_await transport::async_save_gateway_session(a.clock, a.store, ctx, std::move(*s), diag)) {
        print_error("warning: the new gateway session could not be stored: " + describe(ec, diag));
    }
    print_secret_line(token);
    co_return 0;
}

std::string gateway_status_line(const stored_credentials& c, time_point now) {
    if (!c.gateway) return {};
    std::string line = "  gateway:  " + c.gateway->token.redacted() + " from " + c.gateway->url;
    if (!c.gateway->expires_at) return line + " (no expiry given)";
    const auto left = std::chrono::duration_cast<seconds>(*c.gateway->expires_at - now);
    return line + ", expires " + format_time(*c.gateway->expires_at) + " (" +
           (left.count() >= 0 ? "in " + format_duration(left) : "expired " + format_duration(-left) + " ago") + ")";
}

void add_context_setting_options(CLI::App& add, std::map<std::string, std::string>& settings) {
    add.add_option("--gateway", settings[gateway_url_key],
                   "Gateway login URL: after each login the ID token is POSTed there as JSON for a "
                   "session token (`latch token --gateway`)");
    add.add_option("--gateway-request-field", settings[gateway_request_field_key],
                   "JSON member of the gateway request holding the ID token (default id_token)");
    add.add_option("--gateway-token-field", settings[gateway_token_field_key],
                   "JSON member of the gateway reply holding the session token (default "
                   "session_token; a.b for a nested one)");
    add.add_option("--gateway-expiry-field", settings[gateway_expiry_field_key],
                   "JSON member of the gateway reply holding the session expiry (default expires_at: "
                   "RFC 3339, Unix time or seconds; else expires_in)");
    add.add_option("--lookup-url", settings[lookup_url_key],
                   "Identity lookup URL for imported tokens (`latch login --with-token`)");
    add_storage_option(add, settings["storage"]);  // keyring_note.cpp
}

}  // namespace latchkey::cli
