// Signing: JWT header and RFC 7523 client assertions (private_key_jwt).
#include "jose_test_support.hpp"

#include <latchkey/core/jwt.hpp>

#include <boost/json/parse.hpp>

#include <set>

using namespace jose_test;

TEST_CASE("sign_jwt picks the alg from the key and puts the kid in the header", "[unit][jose]") {
    auto token = sign(shared_key(key_type::rsa_2048), "rsa-1", good_claims());
    auto header = json::parse(*jwt_header_unverified(token)).as_object();
    CHECK(header.at("alg") == "RS256");
    CHECK(header.at("typ") == "JWT");
    CHECK(header.at("kid") == "rsa-1");
    auto no_kid = json::parse(*jwt_header_unverified(sign(shared_key(key_type::ec_p256), "", {})));
    CHECK(no_kid.as_object().at("alg") == "ES256");
    CHECK_FALSE(no_kid.as_object().contains("kid"));

    // A public-only key cannot sign.
    auto pub = jwks_of({{shared_key(key_type::ec_p256), "p"}});
    CHECK(sign_jwt(const_cast<EVP_PKEY*>(pub.keys[0].key()), "p", good_claims()).error() == client_errc::key_error);
    CHECK(sign_jwt(nullptr, "p", good_claims()).error() == client_errc::key_error);
}

TEST_CASE("client assertions carry the RFC 7523 claims and a fresh jti each time", "[unit][jose]") {
    EVP_PKEY* key = shared_key(key_type::ec_p256);
    auto jwks = jwks_of({{key, "m1"}});
    auto now = at(t0);
    std::set<std::string> jtis;
    for (int i = 0; i < 1000; ++i) {
        auto a = make_client_assertion(key, "m1", "robot-7", "https://idp.example/token", now);
        REQUIRE(a);
        diagnostics diag;
        auto v = verify_jws(a->reveal(), jwks, diag);
        REQUIRE(v);
        const auto& c = *v->claims;
        if (i == 0) {
            CHECK(v->alg == "ES256");
            CHECK(v->kid == "m1");
            CHECK(c.at("iss") == "robot-7");
            CHECK(c.at("sub") == "robot-7");
            CHECK(c.at("aud") == "https://idp.example/token");
            CHECK(c.at("iat").as_int64() == t0);
            CHECK(c.at("exp").as_int64() - c.at("iat").as_int64() == 60);
            CHECK(c.at("jti").as_string().size() >= 22);  // 16 random bytes
        }
        jtis.insert(std::string(c.at("jti").as_string()));
    }
    CHECK(jtis.size() == 1000);

    auto longer = make_client_assertion(shared_key(key_type::rsa_2048), "r", "robot-7", "aud", now,
                                        std::chrono::seconds{300});
    REQUIRE(longer);
    auto claims = decode_jwt_claims_unverified(longer->reveal());
    CHECK(claims->at("exp").as_int64() == t0 + 300);
    CHECK(longer->redacted().size() < 20);  // printing it never shows the credential
}
