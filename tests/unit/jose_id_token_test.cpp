// ID token validation (OIDC Core §3.1.3.7): each check refuses with its own message.
#include "jose_test_support.hpp"

using namespace jose_test;

namespace {

struct fixture {
    EVP_PKEY* key = shared_key(key_type::ec_p256);
    jwk_set jwks = jwks_of({{key, "k1"}});

    result<json::object> verify(const json::object& claims, const id_token_checks& checks,
                                diagnostics& diag) {
        return verify_id_token(sign(key, "k1", claims), jwks, checks, diag);
    }
    // The refusal message for `claims`, checking the error code on the way.
    std::string refusal(const json::object& claims, id_token_checks checks = good_checks(),
                        client_errc expected = client_errc::id_token_invalid) {
        diagnostics diag;
        auto r = verify(claims, checks, diag);
        REQUIRE_FALSE(r);
        CHECK(r.error() == expected);
        return diag.client_message;
    }
};

json::object with(json::object c, std::string_view name, json::value v) {
    c[name] = std::move(v);
    return c;
}
json::object without(json::object c, std::string_view name) {
    c.erase(name);
    return c;
}

}  // namespace

TEST_CASE_METHOD(fixture, "a good ID token yields its claims", "[unit][jose]") {
    diagnostics diag;
    auto claims = verify(good_claims(), good_checks(), diag);
    INFO(diag.client_message);
    REQUIRE(claims);
    CHECK(claims->at("sub") == "alice");
    // Several audiences are fine when azp names us; no nonce sent means none is checked.
    auto multi = with(with(good_claims(), "aud", json::array{"api", "latch-cli"}), "azp", "latch-cli");
    auto checks = good_checks();
    checks.nonce.reset();
    CHECK(verify(without(multi, "nonce"), checks, diag));
}

TEST_CASE_METHOD(fixture, "each failed ID token check is named", "[unit][jose]") {
    CHECK(refusal(with(good_claims(), "aud", "other-app")) ==
          "ID token rejected: audience does not include 'latch-cli'");
    CHECK(refusal(with(good_claims(), "aud", json::array{"a", "b"})) ==
          "ID token rejected: audience does not include 'latch-cli'");
    CHECK(refusal(with(good_claims(), "aud", json::array{"latch-cli", "api"})) ==
          "ID token rejected: several audiences but no authorized party (azp) naming 'latch-cli'");
    CHECK(refusal(with(good_claims(), "azp", "other-app")) ==
          "ID token rejected: authorized party (azp) 'other-app' is not 'latch-cli'");
    CHECK(refusal(with(good_claims(), "iss", "https://evil.example")) ==
          "ID token rejected: issuer 'https://evil.example' is not 'https://idp.example'");
    CHECK(refusal(with(good_claims(), "iss", "https://idp.example/")) ==
          "ID token rejected: issuer 'https://idp.example/' is not 'https://idp.example'");
    CHECK(refusal(without(good_claims(), "iss")) == "ID token rejected: no issuer (iss)");
    CHECK(refusal(without(good_claims(), "sub")) == "ID token rejected: no subject (sub)");
    CHECK(refusal(without(good_claims(), "exp")) == "ID token rejected: no expiry (exp)");
    CHECK(refusal(without(good_claims(), "iat")) == "ID token rejected: no issue time (iat)");
    CHECK(refusal(with(good_claims(), "exp", "soon")) == "ID token rejected: no expiry (exp)");
}

TEST_CASE_METHOD(fixture, "expiry and issue time allow the clock skew and no more", "[unit][jose]") {
    auto checks = good_checks();
    diagnostics diag;
    checks.now = at(t0 + 600 + 119);  // expired 119 s ago: within the 120 s skew
    CHECK(verify(good_claims(), checks, diag));
    checks.now = at(t0 + 600 + 120);
    CHECK(refusal(good_claims(), checks) ==
          "ID token rejected: expired at 2023-11-14T22:23:20Z (now 2023-11-14T22:25:20Z, "
          "allowed clock skew 120 s)");

    checks.now = at(t0 - 120);  // issued 120 s in our future: tolerated
    CHECK(verify(good_claims(), checks, diag));
    checks.now = at(t0 - 121);
    CHECK(refusal(good_claims(), checks).rfind(
              "ID token rejected: issued in the future, at 2023-11-14T22:13:20Z", 0) == 0);
    checks.max_skew = std::chrono::seconds{0};
    checks.now = at(t0 - 1);
    CHECK_FALSE(verify(good_claims(), checks, diag));

    CHECK(refusal(with(good_claims(), "nbf", t0 + 1000)).rfind("ID token rejected: not valid before", 0) == 0);
    // Fractional NumericDates are allowed (RFC 7519 §2).
    CHECK(verify(with(good_claims(), "exp", static_cast<double>(t0) + 600.5), good_checks(), diag));
}

TEST_CASE_METHOD(fixture, "a nonce that differs or is missing is a nonce mismatch", "[unit][jose]") {
    CHECK(refusal(with(good_claims(), "nonce", "other"), good_checks(), client_errc::nonce_mismatch) ==
          "ID token rejected: nonce does not match the one sent (a replayed or injected token?)");
    CHECK(refusal(without(good_claims(), "nonce"), good_checks(), client_errc::nonce_mismatch) ==
          "ID token rejected: no nonce, but one was sent");
}

TEST_CASE_METHOD(fixture, "signature failures come first and are named", "[unit][jose]") {
    diagnostics diag;
    auto token = sign(key, "k1", good_claims());
    auto forged = with_part(token, 1, base64url_encode(json::serialize(with(good_claims(), "sub", "mallory"))));
    auto r = verify_id_token(forged, jwks, good_checks(), diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == client_errc::id_token_invalid);
    CHECK(diag.client_message == "ID token rejected: signature does not verify");

    auto none = base64url_encode(R"({"alg":"none"})") + "." + base64url_encode(json::serialize(good_claims())) + ".";
    CHECK(verify_id_token(none, jwks, good_checks(), diag).error() == client_errc::id_token_invalid);
    CHECK(diag.client_message == "ID token rejected: alg 'none' (an unsigned token) is not accepted");

    auto other_kid = sign(key, "k2", good_claims());
    CHECK(verify_id_token(other_kid, jwks, good_checks(), diag).error() == client_errc::id_token_invalid);
    CHECK(diag.client_message == "ID token rejected: signing key 'k2' is not in the provider's JWKS");
    CHECK(needs_jwks_refetch(other_kid, jwks));
    // After the refetch brings the rotated key, the same token verifies.
    auto refetched = jwks_of({{key, "k1"}, {key, "k2"}});
    CHECK(verify_id_token(other_kid, refetched, good_checks(), diag));
}

TEST_CASE_METHOD(fixture, "untrusted claim text is escaped in messages", "[unit][jose]") {
    auto msg = refusal(with(good_claims(), "iss", "https://x\x1b[2J\nfake prompt$ "));
    CHECK(msg.find('\x1b') == std::string::npos);
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.find("\\x1b") != std::string::npos);
}
