// The one authorization-response parser: what a user pastes as "the URL the browser
// landed on" (issue 7), what the listener receives, what the flow reads.
#include <latchkey/flows/authorization_response.hpp>

#include <catch2/catch.hpp>

using latchkey::flows::parse_authorization_response;
using kind = latchkey::flows::authorization_response::kind;

TEST_CASE("a pasted loopback URL with ?code= is a code response", "[unit][paste]") {
    auto p = parse_authorization_response(
        "http://127.0.0.1:8765/callback?code=abc%2Fdef&state=s-1&iss=http%3A%2F%2Fidp\n");
    CHECK(p.what == kind::code);
    CHECK(p.state == "s-1");
    CHECK(p.url == "http://127.0.0.1:8765/callback?code=abc%2Fdef&state=s-1&iss=http%3A%2F%2Fidp");
}

TEST_CASE("whitespace, CR, quotes and angle brackets around the URL are dropped", "[unit][paste]") {
    for (const char* text : {"  http://x/cb?code=c&state=s \r\n", "\t'http://x/cb?code=c&state=s'",
                             "\"http://x/cb?code=c&state=s\"", "<http://x/cb?code=c&state=s>"}) {
        auto p = parse_authorization_response(text);
        CHECK(p.what == kind::code);
        CHECK(p.url == "http://x/cb?code=c&state=s");
        CHECK(p.state == "s");
    }
}

TEST_CASE("a bare query, with or without '?', is accepted", "[unit][paste]") {
    CHECK(parse_authorization_response("?code=c&state=s").what == kind::code);
    CHECK(parse_authorization_response("code=c&state=s").what == kind::code);
    CHECK(parse_authorization_response("code=c&state=s").state == "s");
}

TEST_CASE("an #id_token= fragment is an ID token response (seed 001)", "[unit][paste]") {
    auto p = parse_authorization_response(
        "https://app.acme.com/login#id_token=eyJh.eyJp.c2ln&state=xyz&token_type=Bearer");
    CHECK(p.what == kind::id_token);
    CHECK(p.id_token == "eyJh.eyJp.c2ln");
    CHECK(p.state == "xyz");
    // An SPA route in the fragment does not hide a query with a code.
    CHECK(parse_authorization_response("https://app/cb?code=c&state=s#/home").what == kind::code);
    // The fragment wins over the query when it carries the token.
    CHECK(parse_authorization_response("https://app/cb?x=1#id_token=a.b.c").what == kind::id_token);
}

TEST_CASE("an error response keeps its error value", "[unit][paste]") {
    auto p = parse_authorization_response("http://127.0.0.1:1/callback?error=access_denied&state=s");
    CHECK(p.what == kind::error);
    CHECK(p.error == "access_denied");
    CHECK(p.state == "s");
}

TEST_CASE("empty lines and garbage are told apart", "[unit][paste]") {
    CHECK(parse_authorization_response("").what == kind::empty);
    CHECK(parse_authorization_response(" \r\n").what == kind::empty);
    for (const char* text : {"hello", "not a url at all", "http://127.0.0.1:8765/callback",
                             "https://app/#/home", "http://x/cb?state=s", "http://x/cb?code=&state=s",
                             "%zz?code"}) {
        auto p = parse_authorization_response(text);
        INFO(text);
        CHECK(p.what == kind::garbage);
        CHECK_FALSE(p.reason.empty());
    }
}

TEST_CASE("a repeated parameter is refused (RFC 6749 §3.1)", "[unit][paste]") {
    auto p = parse_authorization_response("http://x/cb?code=a&code=b&state=s");
    CHECK(p.what == kind::garbage);
    CHECK(p.reason.find("`code`") != std::string::npos);
}
