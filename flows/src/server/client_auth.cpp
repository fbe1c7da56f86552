#include <latchkey/flows/server/client_auth.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/jwt_verify.hpp>

#include <boost/json.hpp>

#include <optional>

namespace latchkey::flows::server {
namespace {

error_code fail(oauth_errc e, diagnostics& diag, const char* msg) {
    diag.client_message = msg;
    return make_error_code(e);
}

// Standard base64 (RFC 4648 §4) through the base64url decoder: swap the two characters
// that differ, after refusing the url-safe ones (they are not valid here).
std::optional<std::string> base64_decode(std::string_view s) {
    std::string t(s);
    for (char& c : t) {
        if (c == '-' || c == '_') return std::nullopt;
        if (c == '+') c = '-';
        else if (c == '/') c = '_';
    }
    return base64url_decode(t);
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        char a = s[i];
        if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
        if (a != prefix[i]) return false;
    }
    return true;
}

result<presented_client> parse_basic(std::string_view authorization, diagnostics& diag) {
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    if (!iequals_prefix(authorization, "basic "))
        return fail(oauth_errc::invalid_client, diag, "unsupported Authorization scheme");
    auto raw = base64_decode(authorization.substr(6));
    const auto colon = raw ? raw->find(':') : std::string::npos;
    if (colon == std::string::npos)
        return fail(oauth_errc::invalid_client, diag, "malformed Basic credentials");
    auto id = form_decode(std::string_view(*raw).substr(0, colon));
    auto pw = form_decode(std::string_view(*raw).substr(colon + 1));
    if (!id || !pw || id->empty())
        return fail(oauth_errc::invalid_client, diag, "malformed Basic credentials");
    return presented_client{client_auth_method::client_secret_basic, std::move(*id), secret(std::move(*pw))};
}

constexpr std::string_view jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

result<presented_client> parse_assertion(std::string_view authorization, const form& params, diagnostics& diag) {
    if (!authorization.empty() || params.get("client_secret"))
        return fail(oauth_errc::invalid_request, diag, "client authenticated by more than one method");
    if (params.value_or_empty("client_assertion_type") != jwt_bearer)
        return fail(oauth_errc::invalid_client, diag, "unsupported client_assertion_type");
    const auto assertion = params.value_or_empty("client_assertion");
    if (assertion.empty()) return fail(oauth_errc::invalid_request, diag, "client_assertion is missing");
    auto claims = decode_jwt_claims_unverified(assertion);
    const auto* sub = claims ? claims->if_contains("sub") : nullptr;
    if (!sub || !sub->is_string() || sub->as_string().empty())
        return fail(oauth_errc::invalid_client, diag, "the client assertion has no subject");
    std::string id(sub->as_string());
    if (auto body_id = params.get("client_id"); body_id && *body_id != id)
        return fail(oauth_errc::invalid_client, diag, "client_id differs from the assertion's subject");
    return presented_client{client_auth_method::private_key_jwt, std::move(id), {}, secret(std::string(assertion))};
}

bool audience_matches(const boost::json::value* aud, const std::vector<std::string>& audiences) {
    const auto one = [&](const boost::json::value& v) {
        if (!v.is_string()) return false;
        for (const auto& a : audiences)
            if (v.as_string() == a) return true;
        return false;
    };
    if (!aud) return false;
    if (aud->is_array()) {
        for (const auto& v : aud->as_array())
            if (one(v)) return true;
        return false;
    }
    return one(*aud);
}

std::optional<std::int64_t> int_claim(const boost::json::object& c, std::string_view name) {
    const auto* v = c.if_contains(name);
    if (!v) return std::nullopt;
    if (v->is_int64()) return v->as_int64();
    if (v->is_uint64() && v->as_uint64() < (1ull << 62)) return static_cast<std::int64_t>(v->as_uint64());
    return std::nullopt;
}

}  // namespace

