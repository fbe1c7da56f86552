// A provider's JWKS and the tokens checked against it: parse_jwks, parse_jws, the
// unverified claim readers, verify_jws and verify_id_token. Input: "<JWKS>\n<token>".
#include "fuzz_support.hpp"

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/jwt_verify.hpp>

#include <openssl/err.h>

using namespace latchkey;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto [jwks_text, token] = fuzz::split(fuzz::as_text(data, size));
    diagnostics d;
    (void)decode_jwt_claims_unverified(token);
    (void)jwt_header_unverified(token);
    auto parsed = parse_jws(token, d);
    fuzz::check_printable(d);
    auto set = parse_jwks(jwks_text, d);
    fuzz::check_printable(d);
    if (!set) return 0;
    fuzz::require(set->keys.size() <= max_jwks_keys, "key cap");
    fuzz::require(set->keys_built() == 0, "parsing built a key");
    // Why a key was left out is shown when a token names it: the IdP's text is escaped.
    for (const auto& refused : set->refused)
        fuzz::require(fuzz::terminal_safe(refused.second), "raw IdP text in a refusal reason");
    id_token_checks k;
    k.issuer = "https://idp.example";
    k.client_id = "latch-cli";
    k.now = fuzz::fuzz_now;
    diagnostics v;
    (void)verify_id_token(token, *set, k, v);
    fuzz::check_printable(v);
    (void)needs_jwks_refetch(token, *set);
    // Without a kid at most a few keys are tried; with one, only the keys carrying it.
    fuzz::require(set->keys_built() <= set->keys.size(), "built more keys than listed");
    fuzz::require(ERR_peek_error() == 0, "OpenSSL error queue left non-empty");
    return 0;
}
