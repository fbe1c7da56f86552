// `latch status`, `latch token`, `latch logout`: read what `login` stored.
#include "app.hpp"
#include "renewal_sources.hpp"

#include <latchkey/core/jwt.hpp>
#include <latchkey/transport/revoke.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cstdio>

namespace latchkey::cli {
namespace asio = boost::asio;
namespace json = boost::json;

namespace {

struct loaded {
    std::string context;
    std::optional<stored_credentials> creds;
};

// Loads the credentials of the context this invocation acts on. Errors are printed.
result<loaded> load_current(app& a, diagnostics& diag) {
    auto cfg = a.store.load_config(diag);
    if (!cfg) return cfg.error();
    loaded l;
    l.context = a.context_name(*cfg);
    if (!valid_context_name(l.context)) {
        diag.client_message = invalid_context_message(l.context);
        return client_errc::bad_input;
    }
    if (auto typo = mistyped_context_message(a, *cfg, l.context); !typo.empty()) {
        diag.client_message = std::move(typo);
        return client_errc::bad_input;
    }
    auto c = a.store.load(l.context, diag);
    if (!c) return c.error();
    // Credentials others can read are used, with the fix (README "File permissions"); a
    // machine key file is refused instead (machine_store.cpp).
    if (*c) {
        if (auto w = a.store.permission_warning(l.context); !w.empty()) print_error("warning: " + w);
    }
    l.creds = std::move(*c);
    return l;
}

// Printed; an invalid or mistyped context name is a usage error (exit 2), as in every command.
int load_failed(const error_code& ec, const diagnostics& diag) {
    print_error(describe(ec, diag));
    return ec == client_errc::bad_input ? 2 : exit_code_for(ec);
}

// --no-auto-refresh with an expired access token and a live refresh token: `latch refresh`
// fixes it, no new login is needed, so exit 1, not 77 (issue 17 #2).
bool refresh_would_fix(const app& a, const stored_credentials& c) {
    return a.global.no_auto_refresh && !c.expired && c.tokens.refresh_token &&
           transport::renewal_for(c.method) == transport::renewal_kind::refresh;
}

int report_refresh_off(const std::string& ctx, const stored_credentials& c) {
    print_error("the access token of context '" + ctx + "' expired" +
                (c.tokens.expires_at ? " at " + format_time(*c.tokens.expires_at) : std::string{}) +
                " and --no-auto-refresh is set; run `latch refresh`, or drop --no-auto-refresh");
    return 1;
}

// A DPoP-bound token (RFC 9449): "DPoP-bound (jkt THUMBPRINT)", the key from its cnf claim
// when it is a JWT; empty for a bearer token.
std::string dpop_binding(const stored_credentials& c) {
    if (c.tokens.token_type != "DPoP") return {};
    std::string jkt = "unknown";
    if (auto claims = decode_jwt_claims_unverified(c.tokens.access_token.reveal()))
        if (const auto* cnf = claims->if_contains("cnf"); cnf && cnf->is_object())
            if (const auto* j = cnf->as_object().if_contains("jkt"); j && j->is_string())
                jkt = escape_untrusted(j->as_string(), 100);
    return "DPoP-bound (jkt " + jkt + ")";
}

std::string not_logged_in(const std::string& ctx) {
    return "not logged in (context '" + ctx + "'); run `latch login`";
}

void print_status_text(const stored_credentials& c, time_point now, bool valid) {
    const auto who = c.who.display();
    std::printf("%s %s as %s (context '%s')\n", valid ? "Logged in to" : "Session expired at",
                c.issuer.c_str(), who.empty() ? "an unnamed account" : escape_untrusted(who, 120).c_str(),
                c.context.c_str());
    if (!c.who.subject.empty()) std::printf("  subject:  %s\n", escape_untrusted(c.who.subject, 120).c_str());
    if (!c.who.email.empty()) std::printf("  email:    %s\n", escape_untrusted(c.who.email, 120).c_str());
    for (const auto& [k, v] : c.who.attributes)  // a lookup's platformId, role (seed 000)
        std::printf("  %-9s %s\n", (escape_untrusted(k, 40) + ":").c_str(), escape_untrusted(v, 120).c_str());
    std::printf("  client:   %s\n", c.client_id.empty() ? "(none given)" : c.client_id.c_str());
    if (!c.tokens.scope.empty()) std::printf("  scopes:   %s\n", escape_untrusted(c.tokens.scope, 300).c_str());
    if (c.tokens.expires_at) {
        auto left = std::chrono::duration_cast<std::chrono::seconds>(*c.tokens.expires_at - now);
        std::printf("  expires:  %s (%s %s)%s\n", format_time(*c.tokens.expires_at).c_str(),
                    left.count() >= 0 ? "in" : "expired", format_duration(left.count() >= 0 ? left : -left).c_str(),
                    c.tokens.expiry_assumed ? ", assumed: the identity provider did not say when it expires" : "");
    } else {
        std::printf("  expires:  unknown (the identity provider gave no lifetime)\n");
    }
    // A session the IdP ended has no usable refresh token, even though it is kept.
    std::printf("  refresh:  %s\n", c.tokens.refresh_token && !c.expired ? "yes" : "no");
    std::printf("  login:    %s\n", std::string(describe_method(c.method)).c_str());
    std::printf("  token:    %s\n", c.tokens.access_token.redacted().c_str());
    if (auto b = dpop_binding(c); !b.empty()) std::printf("  binding:  %s\n", b.c_str());
    if (auto g = gateway_status_line(c, now); !g.empty()) std::printf("%s\n", g.c_str());
}

void print_status_json(const std::string& ctx, const stored_credentials* c, bool valid) {
    json::object o;
    o["context"] = ctx;
    o["logged_in"] = valid;
    if (c) {
        o["issuer"] = c->issuer;
        o["client_id"] = c->client_id;
        o["subject"] = c->who.subject;
        o["email"] = c->who.email;
        o["name"] = c->who.name;
        json::array scopes;
        std::string_view s = c->tokens.scope;
        while (!s.empty()) {
            auto sp = s.find(' ');
            if (sp != 0) scopes.emplace_back(s.substr(0, sp));
            if (sp == std::string_view::npos) break;
            s.remove_prefix(sp + 1);
        }
        o["scopes"] = std::move(scopes);
        o["expires_at"] = c->tokens.expires_at ? json::value(format_time(*c->tokens.expires_at)) : nullptr;
        o["expiry_assumed"] = c->tokens.expiry_assumed;
        json::object attrs;
        for (const auto& [k, v] : c->who.attributes) attrs[k] = v;
        o["attributes"] = std::move(attrs);
        o["login_method"] = to_string(c->method);
        o["status"] = c->expired ? "expired" : valid ? "active" : "access_token_expired";
        o["has_refresh_token"] = c->tokens.refresh_token.has_value();
        o["access_token"] = c->tokens.access_token.redacted();
        o["token_type"] = c->tokens.token_type;
    }
    std::printf("%s\n", json::serialize(o).c_str());
}

}  // namespace

asio::awaitable<int> run_status(app& a, status_options o) {
    diagnostics diag;
    auto l = load_current(a, diag);
    if (!l) co_return load_failed(l.error(), diag);
    const auto now = a.clock.now();
    if (!l->creds) {
        if (o.json) print_status_json(l->context, nullptr, false);
        print_error(not_logged_in(l->context));
        co_return 77;
    }
    if (!a.global.no_auto_refresh && !l->creds->expired) {
        // Refresh within the CLI window first, so status reports what `token` would give.
        auto source = make_source(a, l->context);
        diagnostics rd;
        auto t = co_await source->tokens(rd);
        if (t && !rd.client_message.empty()) print_error("warning: " + rd.to_string());
        if (auto fresh = source->cached()) l->creds = std::move(*fresh);
    }
    const auto& c = *l->creds;
    const bool valid = !c.expired && c.tokens.valid_at(now);
    if (o.json) print_status_json(l->context, &c, valid);
    else print_status_text(c, now, valid);
    if (!valid && refresh_would_fix(a, c)) co_return report_refresh_off(l->context, c);
    if (!valid) {
        print_error("session expired (context '" + l->context + "'); run `latch login`");
        co_return 77;
    }
    co_return 0;
}

std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx,
                                                     bool fall_back) {
    transport::token_source_options o;
    o.refresh_window = std::chrono::seconds{300};
    o.auto_refresh = !a.global.no_auto_refresh;
    o.use_valid_token_on_failure = fall_back;
    o.auth = client_auth_sources_of(a);
    return std::make_unique<transport::token_source>(a.io.get_executor(), a.client, a.store,
                                                     ctx, o);
}

