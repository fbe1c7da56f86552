// Renewal strategies (refresh, client secret, private_key_jwt); see renewal.hpp.
#include <latchkey/transport/renewal.hpp>

#include <latchkey/core/dpop.hpp>
#include <latchkey/core/jws_sign.hpp>
#include <latchkey/flows/refresh_flow.hpp>
#include <latchkey/transport/drive.hpp>

namespace latchkey::transport {
namespace asio = boost::asio;

renewal_kind renewal_for(login_method m) noexcept {
    switch (m) {
    case login_method::client_credentials: return renewal_kind::client_secret;
    case login_method::machine: return renewal_kind::private_key_jwt;
    default: return renewal_kind::refresh;
    }
}

bool renewable(const stored_credentials& c) noexcept {
    return renewal_for(c.method) != renewal_kind::refresh || c.tokens.refresh_token.has_value();
}

namespace {

result<flows::client_auth> assertion_auth(const client_auth_sources& sources,
                                          const stored_credentials& c,
                                          const std::string& audience, time_point now,
                                          diagnostics& diag) {
    if (!sources.machine_key) {
        diag.client_message = "no machine key is available to sign a client assertion";
        return client_errc::config_missing;
    }
    auto key = sources.machine_key(c, diag);
    if (!key) return key.error();
    auto assertion = make_client_assertion(key->key.get(), key->kid, c.client_id, audience, now);
    if (!assertion) {
        diag.client_message = "cannot sign a client assertion with " + key->source;
        return assertion.error();
    }
    flows::client_auth auth;
    auth.how = flows::client_auth::method::private_key_jwt;
    auth.client_id = c.client_id;
    auth.client_assertion = std::move(*assertion);
    return auth;
}

// A DPoP proof for the machine's renewal POST (RFC 9449 §5), with the IdP's nonce.
result<std::string> renewal_proof(const client_auth_sources& sources, const renewal_request& r,
                                  const std::string& token_endpoint, time_point now, diagnostics& diag) {
    auto key = sources.machine_key(r.current, diag);
    if (!key) return key.error();
    const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    auto proof = make_dpop_proof(key->key.get(), {"POST", token_endpoint, iat, r.dpop_nonce, ""});
    if (!proof) diag.client_message = "cannot sign a DPoP proof with " + key->source;
    return proof;
}

}  // namespace

result<flows::client_auth> client_auth_for(const client_auth_sources& sources,
                                           const stored_credentials& c,
                                           const std::string& audience, time_point now,
                                           diagnostics& diag) {
    if (c.method == login_method::machine)
        return assertion_auth(sources, c, audience, now, diag);
    flows::client_auth auth;
    auth.client_id = c.client_id;
    std::optional<secret> s;
    if (sources.client_secret) {
        auto got = sources.client_secret(c, diag);
        if (!got) return got.error();
        s = std::move(*got);
    }
    if (!s && c.method == login_method::client_credentials) {
        if (diag.client_message.empty())
            diag.client_message = "no client secret is available for client " + c.client_id;
        return client_errc::config_missing;
    }
    if (s) {  // RFC 6749 §2.3.1: HTTP Basic, which every server must support
        auth.how = flows::client_auth::method::secret_basic;
        auth.client_secret = std::move(*s);
    }
    return auth;
}

result<std::unique_ptr<flows::flow>> make_renewal_flow(const client_auth_sources& sources,
                                                       renewal_request r, time_point now,
                                                       diagnostics& diag) {
    auto auth = client_auth_for(sources, r.current, r.token_endpoint, now, diag);
    if (!auth) return auth.error();
    if (renewal_for(r.current.method) == renewal_kind::refresh) {
        flows::refresh_params params;
        params.token_endpoint = std::move(r.token_endpoint);
        params.client_id = r.current.client_id;
        params.current = std::move(r.current.tokens);
        params.scope = std::move(r.scope);
        params.auth = std::move(*auth);
        return std::unique_ptr<flows::flow>(new flows::refresh_flow(std::move(params)));
    }
    // RFC 6749 §4.4 again. The stored scope is what the IdP granted last time: ask for the
    // same (none when it named none: the IdP's default for the client).
    flows::grant_params g;
    g.token_endpoint = std::move(r.token_endpoint);
    g.grant_type = "client_credentials";
    const std::string& scope = r.scope.empty() ? r.current.tokens.scope : r.scope;
    if (!scope.empty()) g.fields.emplace_back("scope", scope);
    g.auth = std::move(*auth);
    if (r.dpop && r.current.method == login_method::machine && sources.machine_key) {
        auto proof = renewal_proof(sources, r, g.token_endpoint, now, diag);
        if (!proof) return proof.error();
        g.headers.emplace_back("DPoP", std::move(*proof));
    }
    return std::unique_ptr<flows::flow>(new flows::grant_flow(std::move(g)));
}

asio::awaitable<result<token_set>> async_renew(ports p, const client_auth_sources& sources,
                                               renewal_request r, diagnostics& diag) {
    auto flow = make_renewal_flow(sources, std::move(r), p.clock.now(), diag);
    if (!flow) co_return flow.error();
    co_return co_await async_drive(**flow, p, diag);
}

}  // namespace latchkey::transport
