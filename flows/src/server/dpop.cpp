#include <latchkey/flows/server/dpop.hpp>
#include <latchkey/flows/server/sealed.hpp>

#include <latchkey/core/dpop.hpp>
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/jwt_verify.hpp>
#include <latchkey/core/secret.hpp>

#include <boost/json.hpp>

namespace latchkey::flows::server {
namespace json = boost::json;
namespace {

error_code refuse(diagnostics& diag, const char* why) {
    diag.client_message = why;
    return make_error_code(oauth_errc::invalid_dpop_proof);
}

std::string_view string_member(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view{};
}

std::optional<std::int64_t> int_member(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (v && v->is_int64()) return v->as_int64();
    if (v && v->is_uint64() && v->as_uint64() < (1ull << 62)) return static_cast<std::int64_t>(v->as_uint64());
    return std::nullopt;
}

// The header's key, checked (§4.3 checks 5-6): public, of the alg's type, as a one-key set.
result<jwk_set> header_key(const json::object& header, std::string_view alg, diagnostics& diag) {
    const auto* jwk = header.if_contains("jwk");
    if (!jwk || !jwk->is_object()) return refuse(diag, "the DPoP proof has no jwk header");
    for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
        if (jwk->as_object().contains(priv)) return refuse(diag, "the DPoP proof's jwk holds a private key");
    const std::string_view kty = string_member(jwk->as_object(), "kty");
    if ((alg == "ES256" && kty != "EC") || (alg == "RS256" && kty != "RSA"))
        return refuse(diag, "the DPoP proof's jwk does not fit its alg");
    diagnostics ignored;
    auto keys = jwks_from_value(json::value{{"keys", json::array{*jwk}}}, ignored);
    if (!keys || keys->keys.size() != 1 || !keys->keys.front().key())
        return refuse(diag, "the DPoP proof's jwk is not a usable public key");
    return keys;
}

// §4.3 checks 9-12 on the verified claims.
error_code check_claims(const json::object& c, const dpop_expect& e, verified_dpop& out, diagnostics& diag) {
    if (string_member(c, "htm") != e.method) return refuse(diag, "the DPoP proof's htm is not this request's method");
    const auto htu = string_member(c, "htu");
    if (htu.empty() || dpop_htu(htu) != e.htu) return refuse(diag, "the DPoP proof's htu is not this endpoint's URL");
    const auto iat = int_member(c, "iat");
    if (!iat) return refuse(diag, "the DPoP proof has no iat");
    if (*iat < e.now - dpop_max_age) return refuse(diag, "the DPoP proof is too old (iat)");
    if (*iat > e.now + dpop_max_ahead) return refuse(diag, "the DPoP proof's iat is in the future (clock skew?)");
    const auto jti = string_member(c, "jti");
    if (jti.empty() || jti.size() > 256) return refuse(diag, "the DPoP proof has no jti (or one over 256 characters)");
    const auto* nonce = c.if_contains("nonce");
    if (nonce && (!nonce->is_string() || nonce->as_string().size() > 256))
        return refuse(diag, "the DPoP proof's nonce is not a short string");
    const auto ath = string_member(c, "ath");
    if (e.access_token.empty() ? c.contains("ath") : !constant_time_equal(ath, dpop_ath(e.access_token)))
        return refuse(diag, e.access_token.empty() ? "the DPoP proof has an ath here"
                                                   : "the DPoP proof's ath is not the access token's hash");
    out.jti = std::string(jti);
    out.nonce = nonce ? std::string(nonce->as_string()) : std::string{};
    out.remember_until = *iat + dpop_max_age + dpop_max_ahead;
    return {};
}

}  // namespace

result<verified_dpop> verify_dpop_proof(std::string_view proof, const dpop_expect& e, diagnostics& diag) {
    if (proof.size() > max_dpop_proof_size) return refuse(diag, "the DPoP proof is too large");
    diagnostics ignored;
    auto parsed = parse_jws(proof, ignored);
    if (!parsed) return refuse(diag, "the DPoP proof is not a compact JWS (three base64url parts of JSON)");
    if (string_member(parsed->header, "typ") != "dpop+jwt") return refuse(diag, "the DPoP proof's typ is not dpop+jwt");
    if (parsed->alg != "ES256" && parsed->alg != "RS256")
        return refuse(diag, "the DPoP proof's alg is not accepted (ES256, RS256)");
    auto keys = header_key(parsed->header, parsed->alg, diag);
    if (!keys) return keys.error();
    auto verified = verify_jws(proof, *keys, ignored);
    if (!verified) return refuse(diag, "the DPoP proof's signature does not verify with its jwk");
    if (!verified->claims) return refuse(diag, "the DPoP proof's payload is not a JSON object");
    verified_dpop out;
    if (auto ec = check_claims(*verified->claims, e, out, diag)) return ec;
    auto jkt = jwk_thumbprint(keys->keys.front().key());
    if (!jkt) return refuse(diag, "the DPoP proof's jwk is not a usable public key");
    out.jkt = std::move(*jkt);
    return out;
}

std::string dpop_nonce_key(std::string_view server_secret) { return keyed_hash(server_secret, "latch-idp dpop-nonce key v1"); }

std::string make_dpop_nonce(std::string_view key, std::int64_t now) {
    return keyed_hash(key, "dpop-nonce:" + std::to_string(now / dpop_nonce_period));
}

bool dpop_nonce_valid(std::string_view key, std::string_view nonce, std::int64_t now) {
    if (nonce.empty()) return false;
    const bool current = constant_time_equal(nonce, make_dpop_nonce(key, now));
    const bool previous = constant_time_equal(nonce, make_dpop_nonce(key, now - dpop_nonce_period));
    return current || previous;
}

std::optional<presented_token> parse_resource_authorization(std::string_view a) {
    const auto sp = a.find(' ');
    if (sp == std::string_view::npos || sp + 1 >= a.size()) return std::nullopt;
    std::string scheme(a.substr(0, sp));
    for (char& ch : scheme) ch = static_cast<char>(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
    if (scheme != "bearer" && scheme != "dpop") return std::nullopt;
    return presented_token{scheme == "dpop", std::string(a.substr(sp + 1))};
}

error_code check_token_binding(std::string_view token_jkt, const presented_token& presented,
                               const verified_dpop* proof, diagnostics& diag) {
    if (token_jkt.empty()) {
        if (!presented.dpop) return {};
        diag.client_message = "the access token is not DPoP-bound: send it with the Bearer scheme";
        return make_error_code(oauth_errc::invalid_token);
    }
    if (!presented.dpop) {
        diag.client_message = "the access token is DPoP-bound: send it with the DPoP scheme and a proof";
        return make_error_code(oauth_errc::invalid_token);
    }
    if (!proof) return refuse(diag, "a DPoP proof is required with a DPoP-bound access token");
    if (!constant_time_equal(proof->jkt, token_jkt))
        return refuse(diag, "the DPoP proof is not signed by the key the access token is bound to");
    return {};
}

}  // namespace latchkey::flows::server