result<verified_assertion> verify_client_assertion(std::string_view assertion, const client_record& client,
                                                   const std::vector<std::string>& audiences, std::int64_t now,
                                                   diagnostics& diag) {
    constexpr std::int64_t skew = 60;
    auto keys = parse_jwks(client.jwks, diag);
    if (!keys) return fail(oauth_errc::invalid_client, diag, "the client has no usable registered key");
    auto verified = verify_jws(assertion, *keys, diag);
    if (!verified || !verified->claims)
        return fail(oauth_errc::invalid_client, diag, "the client assertion is not signed by a registered key");
    const auto& c = *verified->claims;
    const auto* iss = c.if_contains("iss");
    const auto* sub = c.if_contains("sub");
    if (!iss || !sub || !iss->is_string() || !sub->is_string() || iss->as_string() != client.client_id ||
        sub->as_string() != client.client_id)
        return fail(oauth_errc::invalid_client, diag, "the client assertion's iss and sub must be the client id");
    if (!audience_matches(c.if_contains("aud"), audiences))
        return fail(oauth_errc::invalid_client, diag, "the client assertion's audience is not this server");
    const auto exp = int_claim(c, "exp");
    if (!exp || *exp <= now - skew) return fail(oauth_errc::invalid_client, diag, "the client assertion has expired");
    if (*exp > now + max_assertion_lifetime)
        return fail(oauth_errc::invalid_client, diag, "the client assertion lives too long (over 10 minutes)");
    for (const char* name : {"nbf", "iat"})
        if (auto t = int_claim(c, name); t && *t > now + skew)
            return fail(oauth_errc::invalid_client, diag, "the client assertion is not valid yet (clock skew?)");
    const auto* jti = c.if_contains("jti");
    if (!jti || !jti->is_string() || jti->as_string().empty() || jti->as_string().size() > 256)
        return fail(oauth_errc::invalid_client, diag, "the client assertion has no jti");
    return verified_assertion{std::string(jti->as_string()), *exp};
}

result<presented_client> parse_client_auth(std::string_view authorization, const form& params,
                                           diagnostics& diag) {
    const auto body_id = params.get("client_id");
    const auto body_secret = params.get("client_secret");
    if (params.get("client_assertion_type") || params.get("client_assertion"))
        return parse_assertion(authorization, params, diag);
    if (!authorization.empty()) {
        auto basic = parse_basic(authorization, diag);
        if (!basic) return basic;
        if (body_secret)
            return fail(oauth_errc::invalid_request, diag, "client authenticated by more than one method");
        if (body_id && *body_id != basic->client_id)
            return fail(oauth_errc::invalid_request, diag, "client_id differs from the authenticated client");
        return basic;
    }
    if (!body_id) return fail(oauth_errc::invalid_request, diag, "client_id is missing");
    if (body_secret)
        return presented_client{client_auth_method::client_secret_post, std::string(*body_id),
                                secret(std::string(*body_secret))};
    return presented_client{client_auth_method::none, std::string(*body_id), {}};
}

error_code authenticate_client(const presented_client& presented, const client_record& client,
                               diagnostics& diag) {
    constexpr const char* msg = "client authentication failed";
    if (presented.client_id != client.client_id) return fail(oauth_errc::invalid_client, diag, msg);
    const bool machine = client.auth_method == "private_key_jwt";
    if (machine != (presented.method == client_auth_method::private_key_jwt))
        return fail(oauth_errc::invalid_client, diag, msg);
    if (machine) return {};  // the assertion: verify_client_assertion
    if (client.is_public()) {
        if (presented.method != client_auth_method::none) return fail(oauth_errc::invalid_client, diag, msg);
        return {};
    }
    if (presented.method == client_auth_method::none || client.secret_hash.empty())
        return fail(oauth_errc::invalid_client, diag, msg);
    if (!token_matches_hash(presented.client_secret.reveal(), client.secret_hash))
        return fail(oauth_errc::invalid_client, diag, msg);
    return {};
}

}  // namespace latchkey::flows::server
