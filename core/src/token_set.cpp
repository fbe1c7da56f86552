#include <latchkey/core/token_set.hpp>
#include <latchkey/core/untrusted.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace latchkey {
namespace json = boost::json;

bool token_set::valid_at(time_point now, seconds margin) const {
    if (access_token.empty()) return false;
    if (!expires_at) return true;  // the server gave no lifetime: assume valid
    return *expires_at > now + margin;
}

seconds token_set::refresh_margin(seconds window) const {
    if (!expires_at || !issued_at || *expires_at <= *issued_at) return window;
    const auto half = std::chrono::duration_cast<seconds>(*expires_at - *issued_at) / 2;
    return std::min(window, half);
}

namespace {

std::optional<json::object> parse_object(std::string_view body,
                                         json::storage_ptr sp = {}) {
    error_code ec;
    json::value v = json::parse(body, ec, std::move(sp));
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

// expires_in (RFC 6749 §5.1): a number of seconds, or a string of digits as some IdPs
// send it; nullopt unless it is within 0..10 years. Checked as a double before any cast
// (1e300 must not reach an integer conversion).
std::optional<double> lifetime_seconds(const json::value& v) {
    constexpr double max_lifetime = 10.0 * 365 * 24 * 3600;
    double secs = -1;
    if (v.is_int64()) secs = static_cast<double>(v.as_int64());
    else if (v.is_uint64()) secs = static_cast<double>(v.as_uint64());
    else if (v.is_double()) secs = v.as_double();
    else if (v.is_string()) {
        std::string_view s = v.as_string();
        auto digit = [](char c) { return c >= '0' && c <= '9'; };
        if (!s.empty() && s.size() <= 12 && std::all_of(s.begin(), s.end(), digit))
            secs = std::stod(std::string(s));
    }
    if (!(secs >= 0 && secs <= max_lifetime)) return std::nullopt;  // NaN fails too
    return std::floor(secs);
}

}  // namespace

namespace {
// RFC 6749 §5.2 in an already parsed body.
error_code oauth_error_in(const json::object& obj, diagnostics& diag) {
    auto err = get_string(obj, "error");
    if (!err) return {};
    auto code = oauth_errc_from_string(*err);
    if (code == oauth_errc::unknown_oauth_error) diag.server_error = *err;
    if (auto d = get_string(obj, "error_description")) diag.server_message = *d;
    return code;
}
}  // namespace

error_code parse_oauth_error(const http_response& resp, diagnostics& diag) {
    auto obj = parse_object(resp.body);
    return obj ? oauth_error_in(*obj, diag) : error_code{};
}

result<token_set> parse_token_response(const http_response& resp, time_point now,
                                       diagnostics& diag) {
    // One parse (the error check and the tokens read the same object) into an arena on
    // the stack: a token response is a handful of strings, and the tree is dropped here.
    alignas(16) unsigned char arena[4096];
    json::monotonic_resource mr(arena, sizeof arena);
    auto obj = parse_object(resp.body, &mr);
    if (obj)
        if (auto ec = oauth_error_in(*obj, diag)) return ec;
    if (resp.status < 200 || resp.status >= 300) {
        diag.client_message = "token endpoint answered " + status_summary(resp);
        return client_errc::bad_http_status;
    }
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
    t.issued_at = now;
    if (auto r = get_string(*obj, "refresh_token"); r && !r->empty()) t.refresh_token = secret{*r};
    if (auto i = get_string(*obj, "id_token"); i && !i->empty()) t.id_token = secret{*i};
    if (auto tt = get_string(*obj, "token_type")) t.token_type = *tt;
    if (auto sc = get_string(*obj, "scope")) t.scope = *sc;
    if (auto why = token_set_problem(t); !why.empty()) {
        diag.client_message = "token endpoint answered with a token latch will not use: " + why;
        return client_errc::bad_json;
    }
    if (auto it = obj->find("expires_in"); it != obj->end()) {
        auto secs = lifetime_seconds(it->value());
        if (!secs) {
            diag.client_message = "token response has an invalid expires_in";
            return client_errc::bad_json;
        }
        t.expires_at = add_seconds(now, *secs);
    }
    return t;
}

std::string token_set_problem(const token_set& t) {
    // RFC 6750 §2.1: a CR/LF in a token becomes an injected header line when it is sent,
    // an ESC a terminal sequence when it is printed.
    std::string why = token_problem(t.access_token.reveal(), token_kind::opaque);
    if (!why.empty()) return "its access_token " + why;
    if (t.refresh_token) {
        why = token_problem(t.refresh_token->reveal(), token_kind::opaque);
        if (!why.empty()) return "its refresh_token " + why;
    }
    if (t.id_token) {
        why = token_problem(t.id_token->reveal(), token_kind::jws);
        if (!why.empty()) return "its id_token " + why;
    }
    return {};
}

time_point from_unix_seconds(double s) {
    if (std::isnan(s)) return time_point{};
    const double clamped = std::clamp(std::floor(s), 0.0, max_unix_seconds);
    return time_point{seconds{static_cast<long long>(clamped)}};
}

time_point add_seconds(time_point t, double s) {
    if (std::isnan(s)) return t;
    const auto limit = static_cast<long long>(max_unix_seconds);
    // Both terms are within +-2 * limit here, so the integer sum cannot overflow.
    const auto base = std::chrono::floor<seconds>(t.time_since_epoch()).count();
    const auto add = static_cast<long long>(std::clamp(std::trunc(s), -2 * max_unix_seconds,
                                                       2 * max_unix_seconds));
    const long long sum = base + add;
    if (sum > limit) return time_point{seconds{limit}};
    if (sum < 0) return time_point{};
    return t + seconds{add};
}

std::string format_time(time_point t) {
    std::time_t tt = sys_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

namespace {
long long floor_div(long long a, long long b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

// Days from 1970-01-01 to year y, month m (1..12), day 1 (proleptic Gregorian).
long long days_from_civil(long long y, long long m) {
    y -= m <= 2;
    const long long era = floor_div(y, 400);
    const long long yoe = y - era * 400;
    const long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
    const long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

// Seconds since the epoch of a UTC calendar time, month 0-based; any field may be out of
// range and carries over, as in timegm().
long long utc_seconds(long long year, long long mon, long long mday, long long hour,
                      long long min, long long sec) {
    year += floor_div(mon, 12);
    mon -= floor_div(mon, 12) * 12;
    const long long days = days_from_civil(year, mon + 1) + mday - 1;
    return days * 86400 + hour * 3600 + min * 60 + sec;
}
}  // namespace

std::optional<time_point> parse_time(std::string_view s) {
    std::tm tm{};
    char z = 0;
    std::string str(s);
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 || z != 'Z')
        return std::nullopt;
    // What timegm() computes (out-of-range fields carry over), without its first call
    // loading /etc/localtime: this runs on every `latch token` (bench/README.md, P3).
    const long long tt = utc_seconds(tm.tm_year, tm.tm_mon - 1, tm.tm_mday, tm.tm_hour,
                                     tm.tm_min, tm.tm_sec);
    if (tt == -1) return std::nullopt;  // timegm's error value, kept as it was
    return from_unix_seconds(static_cast<double>(tt));  // 2263 and later saturate
}

}  // namespace latchkey
