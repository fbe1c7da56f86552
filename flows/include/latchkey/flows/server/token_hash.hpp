// How the server keeps bearer values (authorization codes, refresh tokens, session tokens,
// device codes, client secrets): only a hash is stored, never the raw value, so a copy of
// the database (a backup, a replica, a leaked file) does not hand out working tokens.
//
// Every such value is minted here with 256 bits from the CSPRNG, so a single fast hash is
// enough (no salt, no stretching: brute force over 2^256 inputs is not a threat; passwords,
// which are low-entropy, use argon2id instead).
#pragma once

#include <latchkey/core/secret.hpp>

#include <string>
#include <string_view>

namespace latchkey::flows::server {

// 32 random bytes, base64url (43 characters).
secret make_opaque_token();

// base64url(SHA-256(raw)), 43 characters: the storage key for `raw`.
std::string hash_token(std::string_view raw);

// Constant-time comparison: latchkey::constant_time_equal (core/secret.hpp), one for client
// and server.

// Does `presented` hash to `stored_hash`? Constant time in the hash comparison.
bool token_matches_hash(std::string_view presented, std::string_view stored_hash);

}  // namespace latchkey::flows::server
