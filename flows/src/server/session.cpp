#include <latchkey/flows/server/session.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace latchkey::flows::server {

namespace {
std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}
}  // namespace

std::string auth_cookie_name(bool https, std::string_view name) {
    return auth_cookie_name(cookie_scope{https}, name);
}

std::string auth_set_cookie(bool https, std::string_view name, std::string_view value, std::int64_t max_age) {
    return auth_set_cookie(cookie_scope{https}, name, value, max_age);
}

std::string session_cookie_name(bool https) {
    return session_cookie_name(cookie_scope{https});
}

std::string session_set_cookie(bool https, std::string_view token, std::optional<std::int64_t> max_age) {
    return session_set_cookie(cookie_scope{https}, token, max_age);
}

std::string session_clear_cookie(bool https) {
    return session_clear_cookie(cookie_scope{https});
}

std::string auth_cookie_name(const cookie_scope& c, std::string_view name) {
    return (c.https ? "__Secure-" : "") + c.prefix + "." + std::string(name);
}

std::string auth_set_cookie(const cookie_scope& c, std::string_view name, std::string_view value, std::int64_t max_age) {
    std::string out = auth_cookie_name(c, name) + "=" + std::string(value) + "; Max-Age=" + std::to_string(max_age) +
                      "; Path=" + c.path + "; HttpOnly; SameSite=Lax";
    if (c.https) out += "; Secure";
    return out;
}

std::string session_cookie_name(const cookie_scope& c) {
    return auth_cookie_name(c, "session_token");
}

std::string session_set_cookie(const cookie_scope& c, std::string_view token, std::optional<std::int64_t> max_age) {
    std::string out = session_cookie_name(c) + "=" + std::string(token);
    if (max_age) out += "; Max-Age=" + std::to_string(*max_age);
    out += "; Path=" + c.path + "; HttpOnly; SameSite=Lax";
    if (c.https) out += "; Secure";
    return out;
}

std::string session_clear_cookie(const cookie_scope& c) {
    return session_set_cookie(c, "", 0);
}

std::string url_origin(std::string_view url) {
    auto u = boost::urls::parse_uri(url);
    if (!u || !u->has_authority() || u->host().empty()) return {};
    const auto scheme = lower(u->scheme());
    if (scheme != "http" && scheme != "https") return {};
    std::string out = scheme + "://" + lower(u->encoded_host_and_port());
    return out;
}

origin_verdict check_origin(std::string_view origin_header, bool has_cookies, const std::vector<std::string>& trusted) {
    if (origin_header.empty() || origin_header == "null")
        return has_cookies ? origin_verdict::missing : origin_verdict::ok;
    const auto origin = url_origin(origin_header);
    if (origin.empty()) return origin_verdict::untrusted;
    return std::find(trusted.begin(), trusted.end(), origin) != trusted.end() ? origin_verdict::ok
                                                                              : origin_verdict::untrusted;
}

std::string iso8601(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::optional<std::string> canonical_email(std::string_view email) {
    while (!email.empty() && email.front() == ' ') email.remove_prefix(1);
    while (!email.empty() && email.back() == ' ') email.remove_suffix(1);
    if (email.empty() || email.size() > 254) return std::nullopt;
    for (unsigned char c : email)
        if (c <= 0x20 || c == 0x7f) return std::nullopt;
    const auto at = email.rfind('@');
    if (at == 0 || at == std::string_view::npos || at + 1 == email.size()) return std::nullopt;
    if (email.find('@') != at || email.find('.', at) == std::string_view::npos) return std::nullopt;
    return lower(email);
}

}  // namespace latchkey::flows::server
