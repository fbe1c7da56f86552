#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwk.hpp>

#include "jose_internal.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <optional>

namespace latchkey {
namespace json = boost::json;
namespace {

struct bn_deleter {
    void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
struct bld_deleter {
    void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); }
};
struct params_deleter {
    void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct ctx_deleter {
    void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
using bn_ptr = std::unique_ptr<BIGNUM, bn_deleter>;
using bld_ptr = std::unique_ptr<OSSL_PARAM_BLD, bld_deleter>;
using params_ptr = std::unique_ptr<OSSL_PARAM, params_deleter>;
using ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, ctx_deleter>;

constexpr std::size_t p256_bytes = 32;
constexpr std::size_t ed25519_bytes = 32;

std::string member(const json::object& o, std::string_view name) {
    const json::value* v = o.if_contains(name);
    const json::string* s = v ? v->if_string() : nullptr;
    return s ? std::string(*s) : std::string();
}

// A base64url member decoded, or nullopt (missing, not a string, or not base64url).
std::optional<std::string> bytes_member(const json::object& o, std::string_view name) {
    const json::value* v = o.if_contains(name);
    const json::string* s = v ? v->if_string() : nullptr;
    if (!s || s->empty()) return std::nullopt;
    return base64url_decode(*s);
}

bn_ptr to_bn(std::string_view b) {
    return bn_ptr(BN_bin2bn(detail::bytes(b), static_cast<int>(b.size()), nullptr));
}

// EVP_PKEY_fromdata, then OpenSSL's own public-key validation (on-curve, odd modulus...).
pkey_ptr build_public(const char* type, OSSL_PARAM_BLD* bld) {
    params_ptr params(OSSL_PARAM_BLD_to_param(bld));
    ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        detail::take_openssl_error();
        return nullptr;
    }
    pkey_ptr key(raw);
    ctx_ptr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        detail::take_openssl_error();
        return nullptr;
    }
    return key;
}

error_code bad_key(diagnostics& diag, std::string message) {
    diag.client_message = "JWK: " + std::move(message);
    return client_errc::key_error;
}

result<pkey_ptr> rsa_from_jwk(const json::object& o, diagnostics& diag) {
    auto n = bytes_member(o, "n");
    auto e = bytes_member(o, "e");
    if (!n || !e) return bad_key(diag, "RSA key needs base64url members 'n' and 'e'");
    if (n->size() > max_rsa_bits / 8 + 1 || e->size() > 8)  // refused before any import
        return bad_key(diag, "RSA key is larger than " + std::to_string(max_rsa_bits) + " bits");
    bn_ptr bn_n = to_bn(*n), bn_e = to_bn(*e);
    bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
        return bad_key(diag, "RSA key could not be built: " + detail::take_openssl_error());
    auto key = build_public("RSA", bld.get());
    if (!key) return bad_key(diag, "RSA key is not a valid public key");
    if (EVP_PKEY_get_bits(key.get()) < 2048)  // RFC 7518 §3.3
        return bad_key(diag, "RSA key has " + std::to_string(EVP_PKEY_get_bits(key.get())) +
                                 " bits; at least 2048 are required");
    return key;
}

result<pkey_ptr> ec_from_jwk(const json::object& o, diagnostics& diag) {
    auto crv = member(o, "crv");
    if (crv != "P-256") return bad_key(diag, "EC curve '" + escape_untrusted(crv, 40) + "' is not supported");
    auto x = bytes_member(o, "x");
    auto y = bytes_member(o, "y");
    if (!x || !y || x->size() != p256_bytes || y->size() != p256_bytes)
        return bad_key(diag, "EC P-256 key needs 32-byte base64url members 'x' and 'y'");
    std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
    bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
        return bad_key(diag, "EC key could not be built: " + detail::take_openssl_error());
    auto key = build_public("EC", bld.get());
    if (!key) return bad_key(diag, "EC key is not a point on P-256");
    return key;
}

result<pkey_ptr> okp_from_jwk(const json::object& o, diagnostics& diag) {
    auto crv = member(o, "crv");
    if (crv != "Ed25519")  // RFC 8037 §2
        return bad_key(diag, "OKP curve '" + escape_untrusted(crv, 40) + "' is not supported");
    auto x = bytes_member(o, "x");
    if (!x || x->size() != ed25519_bytes) return bad_key(diag, "Ed25519 key needs a 32-byte member 'x'");
    bld_ptr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, x->data(), x->size()))
        return bad_key(diag, "Ed25519 key could not be built: " + detail::take_openssl_error());
    auto key = build_public("ED25519", bld.get());
    if (!key) return bad_key(diag, "Ed25519 key is not valid");
    return key;
}

// The RFC 7638 required members of a public key, as base64url strings.
struct key_members {
    std::string kty, crv, n, e, x, y;
};

