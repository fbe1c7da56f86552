#include <latchkey/flows/server/authorize.hpp>
#include <latchkey/flows/server/pkce_verify.hpp>
#include <latchkey/flows/server/redirect_uri.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>

#include <boost/json/object.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

namespace latchkey::flows::server {

namespace {

result<authorize_request> fail(authorize_error& err, oauth_errc e, std::string msg, bool redirect) {
    err = {make_error_code(e), std::move(msg), redirect};
    return err.ec;
}

}  // namespace

result<authorize_request> check_authorize(const form& params, const client_record* client, authorize_error& err) {
    if (!client) return fail(err, oauth_errc::invalid_client, "unknown client", false);
    authorize_request r;
    r.client_id = client->client_id;
    r.redirect_uri = std::string(params.value_or_empty("redirect_uri"));
    bool registered = false;
    for (const auto& u : client->redirect_uris) registered = registered || redirect_uri_matches(u, r.redirect_uri);
    if (!registered) return fail(err, oauth_errc::invalid_request, "redirect_uri is not registered for this client", false);
    // From here on errors go back to the client (with state and iss).
    r.state = std::string(params.value_or_empty("state"));
    r.nonce = std::string(params.value_or_empty("nonce"));
    if (params.value_or_empty("response_type") != "code")
        return fail(err, oauth_errc::unsupported_response_type, "only response_type=code is supported", true);
    if (!client->allows_grant("authorization_code"))
        return fail(err, oauth_errc::unauthorized_client, "this client may not use the authorization code flow", true);
    diagnostics diag;
    r.code_challenge = std::string(params.value_or_empty("code_challenge"));
    if (auto ec = check_pkce_request(r.code_challenge, params.value_or_empty("code_challenge_method"),
                                     client->is_public(), diag))
        return fail(err, oauth_errc::invalid_request, diag.client_message, true);
    auto scope = grant_scope(params.value_or_empty("scope"), *client, diag);
    if (!scope) return fail(err, oauth_errc::invalid_scope, diag.client_message, true);
    r.scope = std::move(*scope);
    return r;
}

std::string redirect_with(std::string_view redirect_uri,
                          const std::vector<std::pair<std::string, std::string>>& params) {
    auto parsed = boost::urls::parse_uri_reference(redirect_uri);
    if (!parsed) return std::string(redirect_uri);
    boost::urls::url u(*parsed);
    for (const auto& [k, v] : params) u.params().append({k, v});
    return std::string(u.buffer());
}

boost::json::object id_token_claims(std::string_view issuer, std::string_view subject, std::string_view client_id,
                                    std::string_view nonce, std::int64_t now, std::int64_t lifetime) {
    boost::json::object c;
    c["iss"] = issuer;
    c["sub"] = subject;
    c["aud"] = client_id;
    c["iat"] = now;
    c["exp"] = now + lifetime;
    if (!nonce.empty()) c["nonce"] = nonce;
    return c;
}

void add_user_claims(boost::json::object& claims, const user_record& user, std::string_view scope) {
    const std::string s = " " + std::string(scope) + " ";
    if (s.find(" email ") != std::string::npos && !user.email.empty()) claims["email"] = user.email;
    if (s.find(" profile ") != std::string::npos) {
        if (!user.name.empty()) claims["name"] = user.name;
        claims["preferred_username"] = user.username;
        if (!user.role.empty()) claims["role"] = user.role;
    }
}

}  // namespace latchkey::flows::server
