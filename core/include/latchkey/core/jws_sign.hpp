// Signing JWTs with our own key: RFC 7523 client assertions (private_key_jwt, OIDC Core
// §9) for machine logins.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/core/secret.hpp>

#include <boost/json/fwd.hpp>

#include <chrono>
#include <string>
#include <string_view>

namespace latchkey {

// A compact JWS over serialize(claims) with header {"alg", "typ": "JWT", "kid"} ("kid"
// left out when empty). The alg follows the key: EC P-256 -> ES256 (raw r||s, RFC 7518
// §3.4), RSA -> RS256, Ed25519 -> EdDSA. Errors: key_error for an unsupported or
// public-only key.
result<std::string> sign_jwt(EVP_PKEY* key, std::string_view kid, const boost::json::object& claims);

// A compact JWS over serialize(claims) with `header` as given plus its "alg" (from the key,
// as above). For JWTs with another typ, e.g. DPoP proofs (core/dpop.hpp).
result<std::string> sign_jws(EVP_PKEY* key, boost::json::object header, const boost::json::object& claims);

// RFC 7523 §3 client assertion: iss = sub = client_id, aud = audience (the token
// endpoint), iat = now, exp = now + lifetime, jti = 16 fresh random bytes (every call
// differs: providers refuse a replayed jti). Kept in a secret: it authenticates us
// until it expires.
result<secret> make_client_assertion(EVP_PKEY* key, std::string_view kid, std::string_view client_id,
                                     std::string_view audience,
                                     std::chrono::system_clock::time_point now,
                                     std::chrono::seconds lifetime = std::chrono::seconds{60});

}  // namespace latchkey
