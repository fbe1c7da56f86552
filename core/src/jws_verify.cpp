// JWS signature verification against a JWKS (RFC 7515 §5.2, RFC 7518 §3, RFC 8037 §3.1).
#include <latchkey/core/jwt_verify.hpp>

#include "jose_internal.hpp"

#include <openssl/evp.h>

#include <vector>

namespace latchkey {
namespace {

// The key type each accepted alg needs. Anything else, `none` first, is refused: a
// token's header never gets to choose an algorithm we did not plan for.
key_kind kind_for_alg(std::string_view alg) noexcept {
    if (alg == "RS256") return key_kind::rsa;
    if (alg == "ES256") return key_kind::ec_p256;
    if (alg == "EdDSA") return key_kind::ed25519;
    return key_kind::unsupported;
}

error_code fail(diagnostics& diag, jose_errc e, std::string message) {
    diag.client_message = std::move(message);
    return e;
}

std::string quoted(std::string_view untrusted) { return "'" + escape_untrusted(untrusted, 80) + "'"; }

// A token without a kid is tried against at most this many keys of its type: each try
// may build a key, and a provider that signs without kid publishes one or two.
constexpr std::size_t max_keys_without_kid = 4;

std::string describe_kind(key_kind k) {
    switch (k) {
    case key_kind::rsa: return "RSA";
    case key_kind::ec_p256: return "EC P-256";
    case key_kind::ed25519: return "Ed25519";
    case key_kind::unsupported: break;
    }
    return "unsupported";
}

// The JWKS entries that may have signed `t`, or why there are none. Only metadata is
// read (kid, key type, alg): no key is built here.
error_code select_keys(const jws& t, const jwk_set& jwks, std::vector<const jwk_entry*>& out,
                       diagnostics& diag) {
    if (t.alg == "none")
        return fail(diag, jose_errc::unsupported_alg, "alg 'none' (an unsigned token) is not accepted");
    key_kind wanted = kind_for_alg(t.alg);
    if (wanted == key_kind::unsupported)
        return fail(diag, jose_errc::unsupported_alg,
                    "alg " + quoted(t.alg) + " is not supported (RS256, ES256, EdDSA are)");
    const jwk_entry* mismatched = nullptr;
    for (const jwk_entry& k : jwks.keys) {
        if (!t.kid.empty() && k.kid != t.kid) continue;
        if (k.kind != wanted || (!k.alg.empty() && k.alg != t.alg)) {
            mismatched = &k;
            continue;
        }
        if (t.kid.empty() && out.size() >= max_keys_without_kid) break;
        out.push_back(&k);
    }
    if (!out.empty()) return {};
    if (mismatched && !t.kid.empty())
        return fail(diag, jose_errc::key_mismatch,
                    "key " + quoted(t.kid) + " is " + describe_kind(mismatched->kind) +
                        (mismatched->alg.empty() ? "" : " for " + quoted(mismatched->alg)) +
                        " but the token says alg " + quoted(t.alg));
    // A key we left out (too large, past the count cap...): say why, and no refetch.
    if (const std::string* why = t.kid.empty() ? nullptr : jwks.refusal(t.kid))
        return fail(diag, jose_errc::key_mismatch,
                    "signing key " + quoted(t.kid) + " in the provider's JWKS is refused: " + *why);
    if (!t.kid.empty())
        return fail(diag, jose_errc::unknown_kid,
                    "signing key " + quoted(t.kid) + " is not in the provider's JWKS");
    return fail(diag, jose_errc::unknown_kid,
                "the token names no key (kid) and the provider's JWKS has no " +
                    std::string(jws_alg_for(wanted)) + " key");
}

bool signature_verifies(EVP_PKEY* key, std::string_view alg, std::string_view input,
                        std::string_view sig) {
    std::string der;
    const EVP_MD* md = EVP_sha256();
    if (alg == "ES256") {
        auto converted = detail::ecdsa_raw_to_der(sig);  // RFC 7518 §3.4: exactly 64 bytes
        if (!converted) return false;
        der = std::move(*converted);
        sig = der;
    } else if (alg == "EdDSA") {
        md = nullptr;  // Ed25519 hashes internally (one-shot EVP_DigestVerify only)
    }
    detail::md_ctx_ptr ctx(EVP_MD_CTX_new());
    bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) == 1 &&
              EVP_DigestVerify(ctx.get(), detail::bytes(sig), sig.size(), detail::bytes(input),
                               input.size()) == 1;
    if (!ok) detail::take_openssl_error();
    return ok;
}

}  // namespace

result<jws> verify_jws(std::string_view token, const jwk_set& jwks, diagnostics& diag) {
    auto t = parse_jws(token, diag);
    if (!t) return t.error();
    std::vector<const jwk_entry*> keys;
    if (auto ec = select_keys(*t, jwks, keys, diag)) return ec;
    // Normally one key; several only when the token has no kid and the JWKS several keys
    // of the type, all of them the provider's. Each is built here, on first use.
    bool any_valid = false;
    for (const jwk_entry* k : keys) {
        EVP_PKEY* key = const_cast<EVP_PKEY*>(k->key());  // EVP verification takes non-const
        if (!key) continue;
        any_valid = true;
        if (signature_verifies(key, t->alg, t->signing_input, t->signature)) return t;
    }
    if (!any_valid)
        return fail(diag, jose_errc::key_mismatch,
                    "the provider's JWKS entry for this token is not a valid public key");
    return fail(diag, jose_errc::bad_signature, "signature does not verify");
}

bool needs_jwks_refetch(std::string_view token, const jwk_set& jwks) {
    diagnostics diag;
    auto t = parse_jws(token, diag);
    if (!t) return false;
    std::vector<const jwk_entry*> keys;
    return select_keys(*t, jwks, keys, diag) == jose_errc::unknown_kid;
}

}  // namespace latchkey
