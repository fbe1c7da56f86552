// Reading compact JWS/JWTs (RFC 7515 §7.1, RFC 7519). Nothing here verifies a signature:
// that is jwt_verify.hpp. Use these only to choose what to verify, or for display.
#pragma once

#include <latchkey/core/error.hpp>

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

// Why a JWS was refused ("latchkey.jose"). verify_id_token reports all of these as
// client_errc::id_token_invalid; verify_jws returns them as they are.
enum class jose_errc {
    malformed = 1,    // not three base64url parts, header/payload not JSON, `crit` present
    unsupported_alg,  // `none`, HS256, RS512... (we accept RS256, ES256, EdDSA)
    key_mismatch,     // the key named by `kid` is of another type or alg, or refused (too large...)
    unknown_kid,      // no JWKS key fits: refetch the JWKS once, then give up
    bad_signature,    // the signature does not verify
};
const boost::system::error_category& jose_category() noexcept;
inline error_code make_error_code(jose_errc e) noexcept {
    return {static_cast<int>(e), jose_category()};
}

// A compact JWS split and decoded, not verified.
struct jws {
    boost::json::object header;
    std::string alg;                             // header `alg`
    std::string kid;                             // header `kid`; empty if absent
    std::string payload;                         // decoded payload bytes
    std::optional<boost::json::object> claims;   // the payload when it is a JSON object
    std::string signature;                       // decoded signature bytes
    std::string signing_input;                   // "<header b64>.<payload b64>" as received
};

// Errors: jose_errc::malformed with diag.client_message saying which part is wrong.
result<jws> parse_jws(std::string_view token, diagnostics& diag);

// The claims of a JWT, NOT verified: only for showing an imported token's `exp` or
// similar, labelled as unverified. nullopt if it is not a JWT with a JSON object payload.
std::optional<boost::json::object> decode_jwt_claims_unverified(std::string_view token);

// The decoded payload / header JSON text, without any verification.
std::optional<std::string> jwt_payload_unverified(std::string_view token);
std::optional<std::string> jwt_header_unverified(std::string_view token);

}  // namespace latchkey

namespace boost::system {
template <>
struct is_error_code_enum<latchkey::jose_errc> : std::true_type {};
}  // namespace boost::system
