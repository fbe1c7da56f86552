#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/random.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace latchkey;

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

TEST_CASE("base64url round-trips every byte value and rejects what JOSE forbids", "[unit][jose]") {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t len = 0; len <= all.size(); len += 37) {
        auto enc = base64url_encode(all.substr(0, len));
        CHECK(enc.find_first_of("+/=") == std::string::npos);
        auto dec = base64url_decode(enc);
        REQUIRE(dec);
        CHECK(*dec == all.substr(0, len));
    }
    CHECK(*base64url_decode("AP8") == std::string("\x00\xff", 2));
    for (const char* bad : {"ab cd", "ab.c", "ab\ncd", "a=bc", "ab%2F", "\xc3\xa9t\xc3\xa9", "A"})
        CHECK_FALSE(base64url_decode(bad));
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

TEST_CASE("JWT claims decode unverified only from a three-part token with an object payload",
          "[unit][jose]") {
    auto head = base64url_encode(R"({"alg":"RS256"})");
    auto claims = decode_jwt_claims_unverified(head + "." + base64url_encode(R"({"exp":1700000600})") + ".c2ln");
    REQUIRE(claims);
    CHECK(claims->at("exp").as_int64() == 1700000600);
    CHECK_FALSE(decode_jwt_claims_unverified(head + "." + base64url_encode("[1,2]") + ".c2ln"));
    CHECK_FALSE(decode_jwt_claims_unverified(head + "." + base64url_encode("{") + ".c2ln"));
    CHECK_FALSE(decode_jwt_claims_unverified(head + ".e30.c2ln.x.y"));  // a JWE has five parts
    CHECK_FALSE(decode_jwt_claims_unverified("opaque-access-token"));
}
