#include <latchkey/core/token_set.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <ctime>
#include <cstdio>

namespace latchkey {
namespace json = boost::json;

bool token_set::valid_at(time_point now, seconds margin) const {
    if (access_token.empty()) return false;
    if (!expires_at) return true;  // the server gave no lifetime: assume valid
    return *expires_at > now + margin;
}

namespace {

std::optional<json::object> parse_object(std::string_view body) {
    error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.as_object());
}

std::optional<std::string> get_string(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return std::nullopt;
    return std::string(it->value().as_string());
}

std::string status_summary(const http_response& resp) {
    std::string s = "HTTP " + std::to_string(resp.status);
    if (!resp.content_type.empty()) s += " (" + escape_untrusted(resp.content_type, 60) + ")";
    return s;
}

}  // namespace

error_code parse_oauth_error(const http_response& resp, diagnostics& diag) {
    auto obj = parse_object(resp.body);
    if (!obj) return {};
    auto err = get_string(*obj, "error");
    if (!err) return {};
    auto code = oauth_errc_from_string(*err);
    if (code == oauth_errc::unknown_oauth_error) diag.server_error = *err;
    if (auto d = get_string(*obj, "error_description")) diag.server_message = *d;
    return code;
}

result<token_set> parse_token_response(const http_response& resp, time_point now,
                                       diagnostics& diag) {
    if (auto ec = parse_oauth_error(resp, diag)) return ec;
    if (resp.status < 200 || resp.status >= 300) {
        diag.client_message = "token endpoint answered " + status_summary(resp);
        return client_errc::bad_http_status;
    }
    auto obj = parse_object(resp.body);
    if (!obj) {
        diag.client_message = "token endpoint answered " + status_summary(resp) +
                              " with a body that is not a JSON object";
        return client_errc::bad_json;
    }
    auto access = get_string(*obj, "access_token");
    if (!access || access->empty()) {
        diag.client_message = "token response has no access_token";
        return client_errc::missing_field;
    }
    token_set t;
    t.access_token = secret{std::move(*access)};
    if (auto r = get_string(*obj, "refresh_token"); r && !r->empty()) t.refresh_token = secret{*r};
    if (auto i = get_string(*obj, "id_token"); i && !i->empty()) t.id_token = secret{*i};
    if (auto tt = get_string(*obj, "token_type")) t.token_type = *tt;
    if (auto sc = get_string(*obj, "scope")) t.scope = *sc;
    if (auto it = obj->find("expires_in"); it != obj->end()) {
        const auto& v = it->value();
        std::int64_t secs = -1;
        if (v.is_int64()) secs = v.as_int64();
        else if (v.is_uint64()) secs = static_cast<std::int64_t>(v.as_uint64());
        else if (v.is_double()) secs = static_cast<std::int64_t>(v.as_double());
        else if (v.is_string()) {  // some IdPs send "3600"
            try { secs = std::stoll(std::string(v.as_string())); } catch (...) { secs = -1; }
        }
        if (secs < 0 || secs > 10LL * 365 * 24 * 3600) {
            diag.client_message = "token response has an invalid expires_in";
            return client_errc::bad_json;
        }
        t.expires_at = now + seconds{secs};
    }
    return t;
}

time_point from_unix_seconds(double s) {
    constexpr double max_s = 9e9;
    if (!(s > 0)) return time_point{};
    return time_point{std::chrono::seconds{static_cast<long long>(s < max_s ? s : max_s)}};
}

std::string format_time(time_point t) {
    std::time_t tt = sys_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::optional<time_point> parse_time(std::string_view s) {
    std::tm tm{};
    char z = 0;
    std::string str(s);
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z')
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    std::time_t tt = timegm(&tm);
    if (tt == static_cast<std::time_t>(-1)) return std::nullopt;
    return sys_clock::from_time_t(tt);
}

}  // namespace latchkey
