// Issue 18 #7: every number of seconds from outside (ID token exp/iat/nbf, HTTP Date,
// gateway expires_at, stored expires_at, expires_in) becomes a time_point through one
// saturating conversion: year 9999 is "far in the future", never an overflow into 1816.
#include "jose_test_support.hpp"
#include "test_support.hpp"

#include <latchkey/core/gateway.hpp>
#include <latchkey/core/registration.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/core/token_import.hpp>
#include <latchkey/core/token_set.hpp>

#include <cmath>
#include <limits>

using namespace jose_test;
using unit_test::json_reply;

namespace {

const time_point now = time_point{seconds{1'790'000'000}};
const time_point far_future = time_point{seconds{9'000'000'000}};  // the saturation point, 2255
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEST_CASE("from_unix_seconds and add_seconds saturate instead of overflowing",
          "[unit][hardening][time]") {
    CHECK(from_unix_seconds(1e10) == far_future);
    CHECK(from_unix_seconds(1e300) == far_future);
    CHECK(from_unix_seconds(std::numeric_limits<double>::infinity()) == far_future);
    CHECK(from_unix_seconds(9'300'000'000) == far_future);  // 2264
    CHECK(from_unix_seconds(-1e300) == time_point{});
    CHECK(from_unix_seconds(not_a_number) == time_point{});
    CHECK(from_unix_seconds(1'790'000'000.75) == now);     // fractions floored
    CHECK(add_seconds(now, 1e300) == far_future);
    CHECK(add_seconds(now, -1e300) == time_point{});
    CHECK(add_seconds(now, not_a_number) == now);
    CHECK(add_seconds(now, 3600) == now + seconds{3600});
    CHECK(add_seconds(time_point::max(), 1e18) == far_future);
    CHECK(format_time(far_future) == "2255-03-14T16:00:00Z");
}

TEST_CASE("ID token: exp in year 9999 or 1e10 is valid, not 'expired at 1816'",
          "[unit][hardening][time][jose]") {
    EVP_PKEY* key = shared_key(key_type::ec_p256);
    jwk_set jwks = jwks_of({{key, "k1"}});
    for (double exp : {1e10, 253402300799.0 /* 9999-12-31 */, 1e300}) {
        INFO(exp);
        auto claims = good_claims();
        claims["exp"] = exp;
        diagnostics diag;
        auto r = verify_id_token(sign(key, "k1", claims), jwks, good_checks(), diag);
        INFO(diag.client_message);
        CHECK(r.has_value());
    }
    auto claims = good_claims();  // and iat far in the future is still "in the future"
    claims["iat"] = 1e10;
    diagnostics diag;
    CHECK_FALSE(verify_id_token(sign(key, "k1", claims), jwks, good_checks(), diag));
    CHECK(diag.client_message.find("issued in the future, at 2255-") != std::string::npos);
}

TEST_CASE("HTTP Date, gateway and stored expiries in 2263 saturate", "[unit][hardening][time]") {
    auto date = parse_http_date("Mon, 01 Jan 2263 00:00:00 GMT");
    REQUIRE(date.has_value());
    CHECK(*date == far_future);
    http_response r;
    r.headers.emplace_back("Date", "Sat, 01 Jan 9999 00:00:00 GMT");
    auto skew = server_clock_skew(r, now);
    REQUIRE(skew.has_value());
    CHECK(skew->count() > 0);  // far ahead, not behind

    CHECK(parse_time("2263-01-01T00:00:00Z") == far_future);
    CHECK(parse_rfc3339("2263-01-01T00:00:00Z") == far_future);

    gateway_config g;
    diagnostics d;
    for (const char* body : {R"({"session_token":"s","expires_at":"2263-01-01T00:00:00Z"})",
                             R"({"session_token":"s","expires_at":1e300})",
                             R"({"session_token":"s","expires_at":9300000000})"}) {
        INFO(body);
        auto s = parse_gateway_response(g, json_reply(200, body), now, d);
        REQUIRE(s.has_value());
        CHECK(s->expires_at == far_future);
    }
    auto c = credentials_from_json(R"({"version":1,"tokens":{"access_token":"a",)"
                                   R"("expires_at":"2263-01-01T00:00:00Z"}})", d);
    REQUIRE(c.has_value());
    CHECK(c->tokens.expires_at == far_future);
    CHECK(c->tokens.valid_at(now));
}

TEST_CASE("expires_in: 1e300 is refused, never cast; an imported lifetime saturates",
          "[unit][hardening][time]") {
    for (const char* body : {R"({"access_token":"a","expires_in":1e300})",
                             R"({"access_token":"a","expires_in":-1e300})",
                             R"({"access_token":"a","expires_in":18446744073709551615})",
                             R"({"access_token":"a","expires_in":"99999999999999999999"})"}) {
        INFO(body);
        diagnostics d;
        auto t = parse_token_response(json_reply(200, body), now, d);
        REQUIRE_FALSE(t.has_value());
        CHECK(t.error() == client_errc::bad_json);
    }
    diagnostics d;
    auto t = parse_token_response(json_reply(200, R"({"access_token":"a","expires_in":3600.9})"), now, d);
    REQUIRE(t.has_value());
    CHECK(t->expires_at == now + seconds{3600});
    auto imported = imported_token_expiry("opaque", seconds{std::numeric_limits<long long>::max()}, now);
    CHECK(imported.at == far_future);
}
