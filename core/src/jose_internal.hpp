// Helpers shared by the JOSE sources; not installed, not part of the API.
#pragma once

#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey::detail {

struct md_ctx_deleter {
    void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
using md_ctx_ptr = std::unique_ptr<EVP_MD_CTX, md_ctx_deleter>;

// Drains OpenSSL's thread-local error queue and returns the reason of the last entry
// (or `fallback`). Every failure path calls it: a stale queue confuses later TLS calls.
std::string take_openssl_error(std::string_view fallback = "unknown OpenSSL error");

// ES256 signatures: JOSE carries the raw 64-byte r||s (RFC 7518 §3.4), EVP speaks DER.
std::optional<std::string> ecdsa_raw_to_der(std::string_view raw);
std::optional<std::string> ecdsa_der_to_raw(std::string_view der);

inline const unsigned char* bytes(std::string_view s) noexcept {
    return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace latchkey::detail
