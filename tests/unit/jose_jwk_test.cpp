// JWKS parsing, public JWK export, RFC 7638 thumbprints, key generation and PEM.
#include "jose_test_support.hpp"

#include <boost/json/parse.hpp>

using namespace jose_test;

namespace {

// RFC 7638 §3.1 (also RFC 7517 Appendix A.1's RSA key).
constexpr const char* rfc7638_rsa = R"({"kty":"RSA","kid":"2011-04-29","alg":"RS256",
 "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
 "e":"AQAB"})";
// RFC 7517 Appendix A.1's EC key.
constexpr const char* rfc7517_ec = R"({"kty":"EC","crv":"P-256","use":"sig","kid":"1",
 "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"})";
// RFC 8037 Appendix A.2's Ed25519 public key.
constexpr const char* rfc8037_okp = R"({"kty":"OKP","crv":"Ed25519","kid":"ed",
 "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";

jwk parse_one(const char* text) {
    diagnostics diag;
    auto k = parse_jwk(json::parse(text).as_object(), diag);
    INFO(diag.client_message);
    REQUIRE(k);
    return std::move(*k);
}

}  // namespace

TEST_CASE("a JWKS with RSA, EC and OKP keys parses; unusable keys are skipped", "[unit][jose]") {
    std::string doc = std::string(R"({"keys":[)") + rfc7638_rsa + "," + rfc7517_ec + "," + rfc8037_okp +
                      R"(,{"kty":"oct","k":"c2VjcmV0","kid":"hmac"})"
                      R"(,{"kty":"EC","crv":"P-384","kid":"p384","x":"AA","y":"AA"})"
                      R"(,{"kty":"RSA","use":"enc","kid":"enc","n":"0vx7","e":"AQAB"})"
                      R"(,{"kty":"OKP","crv":"X25519","kid":"x","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})"
                      R"(,{"kty":"RSA","kid":"short","n":"AQAB","e":"AQAB"})"
                      R"(,"not an object"]})";
    diagnostics diag;
    auto set = parse_jwks(doc, diag);
    REQUIRE(set);
    REQUIRE(set->keys.size() == 3);
    CHECK(set->skipped == 6);
    CHECK(set->keys[0].kid == "2011-04-29");
    CHECK(set->keys[0].alg == "RS256");
    CHECK(kind_of(set->keys[0].key()) == key_kind::rsa);
    CHECK(EVP_PKEY_get_bits(set->keys[0].key()) == 2048);
    CHECK(set->keys[1].use == "sig");
    CHECK(kind_of(set->keys[1].key()) == key_kind::ec_p256);
    CHECK(set->keys[2].kty == "OKP");
    CHECK(kind_of(set->keys[2].key()) == key_kind::ed25519);
}

TEST_CASE("JWKS documents that are not a key set are errors, not exceptions", "[unit][jose]") {
    diagnostics diag;
    CHECK(parse_jwks("<html>", diag).error() == client_errc::bad_json);
    CHECK(diag.client_message == "JWKS is not valid JSON");
    CHECK(parse_jwks("[1]", diag).error() == client_errc::bad_json);
    CHECK(parse_jwks(R"({"keys":{}})", diag).error() == client_errc::missing_field);
    CHECK(diag.client_message == "JWKS has no \"keys\" array");
    auto empty = parse_jwks(R"({"keys":[]})", diag);
    REQUIRE(empty);
    CHECK(empty->keys.empty());
}

TEST_CASE("a JWK whose EC point is off the curve or whose members do not decode is refused",
          "[unit][jose]") {
    diagnostics diag;
    auto off_curve = json::parse(rfc7517_ec).as_object();
    off_curve["y"] = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyA";  // last bits changed
    CHECK(parse_jwk(off_curve, diag).error() == client_errc::key_error);
    CHECK(diag.client_message == "JWK: EC key is not a point on P-256");

    auto bad_b64 = json::parse(rfc7517_ec).as_object();
    bad_b64["x"] = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4=+";
    CHECK(parse_jwk(bad_b64, diag).error() == client_errc::key_error);
    CHECK(diag.client_message == "JWK: EC P-256 key needs 32-byte base64url members 'x' and 'y'");

    CHECK(parse_jwk(json::parse(R"({"kty":"oct","k":"AA"})").as_object(), diag).error() ==
          client_errc::key_error);
    CHECK(diag.client_message == "JWK: key type 'oct' is not supported");
}

