// Asymmetric keys for JOSE (OpenSSL 3 EVP_PKEY): generation and PEM import/export.
//
// Supported kinds are the ones latchkey signs and verifies with: RSA (2048 bits or more,
// RS256), EC P-256 (ES256) and Ed25519 (EdDSA). Everything else is refused up front with
// client_errc::key_error, so later code never meets a key it cannot use.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/secret.hpp>

#include <openssl/types.h>  // EVP_PKEY (typedefs only)

#include <memory>
#include <string_view>

namespace latchkey {

struct pkey_deleter {
    void operator()(EVP_PKEY* k) const noexcept;
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;

// What to generate.
enum class key_type { ec_p256, rsa_2048, ed25519 };

// What a key is, as far as JOSE is concerned.
enum class key_kind { unsupported, rsa, ec_p256, ed25519 };
key_kind kind_of(const EVP_PKEY* key) noexcept;
// "RSA", "EC P-256", "Ed25519" or the OpenSSL type name; for messages.
std::string describe_key(const EVP_PKEY* key);

// A fresh key pair from OpenSSL's CSPRNG. Fails (key_error) only if OpenSSL does.
result<pkey_ptr> generate_key(key_type type);

// The private key as unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"). The caller
// stores it with mode 0600; the PEM text is kept in a secret so it is never logged.
result<secret> private_key_pem(const EVP_PKEY* key);

// Reads an unencrypted PEM private key (PKCS#8, or traditional "BEGIN EC/RSA PRIVATE
// KEY"). Errors: key_error with diag.client_message saying what is wrong: not PEM,
// encrypted, unreadable (OpenSSL's reason), unsupported type or curve, RSA under 2048 bits.
result<pkey_ptr> read_private_key_pem(std::string_view pem, diagnostics& diag);

}  // namespace latchkey
