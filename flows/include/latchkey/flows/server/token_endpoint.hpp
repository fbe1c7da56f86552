// Pure pieces of the token endpoint (RFC 6749 §3.2, §4.4, §5): deciding a
// client_credentials grant, the JWT access token's claims (RFC 9068), and the JSON bodies.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/records.hpp>

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

// What to issue for a client_credentials request from an authenticated `client`:
// the granted scope (the requested one if every scope is among the client's, the client's
// full scope when none is requested). Errors: unauthorized_client (grant not allowed, or a
// public client: §4.4 is for confidential clients), invalid_scope.
result<std::string> decide_client_credentials(const form& params, const client_record& client,
                                              diagnostics& diag);

// The scope to grant: `requested` when every scope in it is among the client's, the
// client's whole scope when nothing was requested. Errors: invalid_scope.
result<std::string> grant_scope(std::string_view requested, const client_record& client, diagnostics& diag);

struct access_token_params {
    std::string issuer;
    std::string subject;    // user id, or the client id for client_credentials
    std::string client_id;
    std::string audience;   // the resource; the issuer when none is configured
    std::string scope;
    std::string jti;        // fresh, unpredictable
    std::int64_t now = 0;
    std::int64_t lifetime = 3600;
    std::string role = {};  // the user's platform role (roles.hpp); none for client_credentials
    // The grant it came from (a code's grant, a refresh family) as the private claim `gid`:
    // introspection and userinfo refuse the token once that grant is revoked (a replayed
    // code, a reused refresh token, RFC 7009 revocation). Empty: none (client_credentials).
    std::string grant_id = {};
    // The organization the grant was made under and the user's role in it (issue 14): the
    // claims org_id and org_role. Empty: none.
    std::string organization_id = {}, organization_role = {};
    // The RFC 7638 thumbprint of the DPoP key the token is bound to: `cnf: {jkt}` (RFC 9449
    // §6.1). Empty: a bearer token.
    std::string jkt = {};
};

// RFC 9068 §2.2 claims: iss, sub, aud, exp, iat, jti, client_id, scope (when not empty);
// and `role` (the user's platform role) when not empty; `cnf` when bound to a DPoP key.
boost::json::object access_token_claims(const access_token_params& p);

// {"access_token", "token_type": "Bearer", "expires_in", "scope", "refresh_token"} (RFC 6749
// §5.1); refresh_token only when not empty; token_type "DPoP" for a DPoP-bound token (RFC
// 9449 §5).
std::string token_response_body(std::string_view access_token, std::int64_t expires_in, std::string_view scope,
                                std::string_view refresh_token = {}, bool dpop = false);

// Whether a grant gets a refresh token: the client may use the refresh_token grant and the
// granted scope holds offline_access (OIDC Core §11).
bool wants_refresh_token(const client_record& client, std::string_view granted_scope);

// {"error", "error_description"} (§5.2); the description is ours, never user input.
std::string oauth_error_body(error_code ec, std::string_view description);
// 401 for invalid_client (§5.2), 503 for temporarily_unavailable, 500 for server_error,
// 400 for the rest.
int oauth_error_status(error_code ec);

// The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414) for what latch-idp
// serves now; `signing_algs`: the algs of the published keys, the signing one first.
std::string discovery_document(std::string_view issuer, const std::vector<std::string>& signing_algs = {"ES256"});

}  // namespace latchkey::flows::server
