#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/random.hpp>

#include "jose_internal.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <openssl/evp.h>

namespace latchkey {
namespace json = boost::json;
namespace {

std::optional<std::string> sign_bytes(EVP_PKEY* key, key_kind kind, std::string_view input) {
    const EVP_MD* md = kind == key_kind::ed25519 ? nullptr : EVP_sha256();  // Ed25519: one-shot, no md
    detail::md_ctx_ptr ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, detail::bytes(input), input.size()) != 1) {
        detail::take_openssl_error();  // e.g. a public-only key
        return std::nullopt;
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       detail::bytes(input), input.size()) != 1) {
        detail::take_openssl_error();
        return std::nullopt;
    }
    sig.resize(len);
    if (kind == key_kind::ec_p256) return detail::ecdsa_der_to_raw(sig);
    return sig;
}

}  // namespace

result<std::string> sign_jwt(EVP_PKEY* key, std::string_view kid, const json::object& claims) {
    json::object header;
    header["typ"] = "JWT";
    if (!kid.empty()) header["kid"] = kid;
    return sign_jws(key, std::move(header), claims);
}

result<std::string> sign_jws(EVP_PKEY* key, json::object header, const json::object& claims) {
    auto kind = kind_of(key);
    if (kind == key_kind::unsupported) return client_errc::key_error;
    header["alg"] = jws_alg_for(kind);
    std::string input = base64url_encode(json::serialize(header)) + "." +
                        base64url_encode(json::serialize(claims));
    auto sig = sign_bytes(key, kind, input);
    if (!sig) return client_errc::key_error;
    return input + "." + base64url_encode(*sig);
}

result<secret> make_client_assertion(EVP_PKEY* key, std::string_view kid, std::string_view client_id,
                                     std::string_view audience,
                                     std::chrono::system_clock::time_point now,
                                     std::chrono::seconds lifetime) {
    auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    json::object claims;
    claims["iss"] = client_id;
    claims["sub"] = client_id;
    claims["aud"] = audience;
    claims["iat"] = iat;
    claims["exp"] = iat + lifetime.count();
    claims["jti"] = random_urlsafe(16);
    auto jwt = sign_jwt(key, kid, claims);
    if (!jwt) return jwt.error();
    return secret{std::move(*jwt)};
}

}  // namespace latchkey
