#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/pkce.hpp>
#include <latchkey/core/random.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace latchkey;

TEST_CASE("PKCE S256 matches RFC 7636 Appendix B", "[unit][pkce]") {
    CHECK(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
          "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    auto v = make_pkce_verifier();
    CHECK(v.size() == 43);
}

TEST_CASE("base64url round-trips and rejects junk", "[unit][jose]") {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00\x01"}) {
        auto d = base64url_decode(base64url_encode(s));
        REQUIRE(d);
        CHECK(*d == s);
    }
    CHECK(base64url_encode("\xfb\xff") == "-_8");
    CHECK(base64_encode("cli:s3cr%3Aet") == "Y2xpOnMzY3IlM0FldA==");
    CHECK_FALSE(base64url_decode("a+b/"));
    CHECK_FALSE(base64url_decode("abcde"));
}

TEST_CASE("random values are unique and URL-safe", "[unit][jose]") {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) seen.insert(random_urlsafe(16));
    CHECK(seen.size() == 1000);
    for (char c : *seen.begin()) CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
}

TEST_CASE("JWT payloads decode without verification", "[unit][jose]") {
    auto tok = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(R"({"sub":"alice"})") + ".sig";
    CHECK(*jwt_payload_unverified(tok) == R"({"sub":"alice"})");
    CHECK(*jwt_header_unverified(tok) == R"({"alg":"none"})");
    CHECK_FALSE(jwt_payload_unverified("no-dots"));
    CHECK_FALSE(jwt_payload_unverified("a.b"));
}
