// Proof Key for Code Exchange, S256 only (RFC 7636 §4.1, §4.2).
#pragma once

#include <latchkey/core/secret.hpp>

#include <string>
#include <string_view>

namespace latchkey {

struct pkce_pair {
    secret verifier;              // sent only to the token endpoint
    std::string challenge;        // BASE64URL(SHA256(verifier)), sent in the authorize URL
    std::string method = "S256";  // the only method we use (plain defeats the purpose)
};

// A fresh verifier (32 random bytes, 43 characters) and its S256 challenge.
pkce_pair make_pkce();

// 32 random bytes, base64url: 43 characters from the unreserved set (§4.1).
std::string make_pkce_verifier();
// BASE64URL(SHA256(ASCII(verifier))) (§4.2).
std::string pkce_challenge(std::string_view verifier);

}  // namespace latchkey
