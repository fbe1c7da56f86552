// Dynamic Client Registration (RFC 7591) and its management protocol (RFC 7592) as plain
// requests and parsed replies, for `latch machine`. A machine is a confidential client
// with no browser and no shared secret: it authenticates at the token endpoint with
// private_key_jwt (RFC 7523 §2.2, OIDC Core §9), signing with a key only it holds; the
// IdP knows the public half from the registered `jwks`.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/core/secret.hpp>
#include <latchkey/core/token_set.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace latchkey {

// The client metadata latch registers for a machine (RFC 7591 §2).
struct machine_metadata {
    std::string client_id;    // only in updates (RFC 7592 §2.2 requires it there)
    std::string client_name;  // what the IdP's admin pages show
    std::vector<std::string> grant_types{"client_credentials"};
};

// The JSON body: client_name, grant_types, "response_types": [] (a machine never takes an
// authorization response, so it needs no redirect_uris), token_endpoint_auth_method
// "private_key_jwt", token_endpoint_auth_signing_alg (the key's JWS alg), and `jwks` with
// the public half of `key` (kid = its RFC 7638 thumbprint). Never a client_secret.
// Errors: key_error for an unsupported key.
result<std::string> registration_body(const machine_metadata& m, const EVP_PKEY* key);

// RFC 7591 §3.1: POST the body to the registration endpoint, authorized with an initial
// access token or (at IdPs that allow it) a user's access token.
http_request make_registration_request(std::string registration_endpoint, std::string body,
                                       const secret& bearer);
// RFC 7592 §2.1-2.3, each authorized with the registration access token.
http_request make_registration_read(std::string client_uri, const secret& registration_token);
http_request make_registration_update(std::string client_uri, std::string body,
                                      const secret& registration_token);
http_request make_registration_delete(std::string client_uri, const secret& registration_token);

// What the IdP registered (RFC 7591 §3.2.1, RFC 7592 §3).
struct client_registration {
    std::string client_id;
    std::string client_name;
    std::string token_endpoint_auth_method;  // empty when the IdP left it out
    std::vector<std::string> grant_types;
    std::vector<std::string> kids;           // of the registered jwks; "" for a key without kid
    secret registration_access_token;        // empty: the IdP offers no management
    std::string registration_client_uri;
    std::optional<time_point> client_id_issued_at;
    bool issued_client_secret = false;       // never stored or used; a warning at most
};

// Parses the reply to a registration (201), read (200) or update (200). Errors:
//   an OAuth error body           that oauth_errc (invalid_client_metadata,
//                                 invalid_redirect_uri, invalid_token for a refused bearer
//                                 — RFC 7592 §2.1 also answers 401 invalid_token for a
//                                 client that no longer exists — ...), the IdP's
//                                 error_description in diag.server_message
//   401/403 with no error body    oauth_errc::invalid_token
//   404                           oauth_errc::invalid_token (some IdPs answer a deleted client so)
//   any other non-2xx             client_errc::bad_http_status
//   not JSON, no client_id        client_errc::bad_json / missing_field
// diag.client_message always says what was wrong, naming the HTTP status.
result<client_registration> parse_registration_response(const http_response& resp,
                                                        diagnostics& diag);

// The reply to a delete (RFC 7592 §2.3): 204 (or any 2xx) is success; errors as above.
error_code parse_deletion_response(const http_response& resp, diagnostics& diag);

// How far the server's clock is from `now`, by its Date header (RFC 9110 §6.6.1,
// IMF-fixdate): positive when the server is ahead. Empty without a readable Date. A
// client assertion (60 s lifetime) fails on a skew past the IdP's tolerance, and the IdP
// only says invalid_client; this lets latch say "clock skew" instead.
std::optional<std::chrono::seconds> server_clock_skew(const http_response& resp, time_point now);
// RFC 9110 §5.6.7 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<time_point> parse_http_date(std::string_view s);

// A machine id from the IdP is untrusted text used in file names: the id itself when it
// is 1..128 of [A-Za-z0-9._-] and does not start with '.', else "m-" + 32 hex digits of
// its SHA-256.
std::string machine_file_stem(std::string_view machine_id);

}  // namespace latchkey
