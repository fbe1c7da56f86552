// RFC 7662 token introspection, for authenticated (confidential) clients only: an access
// token is one of our JWTs (signature by a published key, iss, exp); a refresh token is looked
// up by its hash and is active while current (not rotated, revoked or expired). And the OIDC
// userinfo endpoint (Core §5.3), which takes the same access tokens as bearer tokens.
#include "idp.hpp"

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jwt_verify.hpp>
#include <latchkey/flows/server/authorize.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

std::optional<json::object> our_jwt_claims(const idp_state& st, std::string_view token) {
    diagnostics diag;
    auto keys = jwks_from_value(json::value(st.keys.jwks), diag);
    if (!keys) return std::nullopt;
    auto verified = verify_jws(token, *keys, diag);
    if (!verified || !verified->claims) return std::nullopt;
    auto iss = verified->claims->if_contains("iss");
    if (!iss || !iss->is_string() || iss->as_string() != st.config.issuer) return std::nullopt;
    return std::move(*verified->claims);
}

// The active answer for one of our access tokens; nullopt when it is not one (or no longer).
std::optional<json::object> access_token_info(const idp_state& st, std::string_view token) {
    auto claims = our_jwt_claims(st, token);
    if (!claims) return std::nullopt;
    const auto& c = *claims;
    auto exp = c.if_contains("exp");
    if (!exp || !exp->is_int64() || exp->as_int64() <= unix_now()) return std::nullopt;
    json::object o{{"active", true}, {"token_type", "access_token"}};
    for (const char* k : {"iss", "sub", "client_id", "scope", "exp", "iat", "jti", "aud", "gid", "role", "org_id",
                          "org_role", "cnf"})
        if (auto v = c.if_contains(k)) o[k] = *v;
    return o;
}

boost::asio::awaitable<result<std::optional<json::object>>> live_access_token(idp_state& st, std::string token) {
    auto info = access_token_info(st, token);
    if (!info) co_return std::optional<json::object>{};
    const auto* gid = info->if_contains("gid");
    if (!gid || !gid->is_string()) co_return info;
    std::string grant(gid->as_string());
    auto revoked = co_await st.store.grant_revoked(std::move(grant));
    if (!revoked) co_return revoked.error();
    if (*revoked) co_return std::optional<json::object>{};
    info->erase("gid");
    co_return info;
}

namespace {

http_response answer(json::object o) {
    auto r = json_response(200, json::serialize(o));
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}


http_response invalid_token(std::string_view description) {
    auto r = json_response(401, boost::json::serialize(json::object{{"error", "invalid_token"},
                                                                      {"error_description", description}}));
    r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

}  // namespace

boost::asio::awaitable<http_response> userinfo_endpoint(idp_state& st, const ts::server_request& req) {
    auto access = co_await resource_access_token(st, req);
    if (access.absent) {
        // RFC 6750 §3.1: no error code when the request carried no token.
        auto r = json_response(401, R"({"error":"invalid_request","error_description":"a bearer access token is required"})");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        r.headers.emplace_back("WWW-Authenticate", "DPoP algs=\"ES256 RS256\"");  // RFC 9449 §7.1
        r.headers.emplace_back("Cache-Control", "no-store");
        co_return r;
    }
    if (access.error) co_return std::move(*access.error);
    auto& info = access.info;
    const auto* sub = info->if_contains("sub");
    const auto* scope = info->if_contains("scope");
    const std::string granted = scope && scope->is_string() ? std::string(scope->as_string()) : "";
    if (!sub || !sub->is_string() || (" " + granted + " ").find(" openid ") == std::string::npos)
        co_return invalid_token("the access token was not issued for openid");
    std::string id(sub->as_string());
    auto user = co_await st.store.find_user_by_id(std::move(id));
    if (!user && user.error() == fs::server_errc::not_found) co_return invalid_token("the user no longer exists");
    if (!user) co_return storage_error(user.error());
    json::object claims{{"sub", user->id}};
    fs::add_user_claims(claims, *user, granted);
    // The token's organization, with the user's role in it now (gone when no longer a member).
    if (const auto* org_id = info->if_contains("org_id"); org_id && org_id->is_string()) {
        std::string uid = user->id, oid(org_id->as_string());
        auto org = co_await grant_org(st, std::move(uid), std::move(oid));
        if (!org) co_return storage_error(org.error());
        if (!org->id.empty()) {
            claims["org_id"] = org->id;
            claims["org_role"] = org->role;
            claims["org_slug"] = org->slug;
        }
    }
    co_return answer(std::move(claims));
}

boost::asio::awaitable<http_response> introspection_endpoint(idp_state& st, const ts::server_request& req) {
    if (req.method != http_method::post) co_return oauth_error(oauth_errc::invalid_request, "POST required");
    auto params = fs::form::parse(req.body);
    if (!params) co_return oauth_error(oauth_errc::invalid_request, "malformed or repeated parameters");
    auto auth = co_await authenticate_request(st, req, *params);
    if (auth.error) co_return std::move(*auth.error);
    if (auth.client->is_public())
        co_return oauth_error(oauth_errc::invalid_client, "introspection is for confidential clients");
    const auto token = params->get("token");
    if (!token) co_return oauth_error(oauth_errc::invalid_request, "token is missing");
    if (std::count(token->begin(), token->end(), '.') == 2) {
        auto info = co_await live_access_token(st, std::string(*token));
        if (!info) co_return storage_error(info.error());
        co_return answer(*info ? std::move(**info) : json::object{{"active", false}});
    }
    std::string hash = fs::hash_token(*token);
    auto rt = co_await st.store.find_refresh(std::move(hash));
    if (!rt && rt.error() != fs::server_errc::not_found) co_return storage_error(rt.error());
    const auto now = unix_now();
    if (!rt || rt->rotated_at != 0 || rt->revoked_at != 0 || rt->expires_at <= now)
        co_return answer(json::object{{"active", false}});
    co_return answer(json::object{{"active", true}, {"token_type", "refresh_token"}, {"client_id", rt->client_id},
                                  {"sub", rt->user_id}, {"scope", rt->scope}, {"exp", rt->expires_at},
                                  {"iss", st.config.issuer}});
}

}  // namespace latchkey::idp
