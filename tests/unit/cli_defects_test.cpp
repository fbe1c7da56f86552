// Issue 17 (#4, #6, #9, #10): the library pieces behind what a new user sees — the
// did-you-mean of a mistyped command, the refresh window of a short-lived token, what an
// imported token's lookup answer and claims say, the device countdown's wording.
#include "apps/latch/terminal.hpp"

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/core/suggest.hpp>
#include <latchkey/core/token_import.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;

namespace {

const time_point now = time_point{seconds{1'800'000'000}};

std::string jwt_with(const std::string& payload) {
    return base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "." + base64url_encode(payload) + ".c2ln";
}

}  // namespace

TEST_CASE("did you mean: edit distance with transpositions, close names first", "[unit][suggest]") {
    CHECK(edit_distance("logni", "login") == 1);  // a transposition
    CHECK(edit_distance("", "abc") == 3);
    CHECK(edit_distance("status", "status") == 0);
    CHECK(edit_distance("kitten", "sitting") == 3);
    const std::vector<std::string> commands{"login", "logout", "status", "token", "refresh", "context", "machine", "help", "version"};
    CHECK(closest_names("logni", commands) == std::vector<std::string>{"login"});
    CHECK(closest_names("stauts", commands) == std::vector<std::string>{"status"});
    CHECK(closest_names("ver", commands) == std::vector<std::string>{"version"});   // a prefix
    CHECK(closest_names("log", commands) == std::vector<std::string>{"login", "logout"});
    CHECK(closest_names("xyzzy", commands).empty());
    CHECK(closest_names("", commands).empty());
}

TEST_CASE("refresh window: at most half the token's lifetime", "[unit][token]") {
    token_set t;
    t.access_token = secret{"a"};
    CHECK(t.refresh_margin(seconds{330}) == seconds{330});  // no expiry: the window
    t.expires_at = now + seconds{240};
    CHECK(t.refresh_margin(seconds{330}) == seconds{330});  // lifetime unknown (older file)
    t.issued_at = now;
    CHECK(t.refresh_margin(seconds{330}) == seconds{120});  // a 240 s token
    t.expires_at = now + seconds{3600};
    CHECK(t.refresh_margin(seconds{330}) == seconds{330});  // an hour: the window
    t.expires_at = now - seconds{1};
    CHECK(t.refresh_margin(seconds{330}) == seconds{330});  // nonsense: the window
    // A fresh 240 s token is outside the CLI's window; 100 s before its end it is inside.
    t.expires_at = now + seconds{240};
    CHECK(t.valid_at(now, t.refresh_margin(seconds{330})));
    CHECK_FALSE(t.valid_at(now + seconds{140}, t.refresh_margin(seconds{330})));
}

TEST_CASE("token endpoint replies record when they were issued; the store keeps it", "[unit][token][store]") {
    diagnostics d;
    http_response resp;
    resp.status = 200;
    resp.body = R"({"access_token":"at","token_type":"Bearer","expires_in":240})";
    auto t = parse_token_response(resp, now, d);
    REQUIRE(t.has_value());
    REQUIRE(t->issued_at);
    CHECK(*t->issued_at == now);
    stored_credentials c;
    c.tokens = *t;
    c.tokens.expiry_assumed = true;
    c.who.subject = "s";
    c.who.attributes = {{"platformId", "plat-7"}, {"role", "admin"}};
    auto back = credentials_from_json(to_json(c), d);
    REQUIRE(back.has_value());
    CHECK(back->tokens.issued_at == now);
    CHECK(back->tokens.expiry_assumed);
    CHECK(back->who.attributes == c.who.attributes);
    // Files without the new members read as before.
    auto old = credentials_from_json(R"({"version":1,"tokens":{"access_token":"a"}})", d);
    REQUIRE(old.has_value());
    CHECK_FALSE(old->tokens.issued_at);
    CHECK_FALSE(old->tokens.expiry_assumed);
    CHECK(old->who.attributes.empty());
}

TEST_CASE("lookup answers: platformId and role kept, expiresAt read", "[unit][import]") {
    diagnostics d;
    auto who = identity_from_json(R"({"email":"dev@acme.example","platformId":"plat-7","role":"admin","other":"x","expiresAt":"2026-11-30T07:00:00.000Z"})", d);
    REQUIRE(who.has_value());
    CHECK(who->email == "dev@acme.example");
    CHECK(who->attributes == std::map<std::string, std::string>{{"platformId", "plat-7"}, {"role", "admin"}});
    CHECK(lookup_expiry(R"({"expiresAt":"2026-11-30T07:00:00.000Z"})") == parse_time("2026-11-30T07:00:00Z"));
    CHECK(lookup_expiry(R"({"expiresAt":"2026-11-30T07:00:00Z"})") == parse_time("2026-11-30T07:00:00Z"));
    CHECK_FALSE(lookup_expiry(R"({"expiresAt":"soon"})"));
    CHECK_FALSE(lookup_expiry(R"({"email":"a"})"));
    CHECK_FALSE(lookup_expiry("[]"));
}

TEST_CASE("an imported JWT's own claims name it when no lookup could", "[unit][import]") {
    auto who = identity_from_jwt_unverified(jwt_with(R"({"sub":"u1","email":"alice@example.com","name":"Alice","exp":1900000000})"));
    REQUIRE(who);
    CHECK(who->display() == "Alice");
    CHECK(who->email == "alice@example.com");
    CHECK_FALSE(identity_from_jwt_unverified(jwt_with(R"({"exp":1900000000})")));
    CHECK_FALSE(identity_from_jwt_unverified("opaque-token"));
}

TEST_CASE("device wait: the code's own expiry, and when latch gives up", "[unit][terminal]") {
    using cli::device_wait_text;
    CHECK(device_wait_text(now + seconds{600}, now + seconds{120}, now) ==
          "code expires in 10:00; latch gives up in 2:00, see --timeout");
    CHECK(device_wait_text(now + seconds{600}, now + seconds{600}, now) == "code expires in 10:00");
    CHECK(device_wait_text(std::nullopt, now + seconds{300}, now) == "code expires in 5:00");
}
