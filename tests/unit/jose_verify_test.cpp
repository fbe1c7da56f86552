// JWS signatures: our signer against our verifier, and tokens from other implementations.
#include "jose_test_support.hpp"

using namespace jose_test;

namespace {

// Signed with Python `cryptography` 48 (ES256 as raw r||s, RS256 PKCS#1 v1.5): checks our
// DER <-> r||s conversion and key import against an independent implementation.
constexpr const char* python_jwks =
    R"({"keys":[{"kty":"EC","crv":"P-256","kid":"py-ec","use":"sig","x":"NI9PrlXI69_61lfr-3t6ShXotr3kIUHEn5m-fDHz_NA","y":"b3rXYZ6whrCpxicZqFJ01acMWjMxQTdZEkLCNEYgl7k"},)"
    R"({"kty":"RSA","kid":"py-rsa","alg":"RS256","use":"sig","n":"4HLM_xbK5d_wWfke7u0l8bV3RhQYCXUPKKJHVOKaA9YWnDr4ARI2BhlbNjfVE1VHqlenhs6MAPU7yWgNBGMT0WLTQWkB1jhHNH0eavIqZ5ShfPjZxcKzR6Cvp0hySafGQKZ3sOrRj5_MXN7ycciiqaL6Dj_WASkBJ4WQuna2DNGeo2cbJjfyfzpZ8I3m04cSmY-ieVGzFh0b56gw_EW39gH9wNLSsekyw6SObTVCTLEGgxtDgBPokHxznW4VJhsX2yIJ181IGCukyCEpgrdXndTeMXAoR4fN-4D9zewOD1BjEleqj5x5GCMNTu8pLp2z2GGUl79f1vwbxmZ7cepQtQ","e":"AQAB"}]})";
constexpr const char* python_es256 =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6InB5LWVjIiwidHlwIjoiSldUIn0."
    "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJsYXRjaC1jbGkiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDYwMH0."
    "DfvMYsnd6qsa3vZJJtIXuLnyQjnUu7c4jiW7BPRiFIoskDQjN9x1Q0Cpi35jVj2dkkDuujv_cxP5U1uYqHc0Og";
constexpr const char* python_rs256 =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InB5LXJzYSIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJsYXRjaC1jbGkiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMDYwMH0."
    "fIpP-O4_vAg2XMBEnv0FaEbZf3nuGAYHMNg4r_xYlmRzUHTbJGKbwzHm02eL3dCcQMlNKSCTHTPUtp3Tn-8vqwW76ju_L9fI8yssuqFd8zHTiHnqujfVAxTcFmxbRRYNdfJAc0LP5Nw7tRrAIHp7muFHCh91k4G6aNn2SoV1jUrdSBrtUOgj76j0VOC_gWcOdSu2BWg6wKm9GCRGdaTMQUjkoFgL645mvOzHaacGf8Cae0KJR5vFMfC1cVQZQ5oFgvpLVYK_pJERp3zx4Uh3Q4iLb9mPTZ59kP5ARHI1C4hpgR60AyZXLOsnAy1UChl7khWYKWhOqrq9EFynnXpn-Q";

jwk_set parse(const char* doc) {
    diagnostics diag;
    auto set = parse_jwks(doc, diag);
    REQUIRE(set);
    return std::move(*set);
}

std::string refusal(std::string_view token, const jwk_set& jwks, jose_errc expected) {
    diagnostics diag;
    auto r = verify_jws(token, jwks, diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == expected);
    return diag.client_message;
}

}  // namespace

TEST_CASE("tokens we sign verify, for ES256, RS256 and EdDSA", "[unit][jose]") {
    auto type = GENERATE(key_type::ec_p256, key_type::rsa_2048, key_type::ed25519);
    EVP_PKEY* key = shared_key(type);
    auto jwks = jwks_of({{key, "k1"}});
    auto token = sign(key, "k1", good_claims());
    diagnostics diag;
    auto v = verify_jws(token, jwks, diag);
    INFO(diag.client_message);
    REQUIRE(v);
    CHECK(v->alg == jws_alg_for(kind_of(key)));
    CHECK(v->kid == "k1");
    CHECK(v->header.at("typ") == "JWT");
    REQUIRE(v->claims);
    CHECK(v->claims->at("sub") == "alice");
    if (type == key_type::ec_p256) CHECK(v->signature.size() == 64);  // raw r||s, not DER
}

TEST_CASE("tokens signed by another implementation verify", "[unit][jose]") {
    auto jwks = parse(python_jwks);
    diagnostics diag;
    CHECK(verify_jws(python_es256, jwks, diag));
    CHECK(verify_jws(python_rs256, jwks, diag));
    // RFC 8037 Appendix A.4: Ed25519 over a non-JSON payload.
    auto ed = parse(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]})");
    auto v = verify_jws("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
                        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
                        ed, diag);
    REQUIRE(v);
    CHECK(v->payload == "Example of Ed25519 signing");
    CHECK_FALSE(v->claims);
}

TEST_CASE("a tampered payload or signature is refused naming the signature", "[unit][jose]") {
    auto jwks = parse(python_jwks);
    auto evil = good_claims();
    evil["sub"] = "mallory";
    auto forged_payload = with_part(python_es256, 1, base64url_encode(json::serialize(evil)));
    CHECK(refusal(forged_payload, jwks, jose_errc::bad_signature) == "signature does not verify");

    std::string flipped = python_rs256;
    flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
    CHECK(refusal(flipped, jwks, jose_errc::bad_signature) == "signature does not verify");
    // An ES256 signature in DER (what OpenSSL emits) is not a JOSE signature.
    CHECK(refusal(with_part(python_es256, 2, base64url_encode(std::string(70, '\x30'))), jwks,
                  jose_errc::bad_signature) == "signature does not verify");
    CHECK(refusal(with_part(python_es256, 2, ""), jwks, jose_errc::bad_signature) ==
          "signature does not verify");
}

