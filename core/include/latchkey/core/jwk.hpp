// JSON Web Keys (RFC 7517): reading a provider's JWKS, exporting our own public key (for
// Dynamic Client Registration, RFC 7591 `jwks`), and JWK thumbprints (RFC 7638).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/pkey.hpp>

#include <boost/json/fwd.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace latchkey {

// One usable public key from a JWKS.
struct jwk {
    std::string kid;  // may be empty
    std::string kty;  // "RSA", "EC" or "OKP"
    std::string alg;  // may be empty: any JWS alg that fits the key type
    std::string use;  // may be empty; "enc" keys are never kept
    pkey_ptr key;     // public key, never null
};

struct jwk_set {
    std::vector<jwk> keys;
    // Keys left out: other types or curves (oct, P-384, X25519...), `"use": "enc"`, members
    // that do not decode, RSA under 2048 bits, EC points not on the curve. A provider may
    // publish keys we cannot use; only the ones we can matter.
    std::size_t skipped = 0;
};

// The JWS alg a key signs with: "RS256", "ES256", "EdDSA", or "" if unsupported.
std::string_view jws_alg_for(key_kind kind) noexcept;

// Parses a JWKS document ({"keys": [...]}). Errors: bad_json (not JSON / not an object),
// missing_field (no "keys" array), with diag.client_message. Never throws.
result<jwk_set> parse_jwks(std::string_view json_text, diagnostics& diag);
result<jwk_set> jwks_from_value(const boost::json::value& doc, diagnostics& diag);

// One JWK: RSA (n, e), EC P-256 (crv, x, y), OKP Ed25519 (crv, x). Errors: key_error
// naming the member or the unsupported type.
result<jwk> parse_jwk(const boost::json::object& o, diagnostics& diag);

// The public half of `key` as a JWK with "use": "sig" and its "alg". An empty `kid`
// becomes the RFC 7638 thumbprint. Errors: key_error for unsupported keys.
result<boost::json::object> public_jwk(const EVP_PKEY* key, std::string kid = {});

// RFC 7638: base64url(SHA-256(canonical JSON of the required public members)).
result<std::string> jwk_thumbprint(const EVP_PKEY* key);

}  // namespace latchkey
