// Non-interactive logins: the resource owner password grant (RFC 6749 §4.3, for CI that
// has no browser; seed 002), client credentials (§4.4, for services), and the machine
// login: client credentials authenticated by a signed client assertion (RFC 7523 §2.2,
// private_key_jwt; OIDC Core §9): iss = sub = the machine id, aud = the token endpoint, a
// 60 s lifetime and a fresh jti every time, bounded by login_options::timeout.
#include "login_internal.hpp"

#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/machine_store.hpp>
#include <latchkey/core/registration.hpp>
#include <latchkey/flows/grant_flow.hpp>
#include <latchkey/transport/dpop.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/race.hpp>

#include <algorithm>

namespace latchkey::transport::detail {
namespace asio = boost::asio;

namespace {

// Beyond this the IdP rejects an honest assertion as expired or not yet valid
// (oidc-provider tolerates 15 s; many IdPs less than a minute).
constexpr std::chrono::seconds skew_tolerance{15};

class silent_user final : public user_port {
public:
    void show(const flows::show_user&) override {}
};

// A confidential client authenticates with HTTP Basic (RFC 6749 §2.3.1); without a
// secret the client is public and only names itself.
flows::client_auth make_auth(const client_config& c, std::optional<secret> s) {
    flows::client_auth auth;
    auth.client_id = c.client_id;
    if (s) {
        auth.how = flows::client_auth::method::secret_basic;
        auth.client_secret = std::move(*s);
    }
    return auth;
}

// The embedder's user name and password, else (with a prompt port) asked for.
asio::awaitable<result<std::pair<std::string, secret>>> async_user_password(
    const login_options& o, login_ports p, diagnostics& diag) {
    auto user = o.username;
    std::optional<std::string> pass;
    if (o.password) pass = o.password->reveal();
    if ((!user || !pass) && p.prompt) {
        if (!user) user = co_await p.prompt->async_prompt("Username: ", true);
        if (user && !pass) pass = co_await p.prompt->async_prompt("Password: ", false);
        if (!user || !pass) co_return client_errc::cancelled;
    }
    if (!user || !pass || user->empty()) {
        diag.client_message = "the password grant reads the user name and password from the "
                              "environment: set LATCH_USERNAME and LATCH_PASSWORD (never pass a "
                              "password on the command line)";
        co_return client_errc::config_missing;
    }
    co_return std::pair<std::string, secret>{std::move(*user), secret{std::move(*pass)}};
}

result<flows::grant_params> client_credentials_params(const client_config& c,
                                                      const login_options& o,
                                                      diagnostics& diag) {
    if (!o.client_secret) {
        diag.client_message = "the client credentials grant needs the client secret: set "
                              "LATCH_CLIENT_SECRET or pass --client-secret-file FILE";
        return client_errc::config_missing;
    }
    flows::grant_params gp;
    gp.grant_type = "client_credentials";
    // Scopes only when asked for: the user-login defaults (openid, offline_access) mean
    // nothing to a service and IdPs reject them.
    if (o.send_scope && !c.scopes.empty()) gp.fields.emplace_back("scope", c.scope_string());
    gp.auth = make_auth(c, o.client_secret);
    return gp;
}

}  // namespace

asio::awaitable<result<flow_outcome>> async_grant_login(client_services& client,
                                                        const client_config& c,
                                                        const provider_metadata& m,
                                                        const login_options& o, login_ports p,
                                                        diagnostics& diag) {
    if (m.token_endpoint.empty()) {
        diag.client_message = "the identity provider at " + c.issuer +
                              " does not advertise a token endpoint";
        co_return client_errc::endpoint_missing;
    }
    const bool password = o.way == login_way::password;
    if (password)
        p.user.warn("warning: the password grant sends your password to the identity provider "
                    "and bypasses MFA; prefer `latch login`");
    flows::grant_params gp;
    if (password) {
        auto cred = co_await async_user_password(o, p, diag);
        if (!cred) co_return cred.error();
        gp.grant_type = "password";
        gp.fields = {{"username", cred->first}, {"password", cred->second.reveal()}};
        if (!c.scopes.empty()) gp.fields.emplace_back("scope", c.scope_string());
        gp.auth = make_auth(c, o.client_secret);
    } else {
        auto cc = client_credentials_params(c, o, diag);
        if (!cc) co_return cc.error();
        gp = std::move(*cc);
    }
    gp.token_endpoint = m.token_endpoint;
    if (!o.audience.empty()) gp.fields.emplace_back("audience", o.audience);
    flows::grant_flow flow{std::move(gp)};
    silent_user user;
    auto tokens = co_await async_drive(flow, ports{client.http, client.clock, user}, diag);
    if (!tokens) co_return tokens.error();
    co_return flow_outcome{std::move(*tokens),
                           password ? login_method::password : login_method::client_credentials};
}

namespace {

std::string skew_message(std::chrono::seconds skew) {
    const auto abs = skew > std::chrono::seconds{0} ? skew : -skew;
    const auto m = abs.count() / 60, s = abs.count() % 60, h = abs.count() / 3600;
    std::string d = abs.count() >= 86400 ? std::to_string(abs.count() / 86400) + "d " + std::to_string((abs.count() % 86400) / 3600) + "h"
                    : abs.count() >= 3600 ? std::to_string(h) + "h " + std::to_string((abs.count() % 3600) / 60) + "m"
                    : abs.count() >= 60 ? std::to_string(m) + "m " + std::to_string(s) + "s"
                                        : std::to_string(abs.count()) + "s";
    return "clock skew too large: this machine's clock is " + d +
           (skew > std::chrono::seconds{0} ? " behind" : " ahead of") +
           " the identity provider's (by its Date header), so the signed "
           "assertion looks expired or not yet valid (invalid_client); set the "
           "clock right (NTP) and try again";
}

}  // namespace

}  // namespace latchkey::transport::detail

