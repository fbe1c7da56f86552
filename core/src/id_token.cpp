// ID token validation, OpenID Connect Core 1.0 §3.1.3.7 (steps 2-3, 6-11 that apply to
// a client holding no symmetric secret: signature, iss, aud, azp, exp, iat, nonce).
#include <latchkey/core/jwt_verify.hpp>
#include <latchkey/core/token_set.hpp>  // format_time

#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace latchkey {
namespace json = boost::json;
namespace {

using std::chrono::system_clock;

error_code reject(diagnostics& diag, std::string what, client_errc e = client_errc::id_token_invalid) {
    diag.client_message = "ID token rejected: " + std::move(what);
    return e;
}

std::string quoted(std::string_view untrusted) { return "'" + escape_untrusted(untrusted, 120) + "'"; }

const json::string* string_claim(const json::object& c, std::string_view name) {
    const json::value* v = c.if_contains(name);
    return v ? v->if_string() : nullptr;
}

// A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional. Saturated by
// from_unix_seconds: year 9999 is "far in the future", not an overflow into 1816.
std::optional<system_clock::time_point> date_claim(const json::object& c, std::string_view name) {
    const json::value* v = c.if_contains(name);
    if (!v) return std::nullopt;
    double d;
    if (const auto* i = v->if_int64())
        d = static_cast<double>(*i);
    else if (const auto* u = v->if_uint64())
        d = static_cast<double>(*u);
    else if (const auto* f = v->if_double())
        d = *f;
    else
        return std::nullopt;
    if (!std::isfinite(d)) return std::nullopt;
    return from_unix_seconds(d);
}

error_code check_audience(const json::object& c, const std::string& client_id, diagnostics& diag) {
    const json::value* aud = c.if_contains("aud");
    std::size_t count = 0;
    bool found = false;
    if (aud && aud->is_string()) {
        count = 1;
        found = aud->get_string() == client_id;
    } else if (aud && aud->is_array()) {
        for (const json::value& a : aud->get_array()) {
            ++count;
            found = found || (a.is_string() && a.get_string() == client_id);
        }
    }
    if (!found) return reject(diag, "audience does not include " + quoted(client_id));
    // §3.1.3.7 steps 4-5: several audiences need an azp, and an azp must be us.
    const json::string* azp = string_claim(c, "azp");
    if (azp && *azp != client_id)
        return reject(diag, "authorized party (azp) " + quoted(*azp) + " is not " + quoted(client_id));
    if (!azp && count > 1)
        return reject(diag, "several audiences but no authorized party (azp) naming " + quoted(client_id));
    return {};
}

error_code check_times(const json::object& c, const id_token_checks& k, diagnostics& diag) {
    auto skew_text = " (now " + format_time(k.now) + ", allowed clock skew " +
                     std::to_string(k.max_skew.count()) + " s)";
    auto exp = date_claim(c, "exp");
    if (!exp) return reject(diag, "no expiry (exp)");
    if (*exp <= k.now - k.max_skew) return reject(diag, "expired at " + format_time(*exp) + skew_text);
    auto iat = date_claim(c, "iat");
    if (!iat) return reject(diag, "no issue time (iat)");
    if (*iat > k.now + k.max_skew)
        return reject(diag, "issued in the future, at " + format_time(*iat) + skew_text);
    if (c.contains("nbf")) {
        auto nbf = date_claim(c, "nbf");
        if (!nbf || *nbf > k.now + k.max_skew)
            return reject(diag, "not valid before " + (nbf ? format_time(*nbf) : std::string("?")) + skew_text);
    }
    return {};
}

error_code check_claims(const json::object& c, const id_token_checks& k, diagnostics& diag) {
    const json::string* iss = string_claim(c, "iss");
    if (!iss) return reject(diag, "no issuer (iss)");
    if (*iss != k.issuer) return reject(diag, "issuer " + quoted(*iss) + " is not " + quoted(k.issuer));
    if (auto ec = check_audience(c, k.client_id, diag)) return ec;
    if (auto ec = check_times(c, k, diag)) return ec;
    const json::string* sub = string_claim(c, "sub");
    if (!sub || sub->empty()) return reject(diag, "no subject (sub)");
    if (k.nonce) {
        const json::string* nonce = string_claim(c, "nonce");
        if (!nonce) return reject(diag, "no nonce, but one was sent", client_errc::nonce_mismatch);
        if (*nonce != *k.nonce)
            return reject(diag, "nonce does not match the one sent (a replayed or injected token?)",
                          client_errc::nonce_mismatch);
    }
    return {};
}

}  // namespace

result<json::object> verify_id_token(std::string_view token, const jwk_set& jwks,
                                     const id_token_checks& checks, diagnostics& diag) {
    diagnostics sig_diag;
    auto verified = verify_jws(token, jwks, sig_diag);
    if (!verified) return reject(diag, sig_diag.client_message);
    if (!verified->claims) return reject(diag, "payload is not a JSON object");
    if (auto ec = check_claims(*verified->claims, checks, diag)) return ec;
    return std::move(*verified->claims);
}

}  // namespace latchkey
