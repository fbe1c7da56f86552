// latch-idp: redirect URI matching (RFC 9700 §2.1, RFC 8252 §7.3) and PKCE checks
// (RFC 7636, downgrade refused both ways).
#include <latchkey/flows/server/pkce_verify.hpp>
#include <latchkey/flows/server/redirect_uri.hpp>

#include <latchkey/core/error.hpp>
#include <latchkey/core/pkce.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows::server;

TEST_CASE("redirect URIs match exactly, byte for byte", "[unit][server][redirect]") {
    const std::string reg = "https://app.example.com/cb";
    CHECK(redirect_uri_matches(reg, "https://app.example.com/cb"));
    CHECK_FALSE(redirect_uri_matches(reg, "https://app.example.com/cb/"));
    CHECK_FALSE(redirect_uri_matches(reg, "https://app.example.com/cb?x=1"));
    CHECK_FALSE(redirect_uri_matches(reg, "https://APP.example.com/cb"));
    CHECK_FALSE(redirect_uri_matches(reg, "https://app.example.com:8443/cb"));
    CHECK_FALSE(redirect_uri_matches(reg, "https://app.example.com.evil.test/cb"));
    CHECK_FALSE(redirect_uri_matches(reg, "https://app.example.com/cb#frag"));
    CHECK_FALSE(redirect_uri_matches(reg, "http://app.example.com/cb"));
}

TEST_CASE("loopback redirect URIs accept any port, nothing else (RFC 8252 §7.3)", "[unit][server][redirect]") {
    const std::string v4 = "http://127.0.0.1/callback";
    CHECK(redirect_uri_matches(v4, "http://127.0.0.1:51234/callback"));
    CHECK(redirect_uri_matches("http://127.0.0.1:8080/callback", "http://127.0.0.1:1/callback"));
    CHECK(redirect_uri_matches("http://[::1]/callback", "http://[::1]:4000/callback"));
    CHECK_FALSE(redirect_uri_matches(v4, "http://127.0.0.1:51234/other"));
    CHECK_FALSE(redirect_uri_matches(v4, "http://127.0.0.1:51234/callback?x=1"));
    CHECK_FALSE(redirect_uri_matches(v4, "http://[::1]:51234/callback"));      // other literal
    CHECK_FALSE(redirect_uri_matches(v4, "http://localhost:51234/callback"));  // §8.3
    CHECK_FALSE(redirect_uri_matches(v4, "https://127.0.0.1:51234/callback"));
    CHECK_FALSE(redirect_uri_matches(v4, "http://user@127.0.0.1:51234/callback"));
    CHECK_FALSE(redirect_uri_matches(v4, "http://127.0.0.2:51234/callback"));
    CHECK_FALSE(redirect_uri_matches(v4, "http://127.0.0.1:51234/callback#x"));
    // No exception for a registered localhost or a non-loopback http host.
    CHECK_FALSE(redirect_uri_matches("http://localhost/cb", "http://localhost:9/cb"));
    CHECK_FALSE(redirect_uri_matches("https://127.0.0.1/cb", "https://127.0.0.1:9/cb"));
}

TEST_CASE("which redirect URIs a client may register", "[unit][server][redirect]") {
    CHECK(registrable_redirect_uri("https://app.example.com/cb"));
    CHECK(registrable_redirect_uri("http://127.0.0.1/callback"));
    CHECK(registrable_redirect_uri("http://[::1]:8080/callback"));
    CHECK(registrable_redirect_uri("com.example.app:/oauth2redirect"));
    CHECK_FALSE(registrable_redirect_uri("http://app.example.com/cb"));
    CHECK_FALSE(registrable_redirect_uri("https://app.example.com/cb#frag"));
    CHECK_FALSE(registrable_redirect_uri("/relative"));
    CHECK_FALSE(registrable_redirect_uri("myapp:/cb"));  // no dot: not a private-use scheme
    CHECK(is_loopback_redirect("http://127.0.0.1:1/x"));
    CHECK_FALSE(is_loopback_redirect("http://localhost:1/x"));
}

TEST_CASE("authorization requests: S256 only, required for public clients", "[unit][server][pkce]") {
    diagnostics diag;
    const std::string ch = pkce_challenge(make_pkce_verifier());
    CHECK_FALSE(check_pkce_request(ch, "S256", true, diag));
    CHECK(check_pkce_request(ch, "plain", false, diag) == oauth_errc::invalid_request);
    CHECK(diag.client_message == "code_challenge_method must be S256");
    CHECK(check_pkce_request(ch, "", true, diag) == oauth_errc::invalid_request);  // absent = plain
    CHECK(check_pkce_request("", "", true, diag) == oauth_errc::invalid_request);
    CHECK(diag.client_message == "PKCE (code_challenge, S256) is required for public clients");
    CHECK_FALSE(check_pkce_request("", "", false, diag));  // confidential: optional
    CHECK(check_pkce_request("", "S256", false, diag) == oauth_errc::invalid_request);
    CHECK(check_pkce_request("short", "S256", true, diag) == oauth_errc::invalid_request);
    CHECK(check_pkce_request(std::string(43, '!'), "S256", true, diag) == oauth_errc::invalid_request);
}

TEST_CASE("code redemption: the verifier must match, and no downgrade either way", "[unit][server][pkce]") {
    diagnostics diag;
    const std::string verifier = make_pkce_verifier();
    const std::string ch = pkce_challenge(verifier);
    // RFC 7636 Appendix B.
    CHECK_FALSE(verify_pkce("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", diag));
    CHECK_FALSE(verify_pkce(ch, verifier, diag));
    CHECK(verify_pkce(ch, make_pkce_verifier(), diag) == oauth_errc::invalid_grant);
    CHECK(diag.client_message == "code_verifier does not match code_challenge");
    // Issued with a challenge, redeemed without a verifier.
    CHECK(verify_pkce(ch, "", diag) == oauth_errc::invalid_grant);
    CHECK(diag.client_message == "code_verifier is required");
    // Issued without a challenge, redeemed with one (an injected code).
    CHECK(verify_pkce("", verifier, diag) == oauth_errc::invalid_grant);
    CHECK_FALSE(verify_pkce("", "", diag));
    // "plain" would compare the verifier itself with the challenge: that must fail.
    CHECK(verify_pkce(verifier, verifier, diag) == oauth_errc::invalid_grant);
}
