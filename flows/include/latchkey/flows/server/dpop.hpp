// DPoP (RFC 9449) on the server: checking a proof, the stateless nonces that serve as the
// challenge (§8), and whether a presented access token's binding holds (§7). Pure: the
// caller gives the time, the expected method and URL, and keeps the jti cache
// (store.remember_jti, so every replica sees every proof).
#pragma once

#include <latchkey/core/error.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey::flows::server {

inline constexpr std::size_t max_dpop_proof_size = 8192;  // an RSA-4096 proof is ~2.5 KB
inline constexpr std::int64_t dpop_max_age = 300;           // iat may be this old (seconds)
inline constexpr std::int64_t dpop_max_ahead = 60;          // or this far ahead (clock skew)

struct dpop_expect {
    std::string_view method;        // htm, e.g. "POST"
    std::string_view htu;           // this endpoint's URL, without query or fragment
    std::int64_t now = 0;
    std::string_view access_token;  // at a resource: `ath` must be its hash; empty: none expected
};

struct verified_dpop {
    std::string jkt;    // RFC 7638 thumbprint of the proof's key: what a token is bound to
    std::string jti;
    std::string nonce;  // as sent; empty: none (checking it is the caller's: dpop_nonce_valid)
    std::int64_t remember_until = 0;  // keep the jti this long: past it the iat check refuses
};

// RFC 9449 §4.3 checks 1-11 but the nonce and the jti cache: one JWS (at most
// max_dpop_proof_size), typ dpop+jwt, alg ES256 or RS256 (none, HS*, others refused), a
// public `jwk` matching the alg with no private members, the signature by that jwk, htm and
// htu equal to `e`'s, iat within [now - dpop_max_age, now + dpop_max_ahead], a jti of 1-256
// characters, and `ath` exactly when e.access_token is given.
// Errors: invalid_dpop_proof, with a one-line reason in diag.client_message (never the
// proof's own text).
result<verified_dpop> verify_dpop_proof(std::string_view proof, const dpop_expect& e, diagnostics& diag);

// Server nonces (§8): base64url(HMAC-SHA-256(key, "dpop-nonce:" + (now / period))). Nothing
// is stored: any replica with the same key (derived from DATA/secret.key) makes and accepts
// the same nonces. A nonce is accepted in its period and the next one (5 to 10 minutes).
inline constexpr std::int64_t dpop_nonce_period = 300;
std::string dpop_nonce_key(std::string_view server_secret);
std::string make_dpop_nonce(std::string_view key, std::int64_t now);
bool dpop_nonce_valid(std::string_view key, std::string_view nonce, std::int64_t now);

// The Authorization header of a resource request: "Bearer TOKEN" or "DPoP TOKEN" (scheme
// case-insensitive, RFC 9110 §11.1). nullopt: absent or another scheme.
struct presented_token {
    bool dpop = false;
    std::string token;
};
std::optional<presented_token> parse_resource_authorization(std::string_view authorization);

// §7.1: does the use of a token hold? `token_jkt` is its cnf.jkt (empty: a bearer token);
// `proof` the request's verified proof (null: none). A bound token needs the DPoP scheme
// and a proof by its key; a bearer token needs the Bearer scheme.
// Errors: invalid_token (a bound token sent as Bearer, or a bearer token sent as DPoP),
// invalid_dpop_proof (no proof, or one by another key); diag.client_message says which.
error_code check_token_binding(std::string_view token_jkt, const presented_token& presented,
                               const verified_dpop* proof, diagnostics& diag);

}  // namespace latchkey::flows::server