std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx) {
    return make_source(a, ctx, true);
}

int report_source_error(const error_code& ec, const diagnostics& diag, const std::string& ctx) {
    if (ec == client_errc::not_logged_in) print_error(not_logged_in(ctx));
    else if (ec == client_errc::session_expired)
        print_error("session expired (context '" + ctx + "'); run `latch login`" +
                    (diag.server_message.empty() ? std::string{}
                                                 : ": \"" + escape_untrusted(diag.server_message) + "\""));
    else print_error(describe(ec, diag));
    return exit_code_for(ec);
}

// `latch token` / `latch refresh` in a client-credentials or machine context whose token
// could not be re-obtained: today's messages and exit codes (77 when a new login, secret or
// key is needed).
int report_grant_error(app& a, login_method m, const error_code& ec, const diagnostics& diag,
                       const std::string& ctx) {
    if (ec == client_errc::not_logged_in || ec == client_errc::lock_timeout ||
        ec == client_errc::store_io || ec == client_errc::store_corrupt)
        return report_source_error(ec, diag, ctx);
    const bool machine = m == login_method::machine;
    const std::string again = std::string(machine ? "the machine" : "the client credentials") +
                              " token of context '" + ctx + "' ";
    if (machine && a.global.no_auto_refresh) {
        print_error(again + "expired; run `latch login --machine`");
        return 77;
    }
    if (!machine && (a.global.no_auto_refresh || ec == client_errc::config_missing)) {
        print_error(again + "expired; set LATCH_CLIENT_SECRET so `latch token` can obtain a new "
                            "one, or run `latch login --client-credentials`");
        return 77;
    }
    if (machine && (ec == client_errc::key_error || ec == client_errc::config_missing)) {
        print_error(again + "expired and cannot be re-obtained: " + describe(ec, diag));
        return 77;
    }
    print_error(again + "could not be re-obtained: " + describe(ec, diag));
    if (ec == client_errc::cancelled) return 130;
    // 77 only when the IdP refused the machine (a new `latch login --machine` or a new key
    // is needed); an IdP that is down or slow is an ordinary error (1).
    if (machine) return ec == oauth_errc::invalid_client ? 77 : exit_code_for(ec);
    return 77;
}

