// RFC 7591 / RFC 7592 requests and replies; see registration.hpp.
#include <latchkey/core/registration.hpp>

#include <latchkey/core/jwk.hpp>

#include "json_util.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <ctime>

namespace latchkey {
namespace json = boost::json;
using detail::json_str;

namespace {

http_request bearer_request(http_method method, std::string url, const secret& token) {
    http_request r;
    r.method = method;
    r.url = std::move(url);
    r.headers.emplace_back("Accept", "application/json");
    r.headers.emplace_back("Authorization", "Bearer " + token.reveal());
    return r;
}

http_request with_json_body(http_request r, std::string body) {
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = std::move(body);
    return r;
}

std::vector<std::string> strings(const json::object& o, std::string_view key) {
    std::vector<std::string> out;
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_array()) return out;
    for (const auto& v : it->value().as_array())
        if (v.is_string()) out.emplace_back(v.as_string());
    return out;
}

std::vector<std::string> kids_of(const json::object& o) {
    std::vector<std::string> out;
    auto it = o.find("jwks");
    if (it == o.end() || !it->value().is_object()) return out;
    auto keys = it->value().as_object().find("keys");
    if (keys == it->value().as_object().end() || !keys->value().is_array()) return out;
    for (const auto& k : keys->value().as_array())
        if (k.is_object()) out.push_back(json_str(k.as_object(), "kid"));
    return out;
}

// An OAuth error body, or an error status without one. Empty when `resp` is a success.
error_code management_error(const http_response& resp, const char* what, diagnostics& diag) {
    const std::string status = "HTTP " + std::to_string(resp.status);
    if (auto ec = parse_oauth_error(resp, diag)) {
        diag.client_message = std::string("the identity provider refused the ") + what + " (" +
                              status + ", " +
                              (diag.server_error.empty() ? std::string(ec.message())
                                                         : escape_untrusted(diag.server_error, 60)) +
                              ")";
        return ec;
    }
    if (resp.status >= 200 && resp.status < 300) return {};
    if (resp.status == 401 || resp.status == 403 || resp.status == 404) {
        diag.client_message = std::string("the identity provider refused the ") + what + " (" +
                              status + ")";
        return oauth_errc::invalid_token;
    }
    diag.client_message = std::string("the registration endpoint answered the ") + what +
                          " with " + status;
    return client_errc::bad_http_status;
}

}  // namespace

result<std::string> registration_body(const machine_metadata& m, const EVP_PKEY* key) {
    auto jwk = public_jwk(key);
    if (!jwk) return jwk.error();
    json::object o;
    if (!m.client_id.empty()) o["client_id"] = m.client_id;
    o["client_name"] = m.client_name;
    json::array grants;
    for (const auto& g : m.grant_types) grants.emplace_back(g);
    o["grant_types"] = std::move(grants);
    o["response_types"] = json::array{};
    o["token_endpoint_auth_method"] = "private_key_jwt";
    o["token_endpoint_auth_signing_alg"] = jws_alg_for(kind_of(key));
    json::array keys;
    keys.emplace_back(std::move(*jwk));
    o["jwks"] = json::object{{"keys", std::move(keys)}};
    return json::serialize(o);
}

http_request make_registration_request(std::string registration_endpoint, std::string body,
                                       const secret& bearer) {
    // Never retried blindly: a second POST would register a second client.
    return with_json_body(bearer_request(http_method::post, std::move(registration_endpoint), bearer),
                          std::move(body));
}

http_request make_registration_read(std::string client_uri, const secret& registration_token) {
    auto r = bearer_request(http_method::get, std::move(client_uri), registration_token);
    r.idempotent = true;
    return r;
}

http_request make_registration_update(std::string client_uri, std::string body,
                                      const secret& registration_token) {
    auto r = with_json_body(bearer_request(http_method::put, std::move(client_uri), registration_token),
                            std::move(body));
    r.idempotent = true;  // RFC 7592 §2.2: a full replacement; sending it twice is the same
    return r;
}

http_request make_registration_delete(std::string client_uri, const secret& registration_token) {
    auto r = bearer_request(http_method::delete_, std::move(client_uri), registration_token);
    r.idempotent = true;
    return r;
}

result<client_registration> parse_registration_response(const http_response& resp,
                                                        diagnostics& diag) {
    if (auto ec = management_error(resp, "registration request", diag)) return ec;
    error_code jec;
    json::value v = json::parse(resp.body, jec);
    if (jec || !v.is_object()) {
        diag.client_message = "the registration endpoint answered HTTP " +
                              std::to_string(resp.status) + " with a body that is not a JSON object";
        return client_errc::bad_json;
    }
    const auto& o = v.as_object();
    client_registration r;
    r.client_id = json_str(o, "client_id");
    if (r.client_id.empty()) {
        diag.client_message = "the registration response has no client_id";
        return client_errc::missing_field;
    }
    r.client_name = json_str(o, "client_name");
    r.token_endpoint_auth_method = json_str(o, "token_endpoint_auth_method");
    r.grant_types = strings(o, "grant_types");
    r.kids = kids_of(o);
    r.registration_access_token = secret{json_str(o, "registration_access_token")};
    r.registration_client_uri = json_str(o, "registration_client_uri");
    if (auto it = o.find("client_id_issued_at"); it != o.end() && it->value().is_int64())
        r.client_id_issued_at = from_unix_seconds(static_cast<double>(it->value().as_int64()));
    r.issued_client_secret = !json_str(o, "client_secret").empty();
    return r;
}

error_code parse_deletion_response(const http_response& resp, diagnostics& diag) {
    return management_error(resp, "deletion", diag);
}

std::optional<time_point> parse_http_date(std::string_view s) {
    // IMF-fixdate only (RFC 9110 §5.6.7: senders MUST generate it).
    static constexpr std::array<const char*, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    char wday[4] = {}, mon[4] = {}, zone[4] = {};
    const std::string text(s);
    if (std::sscanf(text.c_str(), "%3s, %2d %3s %4d %2d:%2d:%2d %3s", wday, &tm.tm_mday, mon,
                    &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, zone) != 8 ||
        std::string_view(zone) != "GMT")
        return std::nullopt;
    tm.tm_mon = -1;
    for (std::size_t i = 0; i < months.size(); ++i)
        if (std::string_view(mon) == months[i]) tm.tm_mon = static_cast<int>(i);
    if (tm.tm_mon < 0 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return std::nullopt;
    tm.tm_year -= 1900;
    std::time_t t = timegm(&tm);
    if (t == static_cast<std::time_t>(-1)) return std::nullopt;
    return from_unix_seconds(static_cast<double>(t));  // 2263 and later saturate
}

std::optional<std::chrono::seconds> server_clock_skew(const http_response& resp, time_point now) {
    auto date = parse_http_date(resp.header("Date"));
    if (!date) return std::nullopt;
    // The Date has whole seconds; ours is truncated the same way so a 0.9 s wait is no skew.
    return std::chrono::duration_cast<std::chrono::seconds>(*date - std::chrono::floor<std::chrono::seconds>(now));
}

std::string machine_file_stem(std::string_view id) {
    bool safe = !id.empty() && id.size() <= 128 && id.front() != '.';
    for (char c : id)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'))
            safe = false;
    if (safe) return std::string(id);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(id.data(), id.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "m-";
    for (unsigned i = 0; i < len && out.size() < 34; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

}  // namespace latchkey
