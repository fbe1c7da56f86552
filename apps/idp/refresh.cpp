// Refresh tokens on latch-idp: minted with a grant that asked for offline_access, rotated
// on every use; a rotated token presented again revokes its whole family (RFC 9700
// §4.14.2). The rotation is one atomic store operation (store.hpp rotate_refresh).
// Revocation (RFC 7009) revokes a refresh token's family.
#include "idp.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

#include <cstdio>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

boost::asio::awaitable<result<secret>> mint_refresh_token(idp_state& st, const std::string& client_id,
                                                          const std::string& user_id, const std::string& scope,
                                                          std::string family_id, std::string organization_id,
                                                          std::string jkt) {
    secret raw = fs::make_opaque_token();
    if (family_id.empty()) family_id = random_urlsafe(16);
    fs::refresh_record r{fs::hash_token(raw.reveal()), std::move(family_id), client_id, user_id, scope,
                         unix_now() + st.config.refresh_token_ttl, 0, 0, std::move(organization_id), std::move(jkt)};
    if (auto ec = co_await st.store.put_refresh(std::move(r))) co_return ec;
    co_return raw;
}

boost::asio::awaitable<http_response> refresh_token_grant(idp_state& st, const fs::form& params,
                                                          const fs::client_record& client, std::string jkt) {
    if (!client.allows_grant("refresh_token"))
        co_return oauth_error(oauth_errc::unauthorized_client, "this client may not use refresh tokens");
    const auto presented = params.get("refresh_token");
    if (!presented) co_return oauth_error(oauth_errc::invalid_request, "refresh_token is missing");
    const auto now = unix_now();
    // RFC 9449 §5: a bound refresh token needs a proof by its key. The binding never changes,
    // so it is read before the rotation: a refused attempt does not spend the token.
    std::string lookup = fs::hash_token(*presented);
    auto bound = co_await st.store.find_refresh(std::move(lookup));
    if (!bound && bound.error() != fs::server_errc::not_found) co_return storage_error(bound.error());
    if (bound && !bound->jkt.empty() && bound->jkt != jkt)
        co_return oauth_error(jkt.empty() ? oauth_errc::invalid_dpop_proof : oauth_errc::invalid_grant,
                              "the refresh token is bound to a DPoP key: send a proof signed by that key");
    secret next_raw = fs::make_opaque_token();
    fs::refresh_record next{fs::hash_token(next_raw.reveal()), {}, client.client_id, {}, {},
                            now + st.config.refresh_token_ttl, 0, 0};
    std::string old_hash = fs::hash_token(*presented);
    auto rotated = co_await st.store.rotate_refresh(std::move(old_hash), std::move(next), now);
    if (!rotated) co_return storage_error(rotated.error());
    if (rotated->status == ts::consume_status::replayed) {
        std::fprintf(stderr, "latch-idp: refresh token reuse for client %s: family revoked\n",
                     escape_untrusted(client.client_id, 100).c_str());
        co_return oauth_error(oauth_errc::invalid_grant, "refresh token already used");
    }
    if (rotated->status != ts::consume_status::consumed)
        co_return oauth_error(oauth_errc::invalid_grant, "refresh token invalid, expired or revoked");
    const auto& old = rotated->old_token;
    // RFC 6749 §6: a narrower scope may be asked for, never a wider one.
    std::string scope = old.scope;
    if (auto asked = params.get("scope")) {
        fs::client_record granted = client;
        granted.scope = old.scope;
        diagnostics diag;
        auto narrowed = fs::grant_scope(*asked, granted, diag);
        if (!narrowed) co_return oauth_error(narrowed.error(), diag.client_message);
        scope = std::move(*narrowed);
    }
    auto user = co_await grant_user(st, old.user_id);
    if (!user) co_return storage_error(user.error());
    if (!*user) co_return oauth_error(oauth_errc::invalid_grant, "the user no longer exists or is banned");
    auto org = co_await grant_org(st, old.user_id, old.organization_id);
    if (!org) co_return storage_error(org.error());
    auto token = issue_access_token(st, old.user_id, client.client_id, scope, (*user)->role, old.family_id, *org, jkt);
    if (!token) co_return oauth_error(oauth_errc::server_error, "");
    auto body = boost::json::parse(fs::token_response_body(*token, st.config.access_token_ttl, scope, next_raw.reveal(), !jkt.empty()))
                    .as_object();
    if (auto ec = add_id_token(st, body, **user, client.client_id, "", scope, *org)) co_return storage_error(ec);
    co_return token_response(body);
}

boost::asio::awaitable<http_response> revocation_endpoint(idp_state& st, const ts::server_request& req) {
    if (req.method != http_method::post) co_return oauth_error(oauth_errc::invalid_request, "POST required");
    auto params = fs::form::parse(req.body);
    if (!params) co_return oauth_error(oauth_errc::invalid_request, "malformed or repeated parameters");
    auto auth = co_await authenticate_request(st, req, *params);
    if (auth.error) co_return std::move(*auth.error);
    const auto token = params->get("token");
    if (!token) co_return oauth_error(oauth_errc::invalid_request, "token is missing");
    // Access tokens are self-contained JWTs that expire on their own (short-lived); only
    // refresh tokens are looked up. Unknown tokens get 200 too (RFC 7009 §2.2).
    std::string hash = fs::hash_token(*token);
    auto revoked = co_await st.store.revoke_refresh(std::move(hash), auth.client->client_id, unix_now());
    if (!revoked) co_return storage_error(revoked.error());
    auto r = json_response(200, "{}");
    r.headers.emplace_back("Cache-Control", "no-store");
    co_return r;
}

}  // namespace latchkey::idp
