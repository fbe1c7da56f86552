// TOTP two-factor (RFC 6238 over RFC 4226 HOTP), the pure part: codes, the verdict on a
// submitted code, the otpauth:// URI, backup codes. Parameters as Better Auth and every
// authenticator app: HMAC-SHA-1, 6 digits, 30 s steps, ±1 step accepted.
//
// Replay: Better Auth accepts a code again within its window (its issue #10387). Here a
// verdict carries the matched step; the store accepts it only if it is newer than the last
// step used (a compare-and-set), so a code works once and so does every older one.
#pragma once

#include <latchkey/core/secret.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

struct totp_params {
    int digits = 6;
    std::int64_t period = 30;  // seconds per step
    int window = 1;            // steps accepted either side of now
};

// RFC 4648 base32 without padding (the otpauth:// `secret`), and its decoder (upper or lower
// case, padding and spaces ignored); nullopt on any other character.
std::string base32_encode(std::string_view bytes);
std::optional<std::string> base32_decode(std::string_view text);

// RFC 4226 §5.3: the `digits`-digit code for `counter` (zero-padded).
std::string hotp(std::string_view key, std::uint64_t counter, int digits = 6);

// A new TOTP key: 20 random bytes (RFC 4226 §4 recommends 160 bits).
secret make_totp_key();

enum class totp_verdict {
    accepted,   // matches `step`, newer than the last used step: store it with a compare-and-set
    replayed,   // matches a step already used (or older): refused
    wrong,      // matches no step in the window
    malformed,  // not `digits` ASCII digits
};
struct totp_match {
    totp_verdict verdict = totp_verdict::wrong;
    std::int64_t step = -1;  // the matched step (accepted, replayed)
};
// The verdict on `code` at `now` (Unix seconds); `last_used_step` is -1 before any use.
totp_match check_totp(std::string_view key, std::string_view code, std::int64_t now, std::int64_t last_used_step,
                      const totp_params& p = {});

// otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
// (Google Authenticator's key URI format), percent-encoded.
std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view key,
                        const totp_params& p = {});

// Backup codes: `count` codes of 10 characters from an unambiguous alphabet, shown as
// XXXXX-XXXXX; the server keeps hash_token(canonical_backup_code(code)) only.
std::vector<secret> make_backup_codes(std::size_t count = 10);
// Upper-cased, dashes and spaces removed; nullopt when it cannot be a backup code.
std::optional<std::string> canonical_backup_code(std::string_view typed);

// Lockout after repeated failures (per user, across sessions): `max_failures` wrong codes in
// a row lock the second factor for `lock_seconds`.
struct two_factor_lockout {
    std::int64_t max_failures = 5;
    std::int64_t lock_seconds = 300;
};

}  // namespace latchkey::flows::server
