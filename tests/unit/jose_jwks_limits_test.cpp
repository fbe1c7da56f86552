// Issue 18 #2: a hostile JWKS cannot make latch build hundreds of keys. Keys are selected
// by kid/type/alg from the metadata first and built only when used; count, modulus size
// and document size are capped. Asserted on the number of keys built, not on time.
#include "jose_test_support.hpp"

#include <openssl/rand.h>

#include <chrono>

using namespace jose_test;

namespace {

// `count` entries of the same public RSA key under kids k0, k1, ... (each would cost a
// build if parsed eagerly), plus whatever `extra` holds.
std::string many_keys(std::size_t count, const std::string& extra = {}) {
    auto one = public_jwk(shared_key(key_type::rsa_2048), "x");
    REQUIRE(one.has_value());
    json::array arr;
    for (std::size_t i = 0; i < count; ++i) {
        json::object k = *one;
        k["kid"] = "k" + std::to_string(i);
        arr.push_back(std::move(k));
    }
    std::string doc = json::serialize(json::object{{"keys", std::move(arr)}});
    if (!extra.empty()) doc.insert(doc.size() - 2, "," + extra);
    return doc;
}

// A syntactically plausible RSA JWK whose modulus has `bits` bits (random, never a key).
std::string big_rsa_entry(int bits, const std::string& kid) {
    std::string n(static_cast<std::size_t>(bits / 8), '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(n.data()), static_cast<int>(n.size()));
    n[0] = static_cast<char>(0x80 | n[0]);
    n.back() = static_cast<char>(n.back() | 1);
    return R"({"kty":"RSA","kid":")" + kid + R"(","e":"AQAB","n":")" + base64url_encode(n) + R"("})";
}

}  // namespace

TEST_CASE("JWKS: parsing builds no key; a token naming a kid builds exactly that one",
          "[unit][hardening][jose]") {
    diagnostics diag;
    auto set = parse_jwks(many_keys(90), diag);
    REQUIRE(set.has_value());
    CHECK(set->keys.size() == 90);
    CHECK(set->keys_built() == 0);

    auto token = sign(shared_key(key_type::rsa_2048), "k57", good_claims());
    auto v = verify_jws(token, *set, diag);
    INFO(diag.client_message);
    CHECK(v.has_value());
    CHECK(set->keys_built() == 1);
    CHECK(verify_jws(token, *set, diag).has_value());  // built once, reused
    CHECK(set->keys_built() == 1);
    CHECK_FALSE(needs_jwks_refetch(token, *set));
    CHECK(set->keys_built() == 1);
}

TEST_CASE("JWKS: a token without kid tries only a few keys", "[unit][hardening][jose]") {
    diagnostics diag;
    auto set = parse_jwks(many_keys(90), diag);
    REQUIRE(set.has_value());
    auto forged = sign(shared_key(key_type::rsa_2048), "", good_claims());
    forged = with_part(forged, 2, base64url_encode(std::string(256, 'x')));  // never verifies
    CHECK_FALSE(verify_jws(forged, *set, diag).has_value());
    CHECK(set->keys_built() <= 4);
}

TEST_CASE("JWKS: more than 100 entries, moduli over 8192 bits and huge documents are capped",
          "[unit][hardening][jose]") {
    diagnostics diag;
    auto set = parse_jwks(many_keys(150), diag);
    REQUIRE(set.has_value());
    CHECK(set->keys.size() == max_jwks_keys);
    CHECK(set->skipped == 50);

    std::string huge;
    for (int i = 0; i < 3; ++i) huge += (i ? "," : "") + big_rsa_entry(16384, "big" + std::to_string(i));
    auto big = parse_jwks(many_keys(1, huge + "," + big_rsa_entry(8192, "ok8192")), diag);
    REQUIRE(big.has_value());
    CHECK(big->keys.size() == 2);  // k0 and the 8192-bit one; the 16384-bit ones are skipped
    CHECK(big->skipped == 3);
    CHECK(big->keys_built() == 0);
    auto token = sign(shared_key(key_type::rsa_2048), "big1", good_claims());
    CHECK(verify_jws(token, *big, diag).error() == jose_errc::key_mismatch);
    CHECK(diag.client_message ==
          "signing key 'big1' in the provider's JWKS is refused: a 16384-bit RSA key; latch "
          "accepts 2048 to 8192 bits");
    CHECK_FALSE(needs_jwks_refetch(token, *big));  // a refused key is no reason to refetch
    CHECK(big->keys_built() == 0);

    std::string padding(max_jwks_size, ' ');
    CHECK(parse_jwks(R"({"keys":[]})" + padding, diag).error() == client_errc::response_too_large);
}

TEST_CASE("JWKS: an entry that does not make a valid key fails the token naming it",
          "[unit][hardening][jose]") {
    diagnostics diag;
    // A 2048-bit even modulus: decodes with the right size, but is no RSA key.
    std::string bogus = big_rsa_entry(2048, "bad");
    auto set = parse_jwks(many_keys(1, bogus), diag);
    REQUIRE(set.has_value());
    REQUIRE(set->keys.size() == 2);
    auto token = sign(shared_key(key_type::rsa_2048), "bad", good_claims());
    CHECK_FALSE(verify_jws(token, *set, diag).has_value());
    CHECK(set->keys_built() == 1);
}

TEST_CASE("JWKS: 350 entries, most of them 8192-bit: the named key verifies, no other is built",
          "[unit][hardening][jose]") {
    // The shape of the audit's attack (350 large keys), under the size cap: 300 random
    // 8192-bit moduli around 50 entries of the real key.
    std::string large;
    for (int i = 0; i < 300; ++i)
        large += (i ? "," : "") + big_rsa_entry(8192, "big" + std::to_string(i));
    const std::string doc = many_keys(50, large);
    REQUIRE(doc.size() < max_jwks_size);
    const auto started = std::chrono::steady_clock::now();
    diagnostics diag;
    auto set = parse_jwks(doc, diag);
    REQUIRE(set.has_value());
    CHECK(set->keys.size() == max_jwks_keys);  // 50 real + the first 50 large ones
    CHECK(set->skipped == 250);
    auto token = sign(shared_key(key_type::rsa_2048), "k42", good_claims());
    auto v = verify_jws(token, *set, diag);
    INFO(diag.client_message);
    CHECK(v.has_value());
    CHECK(set->keys_built() == 1);
    // A bound, not a benchmark: building all 350 took minutes (issue 18 #2).
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{5});

    // A kid past the first 100 entries: refused with the reason, nothing built.
    auto late = sign(shared_key(key_type::rsa_2048), "big299", good_claims());
    CHECK(verify_jws(late, *set, diag).error() == jose_errc::key_mismatch);
    CHECK(diag.client_message.find("past the first 100 keys") != std::string::npos);
    CHECK(set->keys_built() == 1);
}

TEST_CASE("JWKS: a refused key's reason is escaped", "[unit][hardening][jose]") {
    diagnostics diag;
    auto set = parse_jwks(many_keys(1, R"({"kty":"oct\u001b[31m","kid":"sym","k":"AAAA"})"), diag);
    REQUIRE(set.has_value());
    auto token = sign(shared_key(key_type::rsa_2048), "sym", good_claims());
    CHECK(verify_jws(token, *set, diag).error() == jose_errc::key_mismatch);
    CHECK(diag.client_message.find('\x1b') == std::string::npos);
    CHECK(diag.client_message.find("kty 'oct\\x1b[31m'") != std::string::npos);
}
