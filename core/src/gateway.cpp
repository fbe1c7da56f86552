// Gateway session exchange: request and reply (see gateway.hpp).
#include <latchkey/core/gateway.hpp>
#include <latchkey/core/untrusted.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace latchkey {
namespace json = boost::json;

namespace {

std::string setting(const context_config& c, const char* key, std::string fallback) {
    auto it = c.extra.find(key);
    return it != c.extra.end() && !it->second.empty() ? it->second : std::move(fallback);
}

// Walks "a.b.c" through nested objects; nullptr when any step is missing.
const json::value* find_path(const json::object& root, std::string_view path) {
    const json::object* o = &root;
    for (;;) {
        const auto dot = path.find('.');
        auto it = o->find(path.substr(0, dot));
        if (it == o->end()) return nullptr;
        if (dot == std::string_view::npos) return &it->value();
        if (!it->value().is_object()) return nullptr;
        o = &it->value().as_object();
        path.remove_prefix(dot + 1);
    }
}

std::optional<double> number_of(const json::value& v) {
    if (v.is_int64()) return static_cast<double>(v.as_int64());
    if (v.is_uint64()) return static_cast<double>(v.as_uint64());
    if (v.is_double()) return v.as_double();
    return std::nullopt;
}

// A number of at least 1e9 is a Unix time (2001 onwards); a smaller one a lifetime.
std::optional<time_point> expiry_of(const json::value& v, time_point now) {
    if (v.is_string()) return parse_rfc3339(v.as_string());
    auto n = number_of(v);
    if (!n || !std::isfinite(*n) || *n < 0) return std::nullopt;
    return *n >= 1e9 ? from_unix_seconds(*n) : add_seconds(now, *n);
}

}  // namespace

gateway_config gateway_config_of(const context_config& c) {
    gateway_config g;
    g.url = setting(c, gateway_url_key, "");
    g.request_field = setting(c, gateway_request_field_key, g.request_field);
    g.token_field = setting(c, gateway_token_field_key, g.token_field);
    g.expiry_field = setting(c, gateway_expiry_field_key, g.expiry_field);
    return g;
}

http_request make_gateway_request(const gateway_config& g, const secret& id_token) {
    http_request r;
    r.method = http_method::post;
    r.url = g.url;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("Accept", "application/json");
    json::object body;
    body[g.request_field] = id_token.reveal();
    r.body = json::serialize(body);
    r.idempotent = false;
    return r;
}

result<gateway_session> parse_gateway_response(const gateway_config& g, const http_response& r,
                                               time_point now, diagnostics& diag) {
    if (r.status == 401) {
        diag.client_message = "the gateway refused the ID token (HTTP 401)";
        diag.server_message = r.body.substr(0, 300);
        return client_errc::session_expired;
    }
    if (r.status < 200 || r.status > 299) {
        diag.client_message = "the gateway answered HTTP " + std::to_string(r.status);
        diag.server_message = r.body.substr(0, 300);
        return client_errc::bad_http_status;
    }
    error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec || !v.is_object()) {
        diag.client_message = "the gateway's reply is not a JSON object";
        return client_errc::bad_json;
    }
    const auto* tok = find_path(v.as_object(), g.token_field);
    if (!tok || !tok->is_string() || tok->as_string().empty()) {
        diag.client_message = "the gateway's reply has no session token in \"" + g.token_field + "\"";
        return client_errc::missing_field;
    }
    if (auto why = token_problem(tok->as_string(), token_kind::opaque); !why.empty()) {
        diag.client_message = "the gateway's session token in \"" + g.token_field +
                              "\" is unusable: " + why;
        return client_errc::bad_json;
    }
    gateway_session s;
    s.url = g.url;
    s.token = secret{std::string(tok->as_string())};
    s.obtained_at = now;
    const json::value* exp = find_path(v.as_object(), g.expiry_field);
    std::string used = g.expiry_field;
    if (!exp || exp->is_null()) {
        exp = find_path(v.as_object(), "expires_in");
        used = "expires_in";
    }
    if (exp && !exp->is_null()) {
        s.expires_at = expiry_of(*exp, now);
        if (!s.expires_at) {
            diag.client_message = "the gateway's reply has an unreadable expiry in \"" + used + "\"";
            return client_errc::bad_input;
        }
    }
    return s;
}

std::optional<time_point> parse_rfc3339(std::string_view text) {
    std::string s(text);
    std::tm tm{};
    int used = 0;
    if (std::sscanf(s.c_str(), "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || used != 19)
        return std::nullopt;
    std::size_t i = 19;
    if (i < s.size() && s[i] == '.') {  // fractional seconds: ignored
        ++i;
        const auto digits = i;
        while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
        if (i == digits) return std::nullopt;
    }
    long offset = 0;
    if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
        ++i;
    } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
        int hh = 0, mm = 0, n = 0;
        if (std::sscanf(s.c_str() + i + 1, "%2d:%2d%n", &hh, &mm, &n) != 2 || n != 5 || hh > 23 || mm > 59)
            return std::nullopt;
        offset = (s[i] == '+' ? 1 : -1) * (hh * 3600L + mm * 60L);
        i += 6;
    } else {
        return std::nullopt;  // a time without a zone is ambiguous
    }
    if (i != s.size() || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    const std::time_t t = timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return from_unix_seconds(static_cast<double>(t - offset));  // 2263 and later saturate
}

}  // namespace latchkey
