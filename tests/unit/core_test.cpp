// Errors, diagnostics, secrets, token responses, discovery documents.
#include "test_support.hpp"

#include <latchkey/core/error.hpp>
#include <latchkey/core/provider.hpp>
#include <latchkey/core/secret.hpp>
#include <latchkey/core/token_set.hpp>

#include <catch2/catch.hpp>

#include <sstream>

using namespace latchkey;
using unit_test::json_reply;

namespace {
const time_point t0 = sys_clock::from_time_t(1'790'000'000);
}  // namespace

TEST_CASE("secrets print redacted", "[unit][core]") {
    secret s{"69dd6f8a7621ca3cd1e8924460842bc6"};
    CHECK(s.redacted() == "69dd6f…2bc6");
    std::ostringstream os;
    os << s;
    CHECK(os.str() == "69dd6f…2bc6");
    CHECK(redact("short") == "…");
    CHECK(redact("") == "");
}

TEST_CASE("OAuth error strings map to codes; unknown ones are kept raw", "[unit][core]") {
    CHECK(oauth_errc_from_string("slow_down") == oauth_errc::slow_down);
    CHECK(oauth_errc_from_string("invalid_grant") == oauth_errc::invalid_grant);
    CHECK(oauth_errc_from_string("weird_thing") == oauth_errc::unknown_oauth_error);
    error_code ec = oauth_errc::access_denied;
    CHECK(ec.category().name() == std::string("latchkey.oauth"));
    CHECK(ec.message() == "access_denied");
    error_code cc = client_errc::timeout;
    CHECK(cc.category().name() == std::string("latchkey.client"));

    diagnostics d;
    auto e = parse_oauth_error(json_reply(400, R"({"error":"weird_thing","error_description":"x"})"), d);
    CHECK(e == oauth_errc::unknown_oauth_error);
    CHECK(d.server_error == "weird_thing");
}

TEST_CASE("server text is escaped before printing", "[unit][core]") {
    diagnostics d;
    d.client_message = "login failed";
    d.server_message = "bad\x1b[31m\"quoted\"\nline";
    const auto s = d.to_string();
    CHECK(s.find('\x1b') == std::string::npos);
    CHECK(s.find('\n') == std::string::npos);
    CHECK(s == "login failed: \"bad\\x1b[31m\\\"quoted\\\"\\x0aline\"");
    CHECK(escape_untrusted(std::string(1000, 'a')).size() < 320);
}

TEST_CASE("token responses parse into a token set with an absolute expiry", "[unit][core]") {
    diagnostics d;
    auto t = parse_token_response(json_reply(200, R"({"access_token":"at","refresh_token":"rt",
        "id_token":"it","token_type":"Bearer","scope":"openid","expires_in":3600})"), t0, d);
    REQUIRE(t.has_value());
    CHECK(t->access_token.reveal() == "at");
    CHECK(t->refresh_token->reveal() == "rt");
    CHECK(t->expires_at == t0 + seconds{3600});
    CHECK(t->valid_at(t0 + seconds{3599}));
    CHECK_FALSE(t->valid_at(t0 + seconds{3600}));
    CHECK_FALSE(t->valid_at(t0 + seconds{3400}, seconds{300}));
}

TEST_CASE("bad token responses name what is wrong", "[unit][core]") {
    diagnostics d;
    auto html = json_reply(500, "<html>oops</html>");
    html.content_type = "text/html";
    auto r = parse_token_response(html, t0, d);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error() == client_errc::bad_http_status);
    CHECK(d.client_message.find("HTTP 500") != std::string::npos);

    d.clear();
    r = parse_token_response(json_reply(200, "{\"access_token\":"), t0, d);
    CHECK(r.error() == client_errc::bad_json);

    d.clear();
    r = parse_token_response(json_reply(200, R"({"token_type":"Bearer"})"), t0, d);
    CHECK(r.error() == client_errc::missing_field);

