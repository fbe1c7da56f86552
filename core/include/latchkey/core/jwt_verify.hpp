// Verifying JWS signatures against a JWKS, and OpenID Connect ID token validation
// (OIDC Core 1.0 §3.1.3.7).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jwt.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

// Verifies a compact JWS with RS256, ES256 (raw r||s, RFC 7518 §3.4) or EdDSA (Ed25519,
// RFC 8037). The key: the JWKS entries whose `kid` equals the header's; without a `kid`,
// every key of the alg's type (normally one). A key whose type or `alg` member disagrees
// with the header's alg is never used.
// Errors (jose_errc), each with diag.client_message: malformed, unsupported_alg (`none`
// included), key_mismatch, unknown_kid (refetch the JWKS once and retry), bad_signature.
result<jws> verify_jws(std::string_view token, const jwk_set& jwks, diagnostics& diag);

// True when verify_jws would fail with unknown_kid: the provider may have rotated its
// keys, so the caller refetches the JWKS (once) before giving up.
bool needs_jwks_refetch(std::string_view token, const jwk_set& jwks);

struct id_token_checks {
    std::string issuer;                  // `iss` must equal this exactly
    std::string client_id;               // `aud` must contain it; `azp`, if present, equal it
    std::optional<std::string> nonce;    // the nonce we sent, if we sent one
    std::chrono::system_clock::time_point now;
    std::chrono::seconds max_skew{120};  // tolerated clock difference with the provider
};

// Signature, then iss, aud/azp, exp, iat, nbf, sub, nonce. Returns the verified claims.
// Errors: client_errc::nonce_mismatch for the nonce, client_errc::id_token_invalid for
// everything else; diag.client_message names the check, e.g. "ID token rejected:
// audience does not include 'latch-cli'". Use needs_jwks_refetch(token, jwks) to tell
// an unknown signing key from a bad token.
result<boost::json::object> verify_id_token(std::string_view token, const jwk_set& jwks,
                                            const id_token_checks& checks, diagnostics& diag);

}  // namespace latchkey
