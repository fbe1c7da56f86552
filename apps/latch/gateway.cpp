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

#include <cmath>

#include <latchkey/core/gateway.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/token_import.hpp>
#include <latchkey/transport/async_lock.hpp>
#include <latchkey/transport/token_source.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

namespace latchkey::cli {
namespace asio = boost::asio;

std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx);  // commands.cpp

namespace {

// A session or ID token this close to its expiry counts as expired (clock skew, and the
// time the caller needs to use it).
constexpr seconds gateway_margin{30};

std::string relogin(const std::string& ctx) { return "latch login --context " + ctx; }

std::string gateway_401(const std::string& ctx) {
    return "gateway returned 401 (session expired) for context '" + ctx + "'; log in again: " + relogin(ctx);
}

void print_secret_line(const secret& s) {
    // `latch token` exists to print this: the one place a whole secret is printed.
    std::fwrite(s.reveal().data(), 1, s.reveal().size(), stdout);
    std::fputc('\n', stdout);
}

// What is sent to the gateway: the ID token; for an imported token (which is all we have),
// the imported token itself, as seed 001's raw-token mode does.
std::optional<secret> gateway_subject(const stored_credentials& c) {
    if (c.tokens.id_token) return c.tokens.id_token;
    if (c.method == login_method::token) return c.tokens.access_token;
    return std::nullopt;
}

// The unverified `exp` of a JWT we stored ourselves; nullopt when it has none.
std::optional<time_point> jwt_expiry(const secret& t) {
    auto claims = decode_jwt_claims_unverified(t.reveal());
    if (!claims) return std::nullopt;
    auto it = claims->find("exp");
    if (it == claims->end() || !it->value().is_number()) return std::nullopt;
    const double exp = it->value().to_number<double>();
    if (!std::isfinite(exp) || exp <= 0) return std::nullopt;
    return from_unix_seconds(exp);
}

asio::awaitable<result<gateway_session>> async_exchange(app& a, gateway_config g, secret subject,
                                                        diagnostics& diag) {
    error_code ec;
    auto resp = co_await a.http.async_send(make_gateway_request(g, subject), ec, diag);
    if (ec) {
        diag.client_message = "cannot reach the gateway at " + g.url + ": " + describe(ec, diag);
        diag.server_message.clear();
        co_return ec;
    }
    co_return parse_gateway_response(g, resp, a.clock.now(), diag);
}

// Stores the session under the context's lock, into the file as it is now: a refresh by
// another process meanwhile (a rotated refresh token) must not be undone.
asio::awaitable<error_code> async_save_session(app& a, std::string ctx, gateway_session s,
                                               diagnostics& diag) {
    auto lock = co_await transport::async_acquire_lock(a.io.get_executor(), a.store.lock_path(ctx),
                                                       transport::default_lock_wait, diag);
    if (!lock) co_return lock.error();
    auto current = a.store.load(ctx, diag);
    if (!current) co_return current.error();
    if (!*current) {
        diag.client_message = "the credentials of context '" + ctx + "' were removed meanwhile";
        co_return client_errc::not_logged_in;
    }
    (*current)->gateway = std::move(s);
    co_return a.store.save(**current, diag);
}

int login_kept(const std::string& ctx, const std::string& why) {
    print_error("warning: logged in, but there is no gateway session for context '" + ctx + "': " +
                why + "; the login is stored, and `latch --context " + ctx +
                " token --gateway` tries the exchange again");
    return 1;
}

// An ID token that is still valid: the stored one, else refreshed (token_source, under the
// lock), else session_expired with a message saying how to log in again.
asio::awaitable<result<secret>> async_fresh_subject(app& a, const stored_credentials& c,
                                                    diagnostics& diag) {
    const auto now = a.clock.now();
    const auto& ctx = c.context;
    if (c.method == login_method::token) {
        if (!c.expired && c.tokens.valid_at(now, gateway_margin)) co_return c.tokens.access_token;
        diag.client_message = "the imported token of context '" + ctx +
                              "' has expired; import a new one: latch login --with-token --context " + ctx;
        co_return client_errc::session_expired;
    }
    auto subject = gateway_subject(c);
    if (!c.expired && subject) {
        auto exp = jwt_expiry(*subject);
        if (!exp || *exp > now + gateway_margin) co_return *subject;
    }
    if (c.expired || !c.tokens.refresh_token || a.global.no_auto_refresh) {
        diag.client_message = std::string(subject ? "the ID token" : "no ID token") + " of context '" +
                              ctx + "'" + (subject ? " has expired" : " is stored") +
                              " and it cannot be refreshed; log in again: " + relogin(ctx);
        co_return client_errc::session_expired;
    }
    auto source = make_source(a, ctx);
    auto t = co_await source->force_refresh(diag);
    if (!t) co_return t.error();
    if (t->id_token) {
        auto exp = jwt_expiry(*t->id_token);
        if (!exp || *exp > a.clock.now() + gateway_margin) co_return *t->id_token;
    }
    diag.client_message = "refreshing context '" + ctx + "' gave no new ID token for the gateway; "
                          "log in again: " + relogin(ctx);
    co_return client_errc::session_expired;
}

}  // namespace

asio::awaitable<int> async_gateway_after_login(app& a, context_config c, stored_credentials creds) {
    const auto g = gateway_config_of(c);
    if (g.url.empty()) co_return 0;
    const auto& ctx = creds.context;
    auto subject = gateway_subject(creds);
    if (!subject) co_return login_kept(ctx, "the login returned no ID token (request the openid scope)");
    diagnostics diag;
    auto s = co_await async_exchange(a, g, *subject, diag);
    if (!s) {
        if (s.error() == client_errc::session_expired) co_return login_kept(ctx, "the gateway at " + g.url + " answered 401");
        co_return login_kept(ctx, describe(s.error(), diag));
    }
    const std::string shown = s->token.redacted();
    const std::string until = s->expires_at ? format_time(*s->expires_at) : "at a time the gateway did not say";
    if (auto ec = co_await async_save_session(a, ctx, std::move(*s), diag))
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
    auto cur = load_current_context(a, diag);
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
    if (c.gateway && c.gateway->url == g.url &&
        (!c.gateway->expires_at || *c.gateway->expires_at > a.clock.now() + gateway_margin)) {
        print_secret_line(c.gateway->token);
        co_return 0;
    }
    auto subject = co_await async_fresh_subject(a, c, diag);
    if (!subject) { print_error(describe(subject.error(), diag)); co_return exit_code_for(subject.error()); }
    auto s = co_await async_exchange(a, g, *subject, diag);
    if (!s) {
        if (s.error() == client_errc::session_expired) { print_error(gateway_401(ctx)); co_return 77; }
        print_error(describe(s.error(), diag));
        co_return 1;
    }
    const secret token = s->token;
    if (auto ec = co_await async_save_session(a, ctx, std::move(*s), diag)) {
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
}

}  // namespace latchkey::cli
