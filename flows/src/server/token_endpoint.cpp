#include <latchkey/flows/server/token_endpoint.hpp>

#include <boost/json.hpp>

#include <set>

namespace latchkey::flows::server {
namespace json = boost::json;

namespace {

std::set<std::string_view> scope_set(std::string_view s) {
    std::set<std::string_view> out;
    while (!s.empty()) {
        const auto sp = s.find(' ');
        if (sp != 0) out.insert(s.substr(0, sp));
        if (sp == std::string_view::npos) break;
        s.remove_prefix(sp + 1);
    }
    return out;
}

}  // namespace

result<std::string> decide_client_credentials(const form& params, const client_record& client,
                                              diagnostics& diag) {
    if (client.is_public() || !client.allows_grant("client_credentials")) {
        diag.client_message = "this client may not use the client_credentials grant";
        return make_error_code(oauth_errc::unauthorized_client);
    }
    return grant_scope(params.value_or_empty("scope"), client, diag);
}

result<std::string> grant_scope(std::string_view requested, const client_record& client, diagnostics& diag) {
    if (requested.empty()) return client.scope;
    const auto allowed = scope_set(client.scope);
    for (auto s : scope_set(requested)) {
        if (!allowed.count(s)) {
            diag.client_message = "a requested scope is not allowed for this client";
            return make_error_code(oauth_errc::invalid_scope);
        }
    }
    return std::string(requested);
}

json::object access_token_claims(const access_token_params& p) {
    json::object c;
    c["iss"] = p.issuer;
    c["sub"] = p.subject;
    c["aud"] = p.audience.empty() ? p.issuer : p.audience;
    c["iat"] = p.now;
    c["exp"] = p.now + p.lifetime;
    c["jti"] = p.jti;
    c["client_id"] = p.client_id;
    if (!p.scope.empty()) c["scope"] = p.scope;
    if (!p.role.empty()) c["role"] = p.role;
    if (!p.grant_id.empty()) c["gid"] = p.grant_id;
    if (!p.organization_id.empty()) {
        c["org_id"] = p.organization_id;
        c["org_role"] = p.organization_role;
    }
    if (!p.jkt.empty()) c["cnf"] = json::object{{"jkt", p.jkt}};
    return c;
}

std::string token_response_body(std::string_view access_token, std::int64_t expires_in, std::string_view scope,
                                std::string_view refresh_token, bool dpop) {
    json::object o;
    o["access_token"] = access_token;
    o["token_type"] = dpop ? "DPoP" : "Bearer";
    o["expires_in"] = expires_in;
    if (!scope.empty()) o["scope"] = scope;
    if (!refresh_token.empty()) o["refresh_token"] = refresh_token;
    return json::serialize(o);
}

bool wants_refresh_token(const client_record& client, std::string_view granted_scope) {
    return client.allows_grant("refresh_token") && scope_set(granted_scope).count("offline_access") > 0;
}

std::string oauth_error_body(error_code ec, std::string_view description) {
    json::object o;
    o["error"] = ec.message();
    if (!description.empty()) o["error_description"] = description;
    return json::serialize(o);
}

int oauth_error_status(error_code ec) {
    if (ec == oauth_errc::invalid_client) return 401;
    if (ec == oauth_errc::temporarily_unavailable) return 503;
    if (ec == oauth_errc::server_error) return 500;
    return 400;
}

std::string discovery_document(std::string_view issuer, const std::vector<std::string>& signing_algs) {
    const std::string base(issuer);
    json::object o;
    o["issuer"] = base;
    o["authorization_endpoint"] = base + "/oauth2/authorize";
    o["token_endpoint"] = base + "/oauth2/token";
    o["jwks_uri"] = base + "/.well-known/jwks.json";
    o["revocation_endpoint"] = base + "/oauth2/revoke";
    o["introspection_endpoint"] = base + "/oauth2/introspect";
    o["userinfo_endpoint"] = base + "/oauth2/userinfo";
    o["device_authorization_endpoint"] = base + "/oauth2/device_authorization";
    o["end_session_endpoint"] = base + "/oauth2/logout";  // RP-Initiated Logout 1.0
    o["grant_types_supported"] =
        json::array{"authorization_code", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code",
                    "refresh_token", "password"};
    o["authorization_response_iss_parameter_supported"] = true;  // RFC 9207
    o["token_endpoint_auth_methods_supported"] =
        json::array{"client_secret_basic", "client_secret_post", "private_key_jwt", "none"};
    o["token_endpoint_auth_signing_alg_values_supported"] = json::array{"ES256", "RS256", "EdDSA"};
    o["dpop_signing_alg_values_supported"] = json::array{"ES256", "RS256"};  // RFC 9449 §5.1
    o["registration_endpoint"] = base + "/oauth2/register";  // RFC 7591, machines (private_key_jwt)
    o["response_types_supported"] = json::array{"code"};
    o["subject_types_supported"] = json::array{"public"};
    json::array algs;
    for (const auto& a : signing_algs) algs.emplace_back(a);
    o["id_token_signing_alg_values_supported"] = std::move(algs);
    o["code_challenge_methods_supported"] = json::array{"S256"};
    o["scopes_supported"] = json::array{"openid", "profile", "email", "offline_access"};
    o["prompt_values_supported"] = json::array{"none", "login", "consent"};
    return json::serialize(o);
}

}  // namespace latchkey::flows::server