namespace latchkey::transport {
namespace asio = boost::asio;

// Why the IdP said invalid_client, as far as we can tell (login.hpp).
asio::awaitable<void> async_explain_invalid_client(client_services& client,
                                                   const client_config& c, const signing_key_ref& k,
                                                   std::filesystem::path machine_home,
                                                   diagnostics& diag) {
    using namespace detail;
    error_code ec;
    diagnostics ignored;
    auto disc = co_await client.http.async_send(make_get(discovery_url(c.issuer)), ec, ignored);
    if (!ec) {
        if (auto skew = server_clock_skew(disc, client.clock.now());
            skew && (*skew > skew_tolerance || *skew < -skew_tolerance)) {
            diag.client_message = skew_message(*skew);
            co_return;
        }
    }
    auto rec = machine_store(machine_home).find(c.client_id, ignored);
    if (rec && *rec && !(*rec)->registration_access_token.empty() &&
        !(*rec)->registration_client_uri.empty()) {
        auto resp = co_await client.http.async_send(
            make_registration_read((*rec)->registration_client_uri, (*rec)->registration_access_token),
            ec, ignored);
        auto reg = ec ? result<client_registration>(ec) : parse_registration_response(resp, ignored);
        if (reg && std::find(reg->kids.begin(), reg->kids.end(), k.kid) == reg->kids.end()) {
            diag.client_message = "the identity provider refused " + k.source + " for machine " +
                                  c.client_id + " (invalid_client): it is not the machine's registered "
                                  "key (rotated with `latch machine rotate`?); use its current key";
            co_return;
        }
        if (reg) co_return;  // registered with this key: the IdP's own reason is all we have
    }
    diag.client_message = "machine not registered: the identity provider at " + c.issuer +
                          " refused machine " + c.client_id + " (invalid_client); it was removed "
                          "(`latch machine rm`) or never registered there, or " + k.source +
                          " is not its key; register one with `latch machine add`";
}

}  // namespace latchkey::transport

