#include <latchkey/core/dpop.hpp>

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/pkce.hpp>
#include <latchkey/core/random.hpp>

#include <boost/json.hpp>

namespace latchkey {
namespace json = boost::json;

std::string dpop_htu(std::string_view url) {
    const auto cut = url.find_first_of("?#");
    return std::string(url.substr(0, cut));
}

std::string dpop_ath(std::string_view access_token) { return pkce_challenge(access_token); }

result<std::string> make_dpop_proof(EVP_PKEY* key, const dpop_proof_request& r) {
    auto jwk = public_jwk(key, "-");
    if (!jwk) return jwk.error();
    // Only what the key is (§4.2: "MUST NOT contain a private key"); kid/use/alg add nothing.
    for (const char* extra : {"kid", "use", "alg"}) jwk->erase(extra);
    json::object header{{"typ", "dpop+jwt"}, {"jwk", std::move(*jwk)}};
    json::object claims{{"jti", random_urlsafe(16)}, {"htm", r.method}, {"htu", dpop_htu(r.url)}, {"iat", r.iat}};
    if (!r.nonce.empty()) claims["nonce"] = r.nonce;
    if (!r.access_token.empty()) claims["ath"] = dpop_ath(r.access_token);
    return sign_jws(key, std::move(header), claims);
}

}  // namespace latchkey
