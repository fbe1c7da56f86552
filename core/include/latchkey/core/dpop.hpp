// DPoP proofs (RFC 9449), the client's half: a JWT signed with the machine's key that binds
// a request (method and URL) and, at a resource server, the access token, to that key. Pure:
// the caller gives the time and the server's nonce.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/pkey.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace latchkey {

struct dpop_proof_request {
    std::string method;        // htm: "POST", "GET"... (upper case, as sent)
    std::string url;           // htu: the request URL; its query and fragment are dropped (§4.2)
    std::int64_t iat = 0;      // Unix seconds
    std::string nonce;         // the server's last DPoP-Nonce (§8); empty: none
    std::string access_token;  // at a resource server: becomes `ath` (§4.2); empty: none
};

// The compact JWS: header {"typ": "dpop+jwt", "alg", "jwk": the public key (kty and its
// required members only)}; claims {jti (16 fresh random bytes), htm, htu, iat, [nonce],
// [ath]}. Every call differs (the jti). Errors: key_error (an unsupported or public-only key).
result<std::string> make_dpop_proof(EVP_PKEY* key, const dpop_proof_request& r);

// `url` without its query and fragment (§4.2 htu; §4.3 check 9).
std::string dpop_htu(std::string_view url);
// base64url(SHA-256(ASCII(access_token))): the `ath` claim (§4.2).
std::string dpop_ath(std::string_view access_token);

}  // namespace latchkey
