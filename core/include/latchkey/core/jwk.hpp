// JSON Web Keys (RFC 7517): reading a provider's JWKS, exporting our own public key (for
// Dynamic Client Registration, RFC 7591 `jwks`), and JWK thumbprints (RFC 7638).
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/pkey.hpp>

#include <boost/json/fwd.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace latchkey {

// One usable public key from a JWKS.
struct jwk {
    std::string kid;  // may be empty
    std::string kty;  // "RSA", "EC" or "OKP"
    std::string alg;  // may be empty: any JWS alg that fits the key type
    std::string use;  // may be empty; "enc" keys are never kept
    pkey_ptr key;     // public key, never null
};

namespace detail {
struct lazy_jwk;
}

// A JWKS entry whose metadata fits a key we can use. Parsing the set reads only the
// metadata and the members' sizes; the public key is built (imported and validated by
// OpenSSL, which costs up to tens of milliseconds for a large RSA modulus) the first time
// a token names it, so a hostile JWKS of many large keys costs one build, not hundreds.
struct jwk_entry {
    std::string kid;  // may be empty
    std::string kty;  // "RSA", "EC" or "OKP"
    std::string alg;  // may be empty: any JWS alg that fits the key type
    std::string use;  // empty or "sig"; "enc" entries are never kept
    key_kind kind = key_kind::unsupported;  // from kty/crv, known before any key is built
    std::shared_ptr<detail::lazy_jwk> lazy;

    // The public key, built on the first call (thread-safe; later calls return the same
    // key). Null when the members do not make a valid key (e.g. an EC point off the curve).
    const EVP_PKEY* key() const;
};

// Limits on what a provider's JWKS may cost us (defect: a 1 MiB JWKS of 350 16384-bit RSA
// keys took 107 s to parse). Real providers publish a handful of 2048-4096-bit keys.
inline constexpr std::size_t max_jwks_size = 512 * 1024;  // bytes of JSON
inline constexpr std::size_t max_jwks_keys = 100;         // entries considered
inline constexpr int max_rsa_bits = 8192;

struct jwk_set {
    std::vector<jwk_entry> keys;
    // Keys left out: other types or curves (oct, P-384, X25519...), `"use": "enc"`, members
    // that do not decode, RSA under 2048 or over 8192 bits, entries past max_jwks_keys. A
    // provider may publish keys we cannot use; only the ones we can matter. (A key whose
    // members decode but do not make a valid key is found out when it is first used.)
    std::size_t skipped = 0;
    // Why entries with a kid were left out, by kid ("a 16384-bit RSA key; latch accepts
    // 2048 to 8192 bits"), so a token naming one fails with that reason and no refetch.
    // Only metadata is read for them; they are bounded by max_jwks_size.
    std::vector<std::pair<std::string, std::string>> refused;
    // The reason recorded for `kid`, or null.
    const std::string* refusal(std::string_view kid) const noexcept;

    // How many keys have been built so far, over the set's lifetime.
    std::size_t keys_built() const noexcept;
    std::shared_ptr<std::atomic<std::size_t>> built = std::make_shared<std::atomic<std::size_t>>(0);
};

// The JWS alg a key signs with: "RS256", "ES256", "EdDSA", or "" if unsupported.
std::string_view jws_alg_for(key_kind kind) noexcept;

// Parses a JWKS document ({"keys": [...]}); builds no key. Errors: bad_json (not JSON /
// not an object), missing_field (no "keys" array), response_too_large (over
// max_jwks_size), with diag.client_message. Never throws.
result<jwk_set> parse_jwks(std::string_view json_text, diagnostics& diag);
result<jwk_set> jwks_from_value(const boost::json::value& doc, diagnostics& diag);

// One JWK: RSA (n, e), EC P-256 (crv, x, y), OKP Ed25519 (crv, x). Errors: key_error
// naming the member or the unsupported type.
result<jwk> parse_jwk(const boost::json::object& o, diagnostics& diag);

// The public half of `key` as a JWK with "use": "sig" and its "alg". An empty `kid`
// becomes the RFC 7638 thumbprint. Errors: key_error for unsupported keys.
result<boost::json::object> public_jwk(const EVP_PKEY* key, std::string kid = {});

// RFC 7638: base64url(SHA-256(canonical JSON of the required public members)).
result<std::string> jwk_thumbprint(const EVP_PKEY* key);

}  // namespace latchkey