TEST_CASE("alg none, HMAC and unknown algs are refused before any key is used", "[unit][jose]") {
    auto jwks = parse(python_jwks);
    auto payload = base64url_encode(json::serialize(good_claims()));
    auto none = base64url_encode(R"({"alg":"none"})") + "." + payload + ".";
    CHECK(refusal(none, jwks, jose_errc::unsupported_alg) == "alg 'none' (an unsigned token) is not accepted");
    // HS256 "signed" with the RSA public key as the HMAC secret: the classic confusion.
    auto hs = with_part(python_rs256, 0, base64url_encode(R"({"alg":"HS256","kid":"py-rsa"})"));
    CHECK(refusal(hs, jwks, jose_errc::unsupported_alg) == "alg 'HS256' is not supported (RS256, ES256, EdDSA are)");
    auto ps = with_part(python_rs256, 0, base64url_encode(R"({"alg":"PS256","kid":"py-rsa"})"));
    CHECK(refusal(ps, jwks, jose_errc::unsupported_alg).find("'PS256'") != std::string::npos);
}

TEST_CASE("the key is chosen by kid and must fit the alg", "[unit][jose]") {
    auto jwks = parse(python_jwks);
    auto unknown = with_part(python_es256, 0, base64url_encode(R"({"alg":"ES256","kid":"rotated"})"));
    CHECK(refusal(unknown, jwks, jose_errc::unknown_kid) == "signing key 'rotated' is not in the provider's JWKS");
    CHECK(needs_jwks_refetch(unknown, jwks));
    CHECK_FALSE(needs_jwks_refetch(python_es256, jwks));
    CHECK_FALSE(needs_jwks_refetch("garbage", jwks));

    // ES256 header pointing at the RSA key.
    auto mismatch = with_part(python_es256, 0, base64url_encode(R"({"alg":"ES256","kid":"py-rsa"})"));
    CHECK(refusal(mismatch, jwks, jose_errc::key_mismatch) ==
          "key 'py-rsa' is RSA for 'RS256' but the token says alg 'ES256'");
    CHECK_FALSE(needs_jwks_refetch(mismatch, jwks));

    // No kid: the only key of the right type is used; none of the type means refetch.
    auto no_kid = with_part(python_es256, 0, base64url_encode(R"({"alg":"ES256"})"));
    auto resigned = sign(shared_key(key_type::ec_p256), "", good_claims());
    auto ours = jwks_of({{shared_key(key_type::ec_p256), "a"}, {shared_key(key_type::rsa_2048), "b"}});
    diagnostics diag;
    CHECK(verify_jws(resigned, ours, diag));
    CHECK(refusal(no_kid, ours, jose_errc::bad_signature) == "signature does not verify");
    auto rsa_only = jwks_of({{shared_key(key_type::rsa_2048), "b"}});
    CHECK(refusal(resigned, rsa_only, jose_errc::unknown_kid) ==
          "the token names no key (kid) and the provider's JWKS has no ES256 key");
    CHECK(needs_jwks_refetch(resigned, rsa_only));
}

TEST_CASE("malformed tokens are refused as malformed", "[unit][jose]") {
    auto jwks = parse(python_jwks);
    CHECK(refusal("", jwks, jose_errc::malformed) == "token is not a compact JWS (three base64url parts)");
    CHECK(refusal("a.b", jwks, jose_errc::malformed) == "token is not a compact JWS (three base64url parts)");
    CHECK(refusal("a.b.c.d.e", jwks, jose_errc::malformed) == "token is not a compact JWS (three base64url parts)");
    CHECK(refusal("e30.e30.%%", jwks, jose_errc::malformed) == "token has a part that is not base64url");
    CHECK(refusal(base64url_encode("[]") + ".e30.c2ln", jwks, jose_errc::malformed) ==
          "token header is not a JSON object");
    CHECK(refusal("e30.e30.c2ln", jwks, jose_errc::malformed) == "token header has no \"alg\"");
    auto crit = with_part(python_es256, 0, base64url_encode(R"({"alg":"ES256","kid":"py-ec","crit":["exp"]})"));
    CHECK(refusal(crit, jwks, jose_errc::malformed).find("crit") != std::string::npos);
}

TEST_CASE("failures leave OpenSSL's error queue empty for the TLS code that runs next", "[unit][jose]") {
    ERR_clear_error();
    auto jwks = parse(python_jwks);
    diagnostics diag;
    std::string flipped = python_rs256;
    flipped[flipped.size() - 5] = flipped[flipped.size() - 5] == 'A' ? 'B' : 'A';
    CHECK_FALSE(verify_jws(flipped, jwks, diag).has_value());
    CHECK_FALSE(verify_jws(with_part(python_es256, 2, base64url_encode("x")), jwks, diag).has_value());
    CHECK_FALSE(read_private_key_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", diag)
                    .has_value());
    // An off-curve point is found out when the key is first built (lazily), not parsed.
    auto off_curve = parse_jwks(R"({"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",)"
                                R"("y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyA"}]})", diag);
    REQUIRE(off_curve->keys.size() == 1);
    CHECK(off_curve->keys[0].key() == nullptr);
    auto pub = jwks_of({{shared_key(key_type::ed25519), "p"}});
    CHECK_FALSE(sign_jwt(const_cast<EVP_PKEY*>(pub.keys[0].key()), "p", good_claims()).has_value());
    auto pem = private_key_pem(shared_key(key_type::ec_p256));
    CHECK(read_private_key_pem(pem->reveal(), diag).has_value());
    CHECK(ERR_peek_error() == 0);
}
