// The authorization endpoint's request checks (RFC 6749 §4.1.1, §4.1.2.1; RFC 9700 §2.1;
// OIDC Core §3.1.2) and its redirects (RFC 9207 `iss`).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/records.hpp>

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey::flows::server {

struct authorize_request {
    std::string client_id, redirect_uri, scope, state, nonce, code_challenge;
};

struct authorize_error {
    error_code ec;
    std::string message;
    // false: the client or its redirect URI cannot be trusted, so the error is shown on our
    // page and never sent anywhere (§4.1.2.1: "MUST NOT automatically redirect").
    bool redirect = false;
};

// Checks the parameters (from the query or the sign-in form) against `client` (nullptr when
// the client_id is unknown). response_type must be "code"; the redirect URI must match a
// registered one (redirect_uri.hpp; required even with one registered); PKCE per
// pkce_verify.hpp; the scope among the client's; the client allowed authorization_code.
// On success: the request to remember with the code.
result<authorize_request> check_authorize(const form& params, const client_record* client, authorize_error& err);

// `redirect_uri` with `params` appended to its query (form-encoded), e.g. code, state, iss.
std::string redirect_with(std::string_view redirect_uri,
                          const std::vector<std::pair<std::string, std::string>>& params);

// OIDC Core §2 ID token claims: iss, sub, aud, iat, exp, nonce (when sent).
boost::json::object id_token_claims(std::string_view issuer, std::string_view subject, std::string_view client_id,
                                    std::string_view nonce, std::int64_t now, std::int64_t lifetime);
// The user's claims the granted `scope` releases (OIDC Core §5.4): `email` -> email;
// `profile` -> name, preferred_username and the platform `role` (Better Auth's user field;
// the seed's `latch status` shows it). Empty values are left out.
void add_user_claims(boost::json::object& claims, const user_record& user, std::string_view scope);

}  // namespace latchkey::flows::server