namespace latchkey::transport::detail {

namespace {

// The machine's token request: a fresh assertion, and a DPoP proof when `dpop`.
result<flows::grant_params> machine_grant_params(client_services& client, const client_config& c,
                                                 const login_options& o, const std::string& token_endpoint,
                                                 bool dpop, diagnostics& diag) {
    auto assertion = make_client_assertion(o.key.key, o.key.kid, c.client_id, token_endpoint, client.clock.now());
    if (!assertion) {
        diag.client_message = "cannot sign a client assertion with " + o.key.source;
        return assertion.error();
    }
    flows::grant_params gp;
    gp.token_endpoint = token_endpoint;
    gp.grant_type = "client_credentials";
    if (!c.scopes.empty()) gp.fields.emplace_back("scope", c.scope_string());
    gp.auth.how = flows::client_auth::method::private_key_jwt;
    gp.auth.client_id = c.client_id;
    gp.auth.client_assertion = std::move(*assertion);
    if (dpop) {
        auto proof = make_dpop_proof_for(client, c.issuer, o.key.key, "POST", token_endpoint);
        if (!proof) {
            diag.client_message = "cannot sign a DPoP proof with " + o.key.source;
            return proof.error();
        }
        gp.headers.emplace_back("DPoP", std::move(*proof));
    }
    return gp;
}

asio::awaitable<error_code> async_machine_grant(client_services& client, const client_config& c,
                                                const login_options& o, flow_outcome& out,
                                                diagnostics& diag) {
    auto meta = co_await client.async_discover(c, diag);
    if (!meta) co_return meta.error();
    if (meta->token_endpoint.empty()) {
        diag.client_message = "the identity provider at " + c.issuer + " does not advertise a token endpoint";
        co_return client_errc::endpoint_missing;
    }
    const bool dpop = dpop_wanted(*meta, o.key.key, o.dpop);
    std::string& nonce = client.dpop_nonces[c.issuer];
    result<token_set> tokens = client_errc::cancelled;
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto gp = machine_grant_params(client, c, o, meta->token_endpoint, dpop, diag);
        if (!gp) co_return gp.error();
        flows::grant_flow flow{std::move(*gp)};
        silent_user user;
        dpop_nonce_recorder http(client.http, nonce);
        const std::string sent_nonce = nonce;
        tokens = co_await async_drive(flow, ports{http, client.clock, user}, diag);
        // RFC 9449 §8: the IdP wants a proof with its nonce; nothing was granted, so one more
        // request (a new assertion and proof) with the nonce it just gave is safe.
        if (tokens || !dpop || tokens.error() != oauth_errc::use_dpop_nonce || nonce == sent_nonce) break;
        diag.clear();
    }
    if (!tokens) {
        if (tokens.error() == oauth_errc::invalid_client)
            co_await async_explain_invalid_client(client, c, o.key, o.machine_home, diag);
        co_return tokens.error();
    }
    out = flow_outcome{std::move(*tokens), login_method::machine};
    co_return error_code{};
}

}  // namespace

asio::awaitable<result<flow_outcome>> async_machine_login(client_services& client,
                                                          const client_config& c,
                                                          const login_options& o,
                                                          diagnostics& diag) {
    // The grant raced against the deadline; the loser is cancelled (its connection closed).
    flow_outcome out;
    auto grant = async_machine_grant(client, c, o, out, diag);
    auto deadline = async_deadline(&client.clock, o.timeout, deadline_kind::soft);
    auto r = co_await async_race(std::move(grant), std::move(deadline), any_error);
    if (r.first == 0) {
        if (r.ec[0]) co_return r.ec[0];
        co_return out;
    }
    if (r.ec[1] == client_errc::cancelled) co_return client_errc::cancelled;
    diag.clear();
    diag.client_message = "silent login timed out after " + std::to_string(o.timeout.count()) +
                          " s: the identity provider at " + c.issuer +
                          " did not answer; check that it is up and reachable from here "
                          "(--timeout SECONDS changes the bound)";
    co_return client_errc::timeout;
}

}  // namespace latchkey::transport::detail
