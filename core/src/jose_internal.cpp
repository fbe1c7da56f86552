#include "jose_internal.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>

namespace latchkey::detail {

std::string take_openssl_error(std::string_view fallback) {
    // The first entry is usually the root cause; later ones are callers reporting it.
    unsigned long first = ERR_get_error();
    while (ERR_get_error() != 0) {
    }
    if (first == 0) return std::string(fallback);
    if (const char* reason = ERR_reason_error_string(first)) return reason;
    char buf[256];
    ERR_error_string_n(first, buf, sizeof buf);
    return buf;
}

namespace {
struct sig_deleter {
    void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};
using sig_ptr = std::unique_ptr<ECDSA_SIG, sig_deleter>;
constexpr int p256_bytes = 32;
}  // namespace

std::optional<std::string> ecdsa_raw_to_der(std::string_view raw) {
    if (raw.size() != 2 * p256_bytes) return std::nullopt;
    sig_ptr sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(bytes(raw), p256_bytes, nullptr);
    BIGNUM* s = BN_bin2bn(bytes(raw) + p256_bytes, p256_bytes, nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {  // set0 owns r, s
        BN_free(r);
        BN_free(s);
        take_openssl_error();
        return std::nullopt;
    }
    int len = i2d_ECDSA_SIG(sig.get(), nullptr);
    if (len <= 0) {
        take_openssl_error();
        return std::nullopt;
    }
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_ECDSA_SIG(sig.get(), &p);
    return der;
}

std::optional<std::string> ecdsa_der_to_raw(std::string_view der) {
    const unsigned char* p = bytes(der);
    sig_ptr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    if (!sig) {
        take_openssl_error();
        return std::nullopt;
    }
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    std::string raw(2 * p256_bytes, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    if (BN_bn2binpad(r, out, p256_bytes) < 0 || BN_bn2binpad(s, out + p256_bytes, p256_bytes) < 0)
        return std::nullopt;
    return raw;
}

}  // namespace latchkey::detail
