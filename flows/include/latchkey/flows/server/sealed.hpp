// Secrets the server must read back (a TOTP key), kept sealed at rest: AES-256-GCM under a
// key that lives outside the database (latch-idp: DATA/secret.key, 0600), so a copy of the
// database alone (a backup, a replica dump) does not yield second factors. What it only
// compares (tokens, backup codes, passwords) is hashed instead (token_hash.hpp, argon2id).
#pragma once

#include <latchkey/core/secret.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace latchkey::flows::server {

constexpr std::size_t sealing_key_size = 32;

// base64url(nonce[12] || ciphertext || tag[16]); `key` is sealing_key_size bytes. `context`
// is authenticated (not stored): a sealed value moved to another row or purpose fails to open.
std::string seal(std::string_view key, std::string_view plaintext, std::string_view context);
// nullopt when the key, the context or the bytes do not match.
std::optional<secret> unseal(std::string_view key, std::string_view sealed, std::string_view context);

// base64url(HMAC-SHA-256(key, data)): how values of modest entropy that the server only
// compares (backup codes, 50 bits) are kept, so that the database alone cannot be searched.
std::string keyed_hash(std::string_view key, std::string_view data);

}  // namespace latchkey::flows::server
