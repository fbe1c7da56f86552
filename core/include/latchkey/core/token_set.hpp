// What a token endpoint returns (RFC 6749 §5.1), with an absolute expiry.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/core/secret.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace latchkey {

// Wall-clock time: expiries are absolute instants that outlive the process.
using sys_clock = std::chrono::system_clock;
using time_point = sys_clock::time_point;
using std::chrono::seconds;

// An access token counts as expired this long before its expires_at (clock skew between
// us and the IdP); transport::token_source_options::clock_skew defaults to it.
inline constexpr seconds default_clock_skew{30};

struct token_set {
    secret access_token;
    std::optional<secret> refresh_token;
    std::optional<secret> id_token;
    std::string token_type = "Bearer";
    std::string scope;                    // as granted (space separated); may be empty
    std::optional<time_point> expires_at; // absent when the server sent no expires_in
    // When the token endpoint answered (absent in files written before it was kept): with
    // expires_at it gives the token's lifetime, which bounds the refresh window.
    std::optional<time_point> issued_at;
    // expires_at is latch's guess, not the issuer's word (an imported opaque token's 30
    // days); `latch status` says "assumed".
    bool expiry_assumed = false;

    // Valid at `now` with at least `margin` left (margin absorbs clock skew and the
    // auto-refresh window).
    bool valid_at(time_point now, seconds margin = seconds{0}) const;

    // How long before expires_at a refresh is due: min(window, half the lifetime) when the
    // lifetime is known, else `window`. So a 240 s token with a 300 s window is refreshed
    // in its last 120 s, not at every use (issue 17 #6).
    seconds refresh_margin(seconds window) const;
};

// Parses a token endpoint reply. 2xx with a token -> token_set (expires_at = now +
// expires_in). A 4xx/5xx JSON body with `error` -> that oauth_errc, description in diag.
// Anything else (HTML, truncated JSON, missing access_token) -> client_errc with a message
// naming what was wrong. Never throws.
result<token_set> parse_token_response(const http_response& resp, time_point now,
                                       diagnostics& diag);

// Why a token of `t` must not be stored, sent or printed (core/untrusted.hpp: access and
// refresh tokens visible ASCII, the ID token base64url and dots), e.g. "its access_token
// contains spaces, control characters or non-ASCII bytes (...)"; empty when all are fine.
// parse_token_response and the store's reader refuse such sets.
std::string token_set_problem(const token_set& t);

// Extracts an OAuth error object ({"error": ..., "error_description": ...}) from any
// reply. Returns an empty error_code when the body carries none.
error_code parse_oauth_error(const http_response& resp, diagnostics& diag);

// ISO 8601 UTC with seconds, e.g. 2026-11-23T05:10:23Z, and back.
std::string format_time(time_point t);
// Every conversion from a number of seconds to a time_point goes through these two:
// time_point counts nanoseconds in 64 bits, so it overflows after 2262 and a cast from a
// huge double is undefined behaviour. Both saturate to [epoch, max_unix_seconds] (9e9 s,
// year 2255), which every expiry check treats as "long ago" / "far in the future".
inline constexpr double max_unix_seconds = 9e9;
// A JWT NumericDate / Unix time in seconds (possibly fractional: floored), saturated.
// Negative and NaN give the epoch: callers that must refuse them check first.
time_point from_unix_seconds(double s);
// t + s seconds (a lifetime such as expires_in; fraction dropped), saturated the same way.
time_point add_seconds(time_point t, double s);
std::optional<time_point> parse_time(std::string_view s);

}  // namespace latchkey