    d.clear();
    r = parse_token_response(json_reply(400, R"({"error":"invalid_grant","error_description":"grant request is invalid"})"), t0, d);
    CHECK(r.error() == oauth_errc::invalid_grant);
    CHECK(d.server_message == "grant request is invalid");

    d.clear();
    r = parse_token_response(json_reply(200, R"({"access_token":"a","expires_in":-5})"), t0, d);
    CHECK(r.error() == client_errc::bad_json);
}

TEST_CASE("times round-trip as ISO 8601 UTC", "[unit][core]") {
    CHECK(format_time(t0) == "2026-09-21T14:13:20Z");
    CHECK(parse_time("2026-09-21T14:13:20Z") == t0);
    CHECK_FALSE(parse_time("yesterday"));
    CHECK_FALSE(parse_time("2026-09-21T14:13:20"));
}

TEST_CASE("stored times are read as timegm() would, across leap years and carries", "[unit][core]") {
    CHECK(format_time(*parse_time("2024-02-29T23:59:59Z")) == "2024-02-29T23:59:59Z");
    CHECK(format_time(*parse_time("2000-03-01T00:00:00Z")) == "2000-03-01T00:00:00Z");
    CHECK(format_time(*parse_time("1970-01-01T00:00:00Z")) == "1970-01-01T00:00:00Z");
    // Out-of-range fields carry over, as they always did: 30 February is 2 March.
    CHECK(format_time(*parse_time("2026-02-30T24:00:60Z")) == "2026-03-03T00:01:00Z");
    CHECK(format_time(*parse_time("2026-13-01T00:00:00Z")) == "2027-01-01T00:00:00Z");
}

TEST_CASE("discovery documents are checked against the issuer", "[unit][core]") {
    diagnostics d;
    auto ok = parse_provider_metadata(json_reply(200, R"({"issuer":"https://idp.example",
        "token_endpoint":"https://idp.example/token",
        "device_authorization_endpoint":"https://idp.example/device/auth",
        "authorization_response_iss_parameter_supported":true})"), "https://idp.example/", d);
    REQUIRE(ok.has_value());
    CHECK(ok->device_authorization_endpoint == "https://idp.example/device/auth");
    CHECK(ok->authorization_response_iss_parameter_supported);

    auto wrong = parse_provider_metadata(json_reply(200, R"({"issuer":"https://evil.example",
        "token_endpoint":"https://evil.example/token"})"), "https://idp.example", d);
    CHECK(wrong.error() == client_errc::issuer_mismatch);

    auto notfound = parse_provider_metadata(json_reply(404, "nope"), "https://idp.example", d);
    CHECK(notfound.error() == client_errc::bad_http_status);
    CHECK(d.client_message.find("https://idp.example/.well-known/openid-configuration") != std::string::npos);

    provider_metadata explicit_;
    explicit_.token_endpoint = "https://override/token";
    auto merged = merge_endpoints(explicit_, *ok);
    CHECK(merged.token_endpoint == "https://override/token");
    CHECK(merged.device_authorization_endpoint == "https://idp.example/device/auth");
}

TEST_CASE("url_encode keeps RFC 3986 unreserved ASCII and escapes every other byte", "[unit][core]") {
    CHECK(url_encode("") == "");
    CHECK(url_encode("aZ09-._~") == "aZ09-._~");
    CHECK(url_encode(" ") == "%20");
    CHECK(url_encode("a b+c/d") == "a%20b%2Bc%2Fd");
    CHECK(url_encode("%") == "%25");
    CHECK(url_encode(std::string("\0\xff\xe9x", 4)) == "%00%FF%E9x");
    CHECK(url_encode("\xc3\xa9t\xc3\xa9") == "%C3%A9t%C3%A9");
}

TEST_CASE("form encoding follows RFC 6749 Appendix B", "[unit][core]") {
    CHECK(form_encode({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"}, {"scope", "openid email"}}) ==
          "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&scope=openid%20email");
}
