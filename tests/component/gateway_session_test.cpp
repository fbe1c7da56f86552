// Gateway sessions in the library (transport/gateway_session.hpp): the exchange, freshness,
// the save under the context lock into the file as it is now, and the ID-token refresh
// through token_source.
#include "support/fakes.hpp"
#include "support/lifecycle_fakes.hpp"
#include "support/lifecycle_run.hpp"

#include <latchkey/core/base64url.hpp>
#include <latchkey/transport/async_lock.hpp>
#include <latchkey/transport/gateway_session.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::transport;
using latchkey::test::run_to_end;
using latchkey::test::temp_store;
namespace asio = boost::asio;

namespace {

const std::string issuer = "http://127.0.0.1:1";

// An unsigned JWT whose only claim is `exp` (the gateway code reads it unverified: it is
// our own stored token).
secret jwt_expiring(time_point exp) {
    const auto secs = std::chrono::duration_cast<seconds>(exp.time_since_epoch()).count();
    return secret{base64url_encode(R"({"alg":"none"})") + "." +
                  base64url_encode(R"({"exp":)" + std::to_string(secs) + "}") + "."};
}

gateway_config gateway() {
    gateway_config g;
    g.url = "http://127.0.0.1:2/login";
    return g;
}

asio::awaitable<result<gateway_session>> exchange(http_port* http, clock_port* clock,
                                                  secret subject, diagnostics* diag) {
    co_return co_await async_exchange_gateway(*http, *clock, gateway(), std::move(subject), *diag);
}

asio::awaitable<error_code> save(clock_port* clock, credential_store store, gateway_session s,
                                 diagnostics* diag) {
    co_return co_await async_save_gateway_session(*clock, store, "default", std::move(s), *diag);
}

asio::awaitable<result<secret>> subject_of(token_source* src, stored_credentials c,
                                           diagnostics* diag) {
    co_return co_await async_fresh_gateway_subject(*src, c, sys_clock::now(), true,
                                                   "latch login --context default", *diag);
}

}  // namespace

TEST_CASE("gateway exchange: the ID token is POSTed, the session and its expiry come back",
          "[component][gateway]") {
    asio::io_context io;
    test::fake_http http(io.get_executor());
    real_clock clock(io.get_executor());
    http.push_json(200, R"({"session_token":"sess-1","expires_at":"2099-01-01T00:00:00Z"})");
    http.push_json(401, R"({"error":"nope"})");
    diagnostics diag;
    auto s = run_to_end(io, exchange(&http, &clock, secret{"id-tok"}, &diag));
    REQUIRE(s.has_value());
    CHECK(s->token.reveal() == "sess-1");
    CHECK(s->url == gateway().url);
    REQUIRE(s->expires_at);
    REQUIRE(http.requests.size() == 1);
    CHECK(http.requests[0].body.find("\"id-tok\"") != std::string::npos);
    CHECK_FALSE(http.requests[0].idempotent);

    auto refused = run_to_end(io, exchange(&http, &clock, secret{"id-tok"}, &diag));
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error() == client_errc::session_expired);  // the CLI's exit 77
}

TEST_CASE("gateway exchange: an unreachable gateway is named in the message",
          "[component][gateway]") {
    asio::io_context io;
    test::fake_http http(io.get_executor());  // nothing scripted: connection_failed
    real_clock clock(io.get_executor());
    diagnostics diag;
    auto s = run_to_end(io, exchange(&http, &clock, secret{"id-tok"}, &diag));
    REQUIRE_FALSE(s.has_value());
    CHECK(diag.client_message.rfind("cannot reach the gateway at " + gateway().url, 0) == 0);
}

TEST_CASE("a fresh session is reused; expired, near expiry or from another gateway it is not",
          "[component][gateway]") {
    const auto now = sys_clock::now();
    stored_credentials c;
    CHECK_FALSE(fresh_gateway_session(c, gateway(), now));
    c.gateway = gateway_session{gateway().url, secret{"sess"}, now + std::chrono::hours(1), now};
    CHECK(fresh_gateway_session(c, gateway(), now)->reveal() == "sess");
    c.gateway->expires_at = now + gateway_margin - seconds{1};
    CHECK_FALSE(fresh_gateway_session(c, gateway(), now));
    c.gateway->expires_at.reset();  // no expiry given: kept until the gateway says 401
    CHECK(fresh_gateway_session(c, gateway(), now));
    c.gateway->url = "http://elsewhere/login";
    CHECK_FALSE(fresh_gateway_session(c, gateway(), now));
}

TEST_CASE("the session is saved under the lock into the file as it is now",
          "[component][gateway]") {
    asio::io_context io;
    real_clock clock(io.get_executor());
    temp_store home;
    home.save("at-0", "rt-0", seconds{3600}, issuer);
    // Another process rotated the refresh token after we read the file.
    home.save("at-1", "rt-1", seconds{3600}, issuer);
    const auto now = sys_clock::now();
    diagnostics diag;
    auto ec = run_to_end(io, save(&clock, home.store,
                                  gateway_session{gateway().url, secret{"sess"}, now, now}, &diag));
    REQUIRE_FALSE(ec);
    auto stored = home.load();
    CHECK(stored.tokens.refresh_token->reveal() == "rt-1");  // not undone
    REQUIRE(stored.gateway);
    CHECK(stored.gateway->token.reveal() == "sess");

    SECTION("a login removed meanwhile is not recreated") {
        diagnostics d;
        REQUIRE(home.store.remove("default", d));
        auto gone = run_to_end(io, save(&clock, home.store,
                                        gateway_session{gateway().url, secret{"s"}, now, now}, &d));
        CHECK(gone == client_errc::not_logged_in);
        CHECK_FALSE(std::filesystem::exists(home.store.credentials_path("default")));
    }
}

TEST_CASE("the subject: a valid stored ID token as is; an expired one refreshed via token_source",
          "[component][gateway]") {
    asio::io_context io;
    test::fake_idp idp(io.get_executor(), issuer);
    test::counting_clock clock(io.get_executor());
    temp_store home;
    home.save("at-0", "rt-0", seconds{3600}, issuer);
    token_source_options o;
    o.token_endpoint = idp.token_endpoint();
    token_source src(io.get_executor(), idp, clock, home.store, "default", o);

    auto c = home.load();
    c.tokens.id_token = jwt_expiring(sys_clock::now() + std::chrono::hours(1));
    diagnostics diag;
    auto s = run_to_end(io, subject_of(&src, c, &diag));
    REQUIRE(s.has_value());
    CHECK(s->reveal() == c.tokens.id_token->reveal());
    CHECK(idp.requests.empty());

    // Expired: one forced refresh (rotating the stored refresh token); the fake IdP issues
    // no new ID token, so the user is told to log in again.
    c.tokens.id_token = jwt_expiring(sys_clock::now() - seconds{5});
    auto again = run_to_end(io, subject_of(&src, c, &diag));
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error() == client_errc::session_expired);
    CHECK(idp.refresh_requests == 1);
    CHECK(home.load().tokens.refresh_token->reveal() == "rt-1");
    CHECK(diag.client_message.find("log in again: latch login --context default") !=
          std::string::npos);
}
