#include <latchkey/core/token_import.hpp>

#include <latchkey/core/jwt.hpp>

#include "json_util.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <cctype>
#include <cmath>

namespace latchkey {
namespace json = boost::json;
using detail::json_str;

std::string trim_token(std::string_view s) {
    auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return std::string(s);
}

import_expiry imported_token_expiry(std::string_view token, std::optional<seconds> expires_in,
                                    time_point now) {
    if (expires_in)
        return {add_seconds(now, static_cast<double>(expires_in->count())), expiry_source::expires_in};
    if (auto claims = decode_jwt_claims_unverified(token)) {
        auto it = claims->find("exp");
        if (it != claims->end()) {
            const json::value& v = it->value();
            std::optional<double> exp;
            if (v.is_int64()) exp = static_cast<double>(v.as_int64());
            else if (v.is_uint64()) exp = static_cast<double>(v.as_uint64());
            else if (v.is_double() && std::isfinite(v.as_double())) exp = v.as_double();
            if (exp && *exp > 0)  // RFC 7519 §4.1.4: NumericDate
                return {from_unix_seconds(*exp), expiry_source::jwt_exp};
        }
    }
    return {now + default_import_lifetime, expiry_source::default_lifetime};
}

namespace {

identity claims_identity(const json::object& o) {
    identity who;
    who.subject = json_str(o, "sub");
    who.email = json_str(o, "email");
    who.name = json_str(o, "name");
    who.username = json_str(o, "preferred_username");
    return who;
}

bool nameless(const identity& who) {
    return who.subject.empty() && who.email.empty() && who.name.empty() && who.username.empty();
}

}  // namespace

std::optional<identity> identity_from_jwt_unverified(std::string_view token) {
    auto claims = decode_jwt_claims_unverified(token);
    if (!claims) return std::nullopt;
    auto who = claims_identity(*claims);
    if (nameless(who)) return std::nullopt;
    return who;
}

std::optional<time_point> lookup_expiry(std::string_view body) {
    error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto text = json_str(v.as_object(), "expiresAt");
    // "2026-11-30T07:00:00.000Z" (JavaScript's toISOString) as well as whole seconds.
    if (text.size() == 24 && text[19] == '.' && text[23] == 'Z')
        return parse_time(text.substr(0, 19) + "Z");
    return parse_time(text);
}

result<identity> identity_from_json(std::string_view body, diagnostics& diag) {
    error_code ec;
    json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) {
        diag.client_message = "the identity lookup did not answer with a JSON object";
        return client_errc::bad_json;
    }
    const auto& o = v.as_object();
    identity who = claims_identity(o);
    for (const char* name : lookup_attribute_names)
        if (auto a = json_str(o, name); !a.empty()) who.attributes[name] = a;
    if (nameless(who)) {
        diag.client_message = "the identity lookup's answer names no sub, email, name or "
                              "preferred_username";
        return client_errc::missing_field;
    }
    return who;
}

}  // namespace latchkey
