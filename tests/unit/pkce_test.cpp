// PKCE S256 (RFC 7636).
#include <latchkey/core/pkce.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace latchkey;

TEST_CASE("PKCE S256 challenge matches RFC 7636 Appendix B", "[unit][pkce]") {
    CHECK(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") ==
          "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST_CASE("make_pkce gives a fresh 43-character verifier and its S256 challenge", "[unit][pkce]") {
    std::set<std::string> verifiers;
    for (int i = 0; i < 100; ++i) {
        auto p = make_pkce();
        CHECK(p.method == "S256");
        REQUIRE(p.verifier.reveal().size() == 43);  // §4.1: 43..128 unreserved characters
        for (char c : p.verifier.reveal())
            CHECK((std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'));
        CHECK(p.challenge == pkce_challenge(p.verifier.reveal()));
        CHECK(p.challenge.size() == 43);
        verifiers.insert(p.verifier.reveal());
    }
    CHECK(verifiers.size() == 100);
}
