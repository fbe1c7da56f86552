// latch-idp two-factor, the pure part: RFC 4226/6238 vectors, the replay verdict, base32,
// the otpauth URI, backup codes, sealing the key at rest.
#include <latchkey/flows/server/sealed.hpp>
#include <latchkey/flows/server/totp.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace latchkey::flows::server;

namespace {
const std::string rfc_key = "12345678901234567890";  // RFC 4226 Appendix D / RFC 6238 Appendix B (SHA-1)
}

TEST_CASE("HOTP: the RFC 4226 Appendix D vectors", "[unit][server][totp]") {
    const char* expected[] = {"755224", "287082", "359152", "969429", "338314",
                              "254676", "287922", "162583", "399871", "520489"};
    for (std::uint64_t i = 0; i < 10; ++i) CHECK(hotp(rfc_key, i, 6) == expected[i]);
}

TEST_CASE("TOTP: the RFC 6238 Appendix B SHA-1 vectors (8 digits)", "[unit][server][totp]") {
    const totp_params eight{8, 30, 0};
    const std::pair<std::int64_t, const char*> vectors[] = {{59, "94287082"},         {1111111109, "07081804"},
                                                            {1111111111, "14050471"}, {1234567890, "89005924"},
                                                            {2000000000, "69279037"}, {20000000000, "65353130"}};
    for (auto [t, code] : vectors) {
        auto m = check_totp(rfc_key, code, t, -1, eight);
        CHECK(m.verdict == totp_verdict::accepted);
        CHECK(m.step == t / 30);
    }
}

TEST_CASE("TOTP: ±1 step accepted, 2 steps off refused, a used step (or older) refused", "[unit][server][totp]") {
    const std::int64_t now = 1796010300;  // step 59867010
    const std::int64_t step = now / 30;
    const auto code_at = [&](std::int64_t s) { return hotp(rfc_key, static_cast<std::uint64_t>(s)); };
    CHECK(check_totp(rfc_key, code_at(step), now, -1).verdict == totp_verdict::accepted);
    CHECK(check_totp(rfc_key, code_at(step - 1), now, -1).step == step - 1);
    CHECK(check_totp(rfc_key, code_at(step + 1), now, -1).verdict == totp_verdict::accepted);
    CHECK(check_totp(rfc_key, code_at(step - 2), now, -1).verdict == totp_verdict::wrong);
    CHECK(check_totp(rfc_key, code_at(step + 2), now, -1).verdict == totp_verdict::wrong);
    // After step was used: the same code and the previous step's code are replays.
    CHECK(check_totp(rfc_key, code_at(step), now, step).verdict == totp_verdict::replayed);
    CHECK(check_totp(rfc_key, code_at(step - 1), now, step).verdict == totp_verdict::replayed);
    CHECK(check_totp(rfc_key, code_at(step + 1), now, step).verdict == totp_verdict::accepted);
    CHECK(check_totp(rfc_key, "12345", now, -1).verdict == totp_verdict::malformed);
    CHECK(check_totp(rfc_key, "12345a", now, -1).verdict == totp_verdict::malformed);
    CHECK(check_totp(rfc_key, "", now, -1).verdict == totp_verdict::malformed);
}

TEST_CASE("base32: RFC 4648 vectors without padding, decoder tolerant of case and padding", "[unit][server][totp]") {
    CHECK(base32_encode("") == "");
    CHECK(base32_encode("f") == "MY");
    CHECK(base32_encode("foobar") == "MZXW6YTBOI");
    CHECK(base32_encode(rfc_key) == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    CHECK(base32_decode("mzxw6ytboi======") == std::optional<std::string>("foobar"));
    CHECK(base32_decode("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ") == std::optional<std::string>(rfc_key));
    CHECK_FALSE(base32_decode("MZ1W").has_value());
    const auto key = make_totp_key();
    CHECK(key.reveal().size() == 20);
    CHECK(base32_decode(base32_encode(key.reveal())) == std::optional<std::string>(key.reveal()));
}

TEST_CASE("otpauth URI: issuer and account percent-encoded, the authenticator parameters", "[unit][server][totp]") {
    CHECK(otpauth_uri("latch idp", "alice@example.com", "foobar") ==
          "otpauth://totp/latch%20idp:alice%40example.com?secret=MZXW6YTBOI&issuer=latch%20idp"
          "&algorithm=SHA1&digits=6&period=30");
}

TEST_CASE("backup codes: 10 distinct XXXXX-XXXXX codes; canonical form for look-up", "[unit][server][totp]") {
    const auto codes = make_backup_codes();
    REQUIRE(codes.size() == 10);
    std::set<std::string> seen;
    for (const auto& c : codes) {
        const auto& v = c.reveal();
        REQUIRE(v.size() == 11);
        CHECK(v[5] == '-');
        auto canon = canonical_backup_code(v);
        REQUIRE(canon.has_value());
        CHECK(canon->size() == 10);
        seen.insert(*canon);
    }
    CHECK(seen.size() == 10);
    CHECK(canonical_backup_code("abcde-fghjk") == std::optional<std::string>("ABCDEFGHJK"));
    CHECK_FALSE(canonical_backup_code("ABCDE-FGHI0").has_value());  // I and 0 are not in the alphabet
    CHECK_FALSE(canonical_backup_code("ABCDE").has_value());
    CHECK_FALSE(canonical_backup_code("' OR 1=1 --").has_value());
}

TEST_CASE("sealed secrets: round trip; a wrong key, context or a flipped byte does not open", "[unit][server][totp]") {
    const std::string key(32, 'k'), other(32, 'o');
    const auto sealed = seal(key, "totp key bytes", "totp:user-1");
    REQUIRE_FALSE(sealed.empty());
    CHECK(sealed.find("totp key") == std::string::npos);
    auto opened = unseal(key, sealed, "totp:user-1");
    REQUIRE(opened.has_value());
    CHECK(opened->reveal() == "totp key bytes");
    CHECK_FALSE(unseal(other, sealed, "totp:user-1").has_value());
    CHECK_FALSE(unseal(key, sealed, "totp:user-2").has_value());
    auto flipped = sealed;
    flipped[20] = flipped[20] == 'A' ? 'B' : 'A';
    CHECK_FALSE(unseal(key, flipped, "totp:user-1").has_value());
    CHECK_FALSE(unseal(key, "short", "totp:user-1").has_value());
    CHECK(seal(key, "x", "c") != seal(key, "x", "c"));  // a fresh nonce each time
}
