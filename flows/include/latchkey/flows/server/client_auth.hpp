// Client authentication at the token endpoint (RFC 6749 §2.3): what the request presents,
// and whether it authenticates a stored client.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/secret.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/records.hpp>

#include <string>
#include <vector>
#include <string_view>

namespace latchkey::flows::server {

enum class client_auth_method { none, client_secret_basic, client_secret_post, private_key_jwt };

struct presented_client {
    client_auth_method method = client_auth_method::none;
    std::string client_id;
    secret client_secret;  // empty for none
    secret assertion;      // private_key_jwt: the client_assertion JWT (RFC 7523 §2.2)
};

// From the Authorization header value ("" when absent) and the form body:
//  * "Basic base64(id:secret)": both halves form-url-decoded (RFC 6749 §2.3.1);
//  * client_id + client_secret in the body (client_secret_post);
//  * client_id alone (none: a public client);
//  * client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer with a
//    client_assertion (private_key_jwt); the client is the assertion's `sub` when the body
//    has no client_id (RFC 7521 §4.2), and must equal it when it has one.
// Errors, with diag.client_message:
//  * invalid_client: a malformed Basic header (the caller answers 401 with
//    WWW-Authenticate: Basic, §5.2);
//  * invalid_request: more than one method at once (§2.3: "MUST NOT use more than one"),
//    a body client_id that differs from the Basic one, or no client_id at all.
result<presented_client> parse_client_auth(std::string_view authorization, const form& params,
                                           diagnostics& diag);

// Does `presented` authenticate `client`? Public clients must present no secret;
// confidential clients a secret (basic or post) whose hash matches the stored one,
// compared in constant time. Errors: invalid_client (one message for every reason, so the
// answer does not tell which part was wrong).
// A private_key_jwt client (a machine) authenticates only by assertion, and an assertion
// authenticates only such a client: the assertion itself is checked by verify_client_assertion.
error_code authenticate_client(const presented_client& presented, const client_record& client,
                               diagnostics& diag);

// RFC 7523 §3 for a client assertion of `client` (its registered `jwks`): the signature by a
// registered key (ES256/RS256/EdDSA), iss == sub == client_id, `aud` naming one of
// `audiences` (the token endpoint URL or the issuer), exp in the future and at most
// max_lifetime ahead (so the jti cache stays bounded), nbf/iat not in the future (60 s skew),
// a jti. Returns the jti and exp to record (replays are the caller's: store.remember_jti).
// Errors: invalid_client, with the reason in diag.client_message (for the server's log; the
// answer says only "client authentication failed").
struct verified_assertion {
    std::string jti;
    std::int64_t expires_at = 0;
};
inline constexpr std::int64_t max_assertion_lifetime = 600;
result<verified_assertion> verify_client_assertion(std::string_view assertion, const client_record& client,
                                                   const std::vector<std::string>& audiences, std::int64_t now,
                                                   diagnostics& diag);

}  // namespace latchkey::flows::server