std::string bn_bytes(const BIGNUM* bn, int pad_to = 0) {
    int len = pad_to > 0 ? pad_to : BN_num_bytes(bn);
    std::string out(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(out.data());
    if (pad_to > 0 ? BN_bn2binpad(bn, p, pad_to) < 0 : BN_bn2bin(bn, p) < 0) return {};
    return out;
}

std::optional<std::string> bn_param(const EVP_PKEY* key, const char* name, int pad_to = 0) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
        detail::take_openssl_error();
        return std::nullopt;
    }
    bn_ptr bn(raw);
    auto b = bn_bytes(bn.get(), pad_to);
    if (b.empty()) return std::nullopt;
    return base64url_encode(b);
}

std::optional<key_members> members_of(const EVP_PKEY* key) {
    key_members m;
    switch (kind_of(key)) {
    case key_kind::rsa: {
        auto n = bn_param(key, OSSL_PKEY_PARAM_RSA_N), e = bn_param(key, OSSL_PKEY_PARAM_RSA_E);
        if (!n || !e) return std::nullopt;
        m.kty = "RSA", m.n = *n, m.e = *e;
        return m;
    }
    case key_kind::ec_p256: {
        auto x = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, p256_bytes);
        auto y = bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, p256_bytes);
        if (!x || !y) return std::nullopt;
        m.kty = "EC", m.crv = "P-256", m.x = *x, m.y = *y;
        return m;
    }
    case key_kind::ed25519: {
        unsigned char buf[ed25519_bytes];
        std::size_t len = sizeof buf;
        if (EVP_PKEY_get_raw_public_key(key, buf, &len) != 1 || len != sizeof buf) {
            detail::take_openssl_error();
            return std::nullopt;
        }
        m.kty = "OKP", m.crv = "Ed25519";
        m.x = base64url_encode({reinterpret_cast<const char*>(buf), len});
        return m;
    }
    case key_kind::unsupported: break;
    }
    return std::nullopt;
}

}  // namespace

std::string_view jws_alg_for(key_kind kind) noexcept {
    switch (kind) {
    case key_kind::rsa: return "RS256";
    case key_kind::ec_p256: return "ES256";
    case key_kind::ed25519: return "EdDSA";
    case key_kind::unsupported: break;
    }
    return {};
}

result<jwk> parse_jwk(const json::object& o, diagnostics& diag) {
    jwk out;
    out.kty = member(o, "kty");
    out.kid = member(o, "kid");
    out.alg = member(o, "alg");
    out.use = member(o, "use");
    result<pkey_ptr> key = client_errc::key_error;
    if (out.kty == "RSA")
        key = rsa_from_jwk(o, diag);
    else if (out.kty == "EC")
        key = ec_from_jwk(o, diag);
    else if (out.kty == "OKP")
        key = okp_from_jwk(o, diag);
    else
        return bad_key(diag, "key type '" + escape_untrusted(out.kty, 40) + "' is not supported");
    if (!key) return key.error();
    out.key = std::move(*key);
    return out;
}

result<json::object> public_jwk(const EVP_PKEY* key, std::string kid) {
    auto m = members_of(key);
    if (!m) return client_errc::key_error;
    if (kid.empty()) {
        auto tp = jwk_thumbprint(key);
        if (!tp) return tp.error();
        kid = std::move(*tp);
    }
    json::object o;
    o["kty"] = m->kty;
    if (m->kty == "RSA") {
        o["n"] = m->n;
        o["e"] = m->e;
    } else {
        o["crv"] = m->crv;
        o["x"] = m->x;
        if (!m->y.empty()) o["y"] = m->y;
    }
    o["kid"] = kid;
    o["use"] = "sig";
    o["alg"] = jws_alg_for(kind_of(key));
    return o;
}

result<std::string> jwk_thumbprint(const EVP_PKEY* key) {
    auto m = members_of(key);
    if (!m) return client_errc::key_error;
    // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2, RFC
    // 8037 §2 for OKP). The values are base64url, so they need no JSON escaping.
    std::string canonical;
    if (m->kty == "RSA")
        canonical = R"({"e":")" + m->e + R"(","kty":"RSA","n":")" + m->n + R"("})";
    else if (m->kty == "EC")
        canonical = R"({"crv":"P-256","kty":"EC","x":")" + m->x + R"(","y":")" + m->y + R"("})";
    else
        canonical = R"({"crv":"Ed25519","kty":"OKP","x":")" + m->x + R"("})";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(canonical.data(), canonical.size(), digest, &len, EVP_sha256(), nullptr) != 1) {
        detail::take_openssl_error();
        return client_errc::key_error;
    }
    return base64url_encode({reinterpret_cast<const char*>(digest), len});
}

}  // namespace latchkey
