// Proof Key for Code Exchange, S256 only (RFC 7636 §4.1, §4.2).
#pragma once

#include <string>
#include <string_view>

namespace latchkey {

// 32 random bytes, base64url: 43 characters from the unreserved set (§4.1).
std::string make_pkce_verifier();
// BASE64URL(SHA256(ASCII(verifier))) (§4.2).
std::string pkce_challenge(std::string_view verifier);

}  // namespace latchkey
