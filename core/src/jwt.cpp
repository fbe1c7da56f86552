#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwt.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace latchkey {
namespace json = boost::json;
namespace {

class jose_category_impl : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "latchkey.jose"; }
    std::string message(int ev) const override {
        switch (static_cast<jose_errc>(ev)) {
        case jose_errc::malformed: return "not a well-formed compact JWS";
        case jose_errc::unsupported_alg: return "JWS algorithm not accepted";
        case jose_errc::key_mismatch: return "JWKS key does not match the JWS algorithm";
        case jose_errc::unknown_kid: return "no JWKS key matches the JWS";
        case jose_errc::bad_signature: return "JWS signature does not verify";
        }
        return "unknown JOSE error";
    }
};

struct parts {
    std::string_view header, payload, signature;
};

// Exactly three dot-separated parts (RFC 7515 §7.1); a JWE has five.
std::optional<parts> split(std::string_view token) {
    auto d1 = token.find('.');
    if (d1 == std::string_view::npos) return std::nullopt;
    auto d2 = token.find('.', d1 + 1);
    if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
        return std::nullopt;
    return parts{token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1), token.substr(d2 + 1)};
}

std::optional<json::object> parse_object(std::string_view text) {
    error_code ec;
    json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

error_code malformed(diagnostics& diag, std::string message) {
    diag.client_message = std::move(message);
    return jose_errc::malformed;
}

}  // namespace

const boost::system::error_category& jose_category() noexcept {
    static const jose_category_impl instance;
    return instance;
}

result<jws> parse_jws(std::string_view token, diagnostics& diag) {
    auto p = split(token);
    if (!p || p->header.empty() || p->payload.empty())
        return malformed(diag, "token is not a compact JWS (three base64url parts)");
    auto header_text = base64url_decode(p->header);
    auto payload = base64url_decode(p->payload);
    auto signature = base64url_decode(p->signature);
    if (!header_text || !payload || !signature)
        return malformed(diag, "token has a part that is not base64url");
    auto header = parse_object(*header_text);
    if (!header) return malformed(diag, "token header is not a JSON object");

    jws out;
    const json::value* alg = header->if_contains("alg");
    if (!alg || !alg->is_string()) return malformed(diag, "token header has no \"alg\"");
    out.alg = std::string(alg->get_string());
    if (const json::value* kid = header->if_contains("kid")) {
        if (!kid->is_string()) return malformed(diag, "token header \"kid\" is not a string");
        out.kid = std::string(kid->get_string());
    }
    // RFC 7515 §4.1.11: extensions marked critical must be understood; we know none.
    if (header->contains("crit"))
        return malformed(diag, "token header lists critical extensions (\"crit\") we do not support");

    out.header = std::move(*header);
    out.claims = parse_object(*payload);
    out.payload = std::move(*payload);
    out.signature = std::move(*signature);
    out.signing_input = std::string(token.substr(0, p->header.size() + 1 + p->payload.size()));
    return out;
}

std::optional<json::object> decode_jwt_claims_unverified(std::string_view token) {
    auto p = split(token);
    if (!p) return std::nullopt;
    auto payload = base64url_decode(p->payload);
    if (!payload) return std::nullopt;
    return parse_object(*payload);
}

std::optional<std::string> jwt_payload_unverified(std::string_view token) {
    auto p = split(token);
    if (!p) return std::nullopt;
    return base64url_decode(p->payload);
}

std::optional<std::string> jwt_header_unverified(std::string_view token) {
    auto p = split(token);
    if (!p) return std::nullopt;
    return base64url_decode(p->header);
}

}  // namespace latchkey
