// latch-idp: Better Auth-shaped browser sessions: the cookie, the Origin check (CSRF), the
// JSON date format, email canonicalisation.
#include <latchkey/flows/server/session.hpp>

#include <catch2/catch.hpp>

using namespace latchkey::flows::server;

TEST_CASE("the session cookie: HttpOnly, SameSite=Lax, Path=/; Secure and __Secure- only over https",
          "[unit][server][session]") {
    CHECK(session_set_cookie(false, "tok", 604800) ==
          "better-auth.session_token=tok; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax");
    CHECK(session_set_cookie(true, "tok", 604800) ==
          "__Secure-better-auth.session_token=tok; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax; Secure");
    CHECK(session_set_cookie(false, "tok", std::nullopt) == "better-auth.session_token=tok; Path=/; HttpOnly; SameSite=Lax");
    CHECK(session_clear_cookie(true) == "__Secure-better-auth.session_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax; Secure");
}

TEST_CASE("origins: scheme, host and port, lowercased; non-http(s) is none", "[unit][server][session]") {
    CHECK(url_origin("HTTP://Example.COM:8080/a?b#c") == "http://example.com:8080");
    CHECK(url_origin("https://app.example") == "https://app.example");
    CHECK(url_origin("javascript:alert(1)").empty());
    CHECK(url_origin("/relative").empty());
}

TEST_CASE("Origin check on state-changing calls", "[unit][server][session]") {
    const std::vector<std::string> trusted{"http://127.0.0.1:4000", "https://app.example"};
    CHECK(check_origin("http://127.0.0.1:4000", true, trusted) == origin_verdict::ok);
    CHECK(check_origin("https://APP.example", true, trusted) == origin_verdict::ok);
    CHECK(check_origin("https://evil.example", false, trusted) == origin_verdict::untrusted);
    CHECK(check_origin("http://127.0.0.1:4001", true, trusted) == origin_verdict::untrusted);
    CHECK(check_origin("null", true, trusted) == origin_verdict::missing);
    CHECK(check_origin("", true, trusted) == origin_verdict::missing);
    CHECK(check_origin("", false, trusted) == origin_verdict::ok);  // no cookies: nothing to ride on
}

TEST_CASE("dates as JavaScript's Date.toJSON writes them", "[unit][server][session]") {
    CHECK(iso8601(0) == "1970-01-01T00:00:00.000Z");
    CHECK(iso8601(1796010300) == "2026-11-30T03:45:00.000Z");
}

TEST_CASE("emails: trimmed and lowercased; malformed ones refused", "[unit][server][session]") {
    CHECK(canonical_email(" Carol@Example.COM ") == "carol@example.com");
    CHECK_FALSE(canonical_email("carol"));
    CHECK_FALSE(canonical_email("@example.com"));
    CHECK_FALSE(canonical_email("carol@"));
    CHECK_FALSE(canonical_email("a@b@example.com"));
    CHECK_FALSE(canonical_email("carol @example.com"));
    CHECK_FALSE(canonical_email("carol@localhost"));
    CHECK_FALSE(canonical_email(std::string(250, 'a') + "@example.com"));
}