TEST_CASE("RFC 7638 and RFC 8037 thumbprints", "[unit][jose]") {
    auto rsa = parse_one(rfc7638_rsa);
    CHECK(*jwk_thumbprint(rsa.key.get()) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    auto okp = parse_one(rfc8037_okp);  // RFC 8037 Appendix A.3
    CHECK(*jwk_thumbprint(okp.key.get()) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
}

TEST_CASE("public_jwk exports exactly the members a provider reads back", "[unit][jose]") {
    auto rsa = parse_one(rfc7638_rsa);
    auto j = public_jwk(rsa.key.get(), "2011-04-29");
    REQUIRE(j);
    auto original = json::parse(rfc7638_rsa).as_object();
    CHECK(j->at("n") == original.at("n"));
    CHECK(j->at("e") == "AQAB");
    CHECK(j->at("kty") == "RSA");
    CHECK(j->at("alg") == "RS256");
    CHECK(j->at("use") == "sig");

    auto ec = parse_one(rfc7517_ec);
    auto e = public_jwk(ec.key.get());
    REQUIRE(e);
    auto ec_original = json::parse(rfc7517_ec).as_object();
    CHECK(e->at("x") == ec_original.at("x"));
    CHECK(e->at("y") == ec_original.at("y"));
    CHECK(e->at("crv") == "P-256");
    CHECK(e->at("alg") == "ES256");
    CHECK(e->at("kid").as_string() == *jwk_thumbprint(ec.key.get()));  // default kid
    CHECK_FALSE(e->contains("d"));                         // never the private part

    auto mine = public_jwk(shared_key(key_type::ed25519));
    REQUIRE(mine);
    CHECK(mine->at("kty") == "OKP");
    CHECK(mine->at("alg") == "EdDSA");
    CHECK_FALSE(mine->contains("d"));
}

TEST_CASE("generated keys survive a PEM round trip with their thumbprint", "[unit][jose]") {
    for (auto type : {key_type::ec_p256, key_type::rsa_2048, key_type::ed25519}) {
        EVP_PKEY* key = shared_key(type);
        auto pem = private_key_pem(key);
        REQUIRE(pem);
        CHECK(pem->reveal().rfind("-----BEGIN PRIVATE KEY-----", 0) == 0);
        diagnostics diag;
        auto back = read_private_key_pem(pem->reveal(), diag);
        INFO(diag.client_message);
        REQUIRE(back);
        CHECK(kind_of(back->get()) == kind_of(key));
        CHECK(*jwk_thumbprint(back->get()) == *jwk_thumbprint(key));
    }
    CHECK(kind_of(shared_key(key_type::rsa_2048)) == key_kind::rsa);
    CHECK(EVP_PKEY_get_bits(shared_key(key_type::rsa_2048)) == 2048);
    CHECK(describe_key(shared_key(key_type::ec_p256)) == "EC P-256");
}

TEST_CASE("unreadable private keys are refused with a message saying why", "[unit][jose]") {
    auto refuse = [](std::string_view pem) {
        diagnostics diag;
        auto k = read_private_key_pem(pem, diag);
        CHECK(k.error() == client_errc::key_error);
        return diag.client_message;
    };
    CHECK(refuse("") == "private key is empty");
    CHECK(refuse("just some text") == "private key is not PEM (no '-----BEGIN' line)");
    CHECK(refuse("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIF\n-----END ENCRYPTED PRIVATE KEY-----\n")
              .find("encrypted with a passphrase") != std::string::npos);
    CHECK(refuse("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n") ==
          "PEM holds no private key (is it a public key or a certificate?)");
    CHECK(refuse("-----BEGIN PRIVATE KEY-----\n!!notbase64!!\n-----END PRIVATE KEY-----\n")
              .rfind("private key PEM could not be read: ", 0) == 0);

    // A P-384 key is valid PEM but not a key latchkey signs with.
    pkey_ptr p384(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
    REQUIRE(p384);
    auto pem = private_key_pem(p384.get());
    REQUIRE(pem);
    CHECK(refuse(pem->reveal()) ==
          "private key type EC secp384r1 is not supported (use EC P-256, RSA 2048+ or Ed25519)");
    pkey_ptr rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024)));
    REQUIRE(rsa1024);
    CHECK(refuse(private_key_pem(rsa1024.get())->reveal()) ==
          "RSA private key has 1024 bits; at least 2048 are required");
}
