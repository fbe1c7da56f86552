// Gateway session exchange (request/reply JSON, expiry forms) and token import helpers
// (trim, expiry from --expires-in / JWT exp / 30 days, identity claims), and the optional
// `gateway` member of the credentials file.
#include "test_support.hpp"

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/gateway.hpp>
#include <latchkey/core/token_import.hpp>

#include <boost/json/parse.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using unit_test::json_reply;
namespace json = boost::json;

namespace {

const time_point now = time_point{seconds{1'800'000'000}};

std::string jwt_with(std::string payload) {
    return base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url_encode(payload) + ".c2ln";
}

}  // namespace

TEST_CASE("gateway request: the ID token as JSON under the configured member", "[unit][gateway]") {
    gateway_config g;
    g.url = "https://gw.example.com/api/auth/login";
    auto r = make_gateway_request(g, secret{"eyJ.id.token"});
    CHECK(r.method == http_method::post);
    CHECK(r.url == g.url);
    CHECK_FALSE(r.idempotent);
    CHECK(json::parse(r.body) == json::parse(R"({"id_token":"eyJ.id.token"})"));
    bool json_type = false;
    for (const auto& [k, v] : r.headers) json_type |= k == "Content-Type" && v == "application/json";
    CHECK(json_type);

    g.request_field = "auth0_token";
    CHECK(json::parse(make_gateway_request(g, secret{"t"}).body) == json::parse(R"({"auth0_token":"t"})"));
}

TEST_CASE("gateway config comes from the context's settings, with defaults", "[unit][gateway]") {
    context_config c;
    CHECK(gateway_config_of(c).url.empty());
    c.extra[gateway_url_key] = "http://127.0.0.1:9/login";
    c.extra[gateway_token_field_key] = "data.token";
    auto g = gateway_config_of(c);
    CHECK(g.url == "http://127.0.0.1:9/login");
    CHECK(g.request_field == "id_token");
    CHECK(g.token_field == "data.token");
    CHECK(g.expiry_field == "expires_at");
}

TEST_CASE("gateway reply: session token and each form of expiry", "[unit][gateway]") {
    gateway_config g;
    g.url = "https://gw";
    diagnostics d;
    SECTION("RFC 3339 expires_at") {
        auto s = parse_gateway_response(g, json_reply(200, R"({"session_token":"abc","expires_at":"2027-01-15T08:00:00.250+01:00"})"), now, d);
        REQUIRE(s.has_value());
        CHECK(s->token.reveal() == "abc");
        CHECK(s->url == "https://gw");
        CHECK(s->obtained_at == now);
        REQUIRE(s->expires_at);
        CHECK(format_time(*s->expires_at) == "2027-01-15T07:00:00Z");
    }
    SECTION("Unix time") {
        auto s = parse_gateway_response(g, json_reply(200, R"({"session_token":"abc","expires_at":1900000000})"), now, d);
        REQUIRE(s.has_value());
        CHECK(*s->expires_at == time_point{seconds{1'900'000'000}});
    }
    SECTION("a small number is a lifetime; expires_in when expires_at is absent") {
        auto s = parse_gateway_response(g, json_reply(200, R"({"session_token":"abc","expires_at":90})"), now, d);
        REQUIRE(s.has_value());
        CHECK(*s->expires_at == now + seconds{90});
        auto t = parse_gateway_response(g, json_reply(201, R"({"session_token":"abc","expires_in":3600})"), now, d);
        REQUIRE(t.has_value());
        CHECK(*t->expires_at == now + seconds{3600});
    }
    SECTION("no expiry at all") {
        auto s = parse_gateway_response(g, json_reply(200, R"({"session_token":"abc"})"), now, d);
        REQUIRE(s.has_value());
        CHECK_FALSE(s->expires_at);
    }
    SECTION("nested members") {
        g.token_field = "data.session.token";
        g.expiry_field = "data.session.exp";
        auto s = parse_gateway_response(g, json_reply(200, R"({"data":{"session":{"token":"n","exp":60}}})"), now, d);
        REQUIRE(s.has_value());
        CHECK(s->token.reveal() == "n");
        CHECK(*s->expires_at == now + seconds{60});
    }
}

TEST_CASE("gateway reply errors", "[unit][gateway]") {
    gateway_config g;
    diagnostics d;
    auto e401 = parse_gateway_response(g, json_reply(401, R"({"error":"Invalid credentials"})"), now, d);
    REQUIRE_FALSE(e401.has_value());
    CHECK(e401.error() == client_errc::session_expired);
    CHECK(needs_login(e401.error()));
    CHECK(d.server_message.find("Invalid credentials") != std::string::npos);

    auto e500 = parse_gateway_response(g, json_reply(502, "bad gateway"), now, d);
    REQUIRE_FALSE(e500.has_value());
    CHECK(e500.error() == client_errc::bad_http_status);
    CHECK(d.client_message.find("HTTP 502") != std::string::npos);

    auto html = parse_gateway_response(g, json_reply(200, "<html>"), now, d);
    REQUIRE_FALSE(html.has_value());
    CHECK(html.error() == client_errc::bad_json);

    auto missing = parse_gateway_response(g, json_reply(200, R"({"token":"x"})"), now, d);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error() == client_errc::missing_field);
    CHECK(d.client_message.find("\"session_token\"") != std::string::npos);

    auto bad_exp = parse_gateway_response(g, json_reply(200, R"({"session_token":"x","expires_at":"tomorrow"})"), now, d);
    REQUIRE_FALSE(bad_exp.has_value());
    CHECK(bad_exp.error() == client_errc::bad_input);
}

TEST_CASE("RFC 3339 parsing", "[unit][gateway]") {
    CHECK(parse_rfc3339("2026-11-23T05:10:23Z") == time_point{seconds{1'795'410'623}});
    CHECK(parse_rfc3339("2026-11-23T06:10:23+01:00") == parse_rfc3339("2026-11-23T05:10:23Z"));
    CHECK(parse_rfc3339("2026-11-23T04:40:23.123456-00:30") == parse_rfc3339("2026-11-23T05:10:23Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T05:10:23"));   // no zone
    CHECK_FALSE(parse_rfc3339("2026-11-23T05:10:23Zx"));
    CHECK_FALSE(parse_rfc3339("2026-13-23T05:10:23Z"));
    CHECK_FALSE(parse_rfc3339("2026-11-23T05:10:23."));
    CHECK_FALSE(parse_rfc3339(""));
}

TEST_CASE("imported token: trimmed, expiry from flag, JWT exp or 30 days", "[unit][import]") {
    CHECK(trim_token("  tok-123\r\n") == "tok-123");
    CHECK(trim_token("\n\t ").empty());

    auto flag = imported_token_expiry(jwt_with(R"({"exp":1900000000})"), seconds{600}, now);
    CHECK(flag.at == now + seconds{600});
    CHECK(flag.from == expiry_source::expires_in);

    auto jwt = imported_token_expiry(jwt_with(R"({"sub":"a","exp":1900000000})"), std::nullopt, now);
    CHECK(jwt.at == time_point{seconds{1'900'000'000}});
    CHECK(jwt.from == expiry_source::jwt_exp);

    for (const std::string& opaque : {std::string("opaque-token"), jwt_with(R"({"sub":"a"})"),
                                     jwt_with(R"({"exp":"soon"})"), std::string("a.b.c")}) {
        auto d = imported_token_expiry(opaque, std::nullopt, now);
        CHECK(d.at == now + seconds{30 * 24 * 3600});
        CHECK(d.from == expiry_source::default_lifetime);
    }
}

TEST_CASE("identity from a userinfo-style answer", "[unit][import]") {
    diagnostics d;
    auto who = identity_from_json(R"({"sub":"alice","email":"alice@example.com","name":"Alice","preferred_username":"al","x":1})", d);
    REQUIRE(who.has_value());
    CHECK(who->subject == "alice");
    CHECK(who->email == "alice@example.com");
    CHECK(who->name == "Alice");
    CHECK(who->username == "al");
    auto none = identity_from_json(R"({"x":1})", d);
    REQUIRE_FALSE(none.has_value());
    CHECK(none.error() == client_errc::missing_field);
    auto bad = identity_from_json("[]", d);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error() == client_errc::bad_json);
}

TEST_CASE("credentials file: the optional gateway session round-trips", "[unit][store][gateway]") {
    stored_credentials c;
    c.issuer = "https://idp";
    c.client_id = "cli";
    c.method = login_method::token;
    c.tokens.access_token = secret{"access"};
    diagnostics d;
    SECTION("absent: no member, and old files read as before") {
        auto text = to_json(c);
        CHECK(text.find("gateway") == std::string::npos);
        auto back = credentials_from_json(text, d);
        REQUIRE(back.has_value());
        CHECK_FALSE(back->gateway);
    }
    SECTION("present") {
        c.gateway = gateway_session{"https://gw/login", secret{"sess-1"}, now + seconds{60}, now};
        auto back = credentials_from_json(to_json(c), d);
        REQUIRE(back.has_value());
        REQUIRE(back->gateway);
        CHECK(back->gateway->url == "https://gw/login");
        CHECK(back->gateway->token.reveal() == "sess-1");
        CHECK(back->gateway->expires_at == now + seconds{60});
        CHECK(back->gateway->obtained_at == now);
        CHECK(back->tokens.access_token.reveal() == "access");
    }
    SECTION("an unreadable expiry counts as expired") {
        auto back = credentials_from_json(
            R"({"version":1,"tokens":{"access_token":"a"},"gateway":{"session_token":"s","expires_at":"later"}})", d);
        REQUIRE(back.has_value());
        REQUIRE(back->gateway);
        CHECK(back->gateway->expires_at == time_point{});
    }
}

TEST_CASE("far-future expiries (the 'never' 9999999999) do not overflow", "[unit][import][gateway]") {
    // time_point counts nanoseconds and overflows after 2262; such values are clamped.
    auto never = imported_token_expiry(jwt_with(R"({"exp":9999999999})"), std::nullopt, now);
    CHECK(never.from == expiry_source::jwt_exp);
    CHECK(never.at > now + std::chrono::hours{24 * 365 * 200});
    CHECK(from_unix_seconds(1e300) == from_unix_seconds(9e9));
    CHECK(from_unix_seconds(-5) == time_point{});
    CHECK(from_unix_seconds(1'900'000'000) == time_point{seconds{1'900'000'000}});
}