asio::awaitable<int> run_token(app& a) {
    diagnostics diag;
    auto l = load_current(a, diag);
    if (!l) co_return load_failed(l.error(), diag);
    if (!l->creds) { print_error(not_logged_in(l->context)); co_return 77; }
    // A client-credentials or machine token is re-obtained with the secret or key: a failure
    // is reported, not papered over with the old token (it may have been revoked).
    const auto method = l->creds->method;
    const bool granted = transport::renewal_for(method) != transport::renewal_kind::refresh;
    auto source = make_source(a, l->context, !granted);
    auto tok = co_await source->token(diag);
    if (!tok && granted) {
        if (method == login_method::machine && tok.error() == oauth_errc::invalid_client)
            co_await async_explain_machine_refusal(a, *l->creds, diag);
        co_return report_grant_error(a, method, tok.error(), diag, l->context);
    }
    if (!tok && tok.error() == client_errc::session_expired && refresh_would_fix(a, *l->creds))
        co_return report_refresh_off(l->context, *l->creds);
    if (!tok) co_return report_source_error(tok.error(), diag, l->context);
    if (!diag.client_message.empty()) print_error("warning: " + diag.to_string());
    // The one place a whole secret is printed: this command exists to print it.
    std::fwrite(tok->reveal().data(), 1, tok->reveal().size(), stdout);
    std::fputc('\n', stdout);
    co_return 0;
}

asio::awaitable<int> run_refresh(app& a) {
    diagnostics diag;
    auto l = load_current(a, diag);
    if (!l) co_return load_failed(l.error(), diag);
    if (!l->creds) { print_error(not_logged_in(l->context)); co_return 77; }
    if (l->creds->method == login_method::token) {  // login_import.cpp
        print_error("context '" + l->context + "' holds an imported token, which has no refresh "
                    "token; when it expires, import a new one: latch login --with-token --context " +
                    l->context);
        co_return 77;
    }
    auto source = make_source(a, l->context);
    auto t = co_await source->force_refresh(diag);
    if (!t && transport::renewal_for(l->creds->method) != transport::renewal_kind::refresh)
        co_return report_grant_error(a, l->creds->method, t.error(), diag, l->context);
    if (!t) co_return report_source_error(t.error(), diag, l->context);
    if (!diag.client_message.empty()) print_error("warning: " + diag.to_string());
    std::fprintf(stderr, "Refreshed context '%s'; the access token now expires %s.\n",
                 l->context.c_str(),
                 t->expires_at ? format_time(*t->expires_at).c_str() : "at an unknown time");
    co_return 0;
}

