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

struct token_set {
    secret access_token;
    std::optional<secret> refresh_token;
    std::optional<secret> id_token;
    std::string token_type = "Bearer";
    std::string scope;                    // as granted (space separated); may be empty
    std::optional<time_point> expires_at; // absent when the server sent no expires_in

    // Valid at `now` with at least `margin` left (margin absorbs clock skew and the
    // auto-refresh window).
    bool valid_at(time_point now, seconds margin = seconds{0}) const;
};

// Parses a token endpoint reply. 2xx with a token -> token_set (expires_at = now +
// expires_in). A 4xx/5xx JSON body with `error` -> that oauth_errc, description in diag.
// Anything else (HTML, truncated JSON, missing access_token) -> client_errc with a message
// naming what was wrong. Never throws.
result<token_set> parse_token_response(const http_response& resp, time_point now,
                                       diagnostics& diag);

// Extracts an OAuth error object ({"error": ..., "error_description": ...}) from any
// reply. Returns an empty error_code when the body carries none.
error_code parse_oauth_error(const http_response& resp, diagnostics& diag);

// ISO 8601 UTC with seconds, e.g. 2026-11-23T05:10:23Z, and back.
std::string format_time(time_point t);
// A JWT NumericDate / Unix time in seconds as a time_point. time_point counts nanoseconds,
// so it overflows after 2262: larger values (e.g. the "never" 9999999999) are clamped to
// 9e9 s (year 2255), which every expiry check treats as far in the future.
time_point from_unix_seconds(double s);
std::optional<time_point> parse_time(std::string_view s);

}  // namespace latchkey
