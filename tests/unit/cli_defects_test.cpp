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