// Revokes the refresh token (RFC 7009) when the IdP advertises a revocation endpoint, so a
// copy of the file elsewhere is useless too. Returns a line for the user.
asio::awaitable<std::string> async_revoke_stored(app& a, const stored_credentials& c) {
    if (!c.tokens.refresh_token && c.tokens.access_token.empty()) co_return std::string{};
    diagnostics diag;
    client_config cc;
    cc.issuer = c.issuer;
    cc.client_id = c.client_id;
    auto meta = co_await a.async_discover(cc, diag);
    if (!meta) co_return "could not reach the identity provider to revoke the tokens (" +
                         describe(meta.error(), diag) + ")";
    if (meta->revocation_endpoint.empty())
        co_return "the identity provider has no revocation endpoint; tokens stay valid until they expire";
    const bool refresh = c.tokens.refresh_token.has_value();
    // RFC 7009 §2.1: a confidential client authenticates as it does at the token endpoint.
    auto auth = transport::client_auth_for(client_auth_sources_of(a), c, meta->token_endpoint,
                                           a.clock.now(), diag);
    if (!auth) co_return "could not authenticate the client to revoke the tokens (" +
                         describe(auth.error(), diag) + ")";
    transport::revoke_params p;
    p.revocation_endpoint = meta->revocation_endpoint;
    p.token = refresh ? *c.tokens.refresh_token : c.tokens.access_token;
    p.token_type_hint = refresh ? "refresh_token" : "access_token";
    p.client_id = c.client_id;
    p.auth = std::move(*auth);
    auto ec = co_await transport::async_revoke(a.http, std::move(p), diag);
    if (ec) co_return "revocation failed (" + describe(ec, diag) + ")";
    co_return std::string{"revoked the "} + (refresh ? "refresh" : "access") + " token at the identity provider";
}

asio::awaitable<int> run_logout(app& a) {
    diagnostics diag;
    auto cur = load_current_context(a, diag);
    if (cur.exit_code) co_return cur.exit_code;
    const auto& ctx = cur.name;
    auto creds = a.store.load(ctx, diag);
    std::string revoked;
    if (creds && *creds && !(*creds)->expired) revoked = co_await async_revoke_stored(a, **creds);
    diag.clear();
    auto removed = a.store.remove(ctx, diag);
    if (!removed) { print_error(describe(removed.error(), diag)); co_return 1; }
    if (*removed)
        std::fprintf(stderr, "Logged out of context '%s': removed %s%s%s\n", ctx.c_str(),
                     a.store.credentials_path(ctx).c_str(), revoked.empty() ? "" : "; ",
                     revoked.c_str());
    else
        std::fprintf(stderr, "Not logged in (context '%s'); nothing to remove\n", ctx.c_str());
    co_return 0;
}

}  // namespace latchkey::cli

#include <CLI/CLI.hpp>

namespace latchkey::cli {

const char* const exit_codes_help =
    "Exit codes: 0 ok, 1 error, 2 usage, 77 log in again (expired, absent or rejected\n"
    "credentials, or a gateway's 401), 130 interrupted.";

void register_session_commands(CLI::App& cli, command_fn& selected) {
    auto so = std::make_shared<status_options>();
    auto* status = cli.add_subcommand("status", "Show who is logged in; exit 77 when a new login is needed");
    status->alias("whoami");
    status->add_flag("--json", so->json, "Machine-readable output");
    status->callback([so, &selected] { selected = [so](app& a) { return run_status(a, *so); }; });

    auto* token = cli.add_subcommand("token", "Print the access token (the only command that prints a secret)");
    register_token_modes(*token, selected);  // --gateway, --exchange: token_exchange.cpp

    auto* refresh = cli.add_subcommand("refresh", "Refresh the tokens now");
    refresh->callback([&selected] { selected = [](app& a) { return run_refresh(a); }; });

    auto* logout = cli.add_subcommand("logout", "Revoke and remove the stored credentials");
    logout->callback([&selected] { selected = [](app& a) { return run_logout(a); }; });
}

}  // namespace latchkey::cli
