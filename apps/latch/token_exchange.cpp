// `latch token` modes: the stored access token (commands.cpp), the gateway session token
// (--gateway, gateway.cpp) and RFC 8693 token exchange (--exchange, here).
//
// Token exchange: the context's access token (refreshed first if it is about to expire) is
// the subject_token; the IdP's token endpoint issues a token for --audience (and --scope),
// which is printed and not stored (it is for another service; ask again when needed). The
// client authenticates as the context's client: public (client_id only), or with HTTP Basic
// when LATCH_CLIENT_SECRET is set (latch never stores a client secret).
#include "app.hpp"

#include <latchkey/transport/token_exchange.hpp>
#include <latchkey/transport/token_source.hpp>

#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>

namespace latchkey::cli {
namespace asio = boost::asio;

std::unique_ptr<transport::token_source> make_source(app& a, const std::string& ctx);  // commands.cpp
int report_source_error(const error_code& ec, const diagnostics& diag, const std::string& ctx);

namespace {

// RFC 8693 §2.1 from the context: its client authenticates as it logged in, with HTTP Basic
// when LATCH_CLIENT_SECRET is set.
flows::token_exchange_params exchange_params(const stored_credentials& c, secret subject,
                                             const token_options& o) {
    flows::token_exchange_params p;
    p.subject_token = std::move(subject);
    p.audience = o.audience;
    p.scopes = o.scopes;
    p.auth.client_id = c.client_id;
    if (const char* s = std::getenv("LATCH_CLIENT_SECRET"); s && *s) {
        p.auth.how = flows::client_auth::method::secret_basic;
        p.auth.client_secret = secret{s};
    }
    return p;
}

}  // namespace

asio::awaitable<int> run_token_exchange(app& a, token_options o) {
    diagnostics diag;
    auto cur = load_current_context(a, diag, true);
    if (cur.exit_code) co_return cur.exit_code;
    const auto& ctx = cur.name;
    auto creds = a.store.load(ctx, diag);
    if (!creds) { print_error(describe(creds.error(), diag)); co_return 1; }
    if (!*creds) { print_error("not logged in (context '" + ctx + "'); run `latch login`"); co_return 77; }
    const stored_credentials c = std::move(**creds);
    if (c.client_id.empty()) {
        print_error("token exchange needs the client id of context '" + ctx +
                    "': log in with --client-id, or `latch context add " + ctx + " … --client-id ID`");
        co_return 2;
    }

    auto source = make_source(a, ctx);
    auto subject = co_await source->token(diag);
    if (!subject) co_return report_source_error(subject.error(), diag, ctx);
    if (!diag.client_message.empty()) print_error("warning: " + diag.to_string());
    diag.clear();

    client_config cc;
    cc.issuer = c.issuer;
    cc.client_id = c.client_id;
    auto meta = co_await a.async_discover(cc, diag);
    if (!meta) { print_error(describe(meta.error(), diag)); co_return exit_code_for(meta.error()); }
    if (meta->token_endpoint.empty()) {
        print_error("the identity provider at " + c.issuer + " does not advertise a token endpoint");
        co_return 1;
    }
    auto params = exchange_params(c, std::move(*subject), o);
    params.token_endpoint = meta->token_endpoint;
    auto issued = co_await transport::async_exchange_token(a.client, std::move(params), diag);
    if (!issued) {
        // invalid_grant: the IdP no longer accepts the subject token -> log in again (77).
        print_error("token exchange for audience '" + escape_untrusted(o.audience, 120) +
                    "' failed: " + describe(issued.error(), diag));
        co_return exit_code_for(issued.error());
    }
    // The one place a whole secret is printed: this command exists to print it.
    const auto& t = issued->access_token.reveal();
    std::fwrite(t.data(), 1, t.size(), stdout);
    std::fputc('\n', stdout);
    co_return 0;
}

void register_token_modes(CLI::App& token, command_fn& selected) {
    auto o = std::make_shared<token_options>();
    auto* gw = token.add_flag("--gateway", o->gateway,
                              "Print the context's gateway session token, exchanged again when "
                              "expired (LATCH_SESSION_TOKEN overrides)");
    auto* ex = token.add_flag("--exchange", o->exchange,
                              "RFC 8693 token exchange: print a token for --audience, made from the "
                              "stored access token (not stored)")
                   ->excludes(gw);
    auto* aud = token.add_option("--audience", o->audience, "Audience of the exchanged token")->needs(ex);
    ex->needs(aud);
    token.add_option("--scope", o->scopes, "Scope of the exchanged token; repeatable")->needs(ex);
    auto* dp = token.add_option("--dpop-proof", o->dpop_proof,
                                "Print a DPoP proof (RFC 9449) for METHOD URL signed with the machine's key, for "
                                "the DPoP-bound token `latch token` prints")
                   ->expected(2)->type_name("METHOD URL")->excludes(gw)->excludes(ex);
    token.add_option("--nonce", o->dpop_nonce, "The resource server's DPoP-Nonce, put in the proof")->needs(dp);
    token.callback([o, &selected] {
        if (!o->dpop_proof.empty()) selected = [o](app& a) { return run_token_dpop_proof(a, *o); };
        else if (o->gateway) selected = [](app& a) { return run_token_gateway(a); };
        else if (o->exchange) selected = [o](app& a) { return run_token_exchange(a, *o); };
        else selected = [](app& a) { return run_token(a); };
    });
}

}  // namespace latchkey::cli
