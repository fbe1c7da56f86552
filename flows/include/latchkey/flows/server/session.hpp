// Browser sessions as Better Auth shapes them (latch-idp's /api/auth/*): the session cookie,
// the Origin check on state-changing calls, and the small value formats of its answers.
// Pure: no I/O, no clock reads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace latchkey::flows::server {

// Better Auth's defaults: sessions live 7 days and slide forward on a use a day or more after
// their last extension.
inline constexpr std::int64_t session_ttl = 7 * 86400;
inline constexpr std::int64_t session_update_age = 86400;

// "better-auth.session_token"; over https "__Secure-better-auth.session_token" (the prefix
// makes browsers refuse the cookie unless it is Secure and was set over https).
std::string session_cookie_name(bool https);
// Set-Cookie value: HttpOnly; SameSite=Lax; Path=/; Secure over https. `max_age` nullopt:
// a browser-session cookie (Better Auth's rememberMe=false).
std::string session_set_cookie(bool https, std::string_view token, std::optional<std::int64_t> max_age);
// Set-Cookie value that removes the cookie.
std::string session_clear_cookie(bool https);
// Better Auth's other cookies ("two_factor", "trust_device"): `better-auth.NAME`, the same
// prefix rule and attributes as the session cookie; max_age 0 removes it.
std::string auth_cookie_name(bool https, std::string_view name);
std::string auth_set_cookie(bool https, std::string_view name, std::string_view value, std::int64_t max_age);

// The same cookies for a platform served under a path prefix (platform_route.hpp): Better
// Auth's cookie prefix ("better-auth" above) and the Path, so that two platforms on one
// host neither collide by name nor receive each other's cookies.
struct cookie_scope {
    bool https = false;
    std::string prefix = "better-auth";
    std::string path = "/";
};
std::string auth_cookie_name(const cookie_scope& c, std::string_view name);
std::string auth_set_cookie(const cookie_scope& c, std::string_view name, std::string_view value, std::int64_t max_age);
std::string session_cookie_name(const cookie_scope& c);
std::string session_set_cookie(const cookie_scope& c, std::string_view token, std::optional<std::int64_t> max_age);
std::string session_clear_cookie(const cookie_scope& c);

// "scheme://host[:port]" of an absolute http(s) URL, lowercase scheme and host; empty when
// it is not one.
std::string url_origin(std::string_view url);

// Better Auth's CSRF rule for state-changing calls (POST): the Origin header, when sent, must
// be one of `trusted` (exact origins); when the request carries cookies it must be sent (a
// browser always sends Origin on a POST). `has_cookies`: any Cookie header.
enum class origin_verdict { ok, missing, untrusted };
origin_verdict check_origin(std::string_view origin_header, bool has_cookies, const std::vector<std::string>& trusted);

// Unix seconds as JavaScript's Date.toJSON() writes them: "2026-11-30T03:45:00.000Z".
std::string iso8601(std::int64_t unix_seconds);

// An email address as an account name: trimmed, lowercased; nullopt unless it looks like
// local@domain with no spaces or control characters and at most 254 characters.
std::optional<std::string> canonical_email(std::string_view email);

}  // namespace latchkey::flows::server
