// Unpredictable values for state, nonce, jti and PKCE verifiers (OpenSSL's CSPRNG).
#pragma once

#include <cstddef>
#include <string>

namespace latchkey {

// `bytes` random bytes, base64url-encoded without padding (32 bytes -> 43 characters).
std::string random_urlsafe(std::size_t bytes);

// `bytes` raw random bytes (keys).
std::string random_bytes(std::size_t bytes);

}  // namespace latchkey
