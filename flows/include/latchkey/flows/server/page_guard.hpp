// Protection for latch-idp's HTML forms: CSRF tokens and attempt limits.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace latchkey::flows::server {

// Signed double-submit CSRF token (OWASP CSRF cheat sheet): the cookie holds a random
// nonce, the form's hidden field nonce + "." + HMAC-SHA256(key, nonce). A cross-site form
// cannot read the cookie, and a planted cookie without the key cannot produce the field.
struct csrf_pair {
    std::string cookie;
    std::string field;
};
csrf_pair make_csrf(std::string_view key);
// Constant time in the MAC comparison.
bool check_csrf(std::string_view key, std::string_view cookie, std::string_view field);

// Fixed one-minute windows: at most `per_key` attempts per key (an IP) and `global` in
// total. RFC 8628 §5.1: the global bound is what the user code length is sized against
// (user_code.hpp). Memory is bounded: at most `max_keys` keys per window; attempts from
// further keys are refused until the window ends.
class attempt_limiter {
public:
    attempt_limiter(std::uint64_t per_key, std::uint64_t global, std::size_t max_keys = 100000)
        : per_key_(per_key), global_(global), max_keys_(max_keys) {}
    // Counts one attempt at `now` (Unix seconds); false when over either limit.
    bool allow(std::string_view key, std::int64_t now);
    // Gives back one attempt allow() counted for `key` in the current window: an attempt
    // that turned out not to be a guess (a look-up of a code that exists).
    void refund(std::string_view key, std::int64_t now);

private:
    std::uint64_t per_key_, global_;
    std::size_t max_keys_;
    std::int64_t window_ = -1;
    std::uint64_t global_count_ = 0;
    std::unordered_map<std::string, std::uint64_t> counts_;
};

// Escapes &, <, >, ", ' for HTML text and attribute values.
std::string html_escape(std::string_view s);

}  // namespace latchkey::flows::server
