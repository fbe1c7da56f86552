// The resource owner password grant (RFC 6749 §4.3), only for clients registered with
// `--grant password` (off by default, as RFC 9700 §2.4 asks). The password is checked with
// argon2id on the hashing pool (busy: 503 + Retry-After); attempts are limited per IP.
#include "idp.hpp"
#include "pages.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

boost::asio::awaitable<http_response> password_grant(idp_state& st, const ts::server_request& req,
                                                     const fs::form& params, const fs::client_record& client,
                                                     std::string jkt) {
    if (!client.allows_grant("password"))
        co_return oauth_error(oauth_errc::unauthorized_client, "this client may not use the password grant");
    const auto username = params.get("username");
    const auto password = params.get("password");
    if (!username || !password) co_return oauth_error(oauth_errc::invalid_request, "username and password are required");
    diagnostics diag;
    auto scope = fs::grant_scope(params.value_or_empty("scope"), client, diag);
    if (!scope) co_return oauth_error(scope.error(), diag.client_message);
    const bool allowed = co_await allow_sign_in(st, req);
    if (!allowed)
        co_return oauth_error(oauth_errc::temporarily_unavailable, "too many attempts; wait a minute");
    std::string name(*username);
    secret pw{std::string(*password)};
    auto user = co_await check_password(st, std::move(name), std::move(pw));
    if (!user) co_return storage_error(user.error());
    if (!*user) {
        note_sign_in(st, req, login_method::password_grant, false, {}, *username, "bad_password");
        co_return oauth_error(oauth_errc::invalid_grant, "wrong user name or password");
    }
    const auto& u = **user;
    if (fs::ban_in_force(u, unix_now())) co_return oauth_error(oauth_errc::invalid_grant, "this account is banned");
    note_sign_in(st, req, login_method::password_grant, true, u.id, u.username);
    const std::string grant = random_urlsafe(16);
    auto access = issue_access_token(st, u.id, client.client_id, *scope, u.role, grant, {}, jkt);
    if (!access) co_return oauth_error(oauth_errc::server_error, "");
    auto body = boost::json::parse(fs::token_response_body(*access, st.config.access_token_ttl, *scope, {}, !jkt.empty())).as_object();
    if (fs::wants_refresh_token(client, *scope)) {
        auto minted = co_await mint_refresh_token(st, client.client_id, u.id, *scope, grant, {}, refresh_binding(client, jkt));
        if (!minted) co_return storage_error(minted.error());
        body["refresh_token"] = minted->reveal();
    }
    if (auto ec = add_id_token(st, body, u, client.client_id, "", *scope)) co_return storage_error(ec);
    co_return token_response(body);
}

}  // namespace latchkey::idp
