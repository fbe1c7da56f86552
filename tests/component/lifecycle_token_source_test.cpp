// token_source against an in-memory IdP that rotates refresh tokens like oidc-provider
// (a replayed refresh token is invalid_grant, so a double refresh is visible).
#include "support/lifecycle_fakes.hpp"
#include "support/lifecycle_run.hpp"
#include "support/transport_helpers.hpp"

#include <latchkey/transport/client_services.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <map>

using namespace latchkey;
using namespace latchkey::transport;
using latchkey::test::fake_idp;
using latchkey::test::run_to_end;
using latchkey::test::temp_store;
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

const std::string issuer = "http://127.0.0.1:1";

struct fixture {
    asio::io_context io;
    fake_idp idp{io.get_executor(), issuer};
    test::counting_clock clock{io.get_executor()};
    temp_store home;

    token_source_options opts() const {
        token_source_options o;
        o.token_endpoint = idp.token_endpoint();
        return o;
    }
    token_source make(token_source_options o) {
        return token_source(io.get_executor(), idp, clock, home.store, "default", std::move(o));
    }
};

struct outcome {
    result<secret> tok = client_errc::cancelled;
    diagnostics diag;
};

asio::awaitable<outcome> async_get(token_source* src) {
    outcome o;
    o.tok = co_await src->token(o.diag);
    co_return o;
}

// One of many concurrent callers: records the token it got, or the error.
asio::awaitable<void> async_caller(token_source* src, std::map<std::string, int>* seen) {
    diagnostics diag;
    auto tok = co_await src->token(diag);
    ++(*seen)[tok ? tok->reveal() : "error: " + tok.error().message()];
}

}  // namespace

TEST_CASE("10,000 concurrent token() calls with an expired token send exactly 1 refresh",
          "[component][lifecycle]") {
    fixture f;
    f.home.save("at-0", "rt-0", seconds{-10}, issuer);
    f.idp.latency = milliseconds{20};
    auto src = f.make(f.opts());
    std::map<std::string, int> seen;
    for (int i = 0; i < 10'000; ++i)
        asio::co_spawn(f.io, async_caller(&src, &seen), asio::detached);
    f.io.run();

    CHECK(f.idp.refresh_requests == 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen.begin()->first == "at-1");
    CHECK(seen.begin()->second == 10'000);
    CHECK(src.refresh_count() == 1);
    CHECK(src.adopted_count() == 0);  // one flight: nobody queued on the lock behind it
    CHECK(f.clock.waits == 0);
    auto stored = f.home.load();
    CHECK(stored.tokens.access_token.reveal() == "at-1");
    CHECK(stored.tokens.refresh_token->reveal() == "rt-1");  // rotated token saved
    CHECK(f.idp.current_refresh == "rt-1");                  // and never replayed
}

TEST_CASE("a token outside the window is served from memory without any request",
          "[component][lifecycle]") {
    fixture f;
    f.home.save("at-0", "rt-0", seconds{3600}, issuer);
    auto src = f.make(f.opts());
    auto a = run_to_end(f.io, async_get(&src));
    REQUIRE(a.tok);
    CHECK(a.tok->reveal() == "at-0");
    // Logged out meanwhile: the cached token is still outside the window, no re-read.
    diagnostics d;
    auto removed = f.home.store.remove("default", d);
    REQUIRE(removed.has_value());
    REQUIRE(*removed);
    auto b = run_to_end(f.io, async_get(&src));
    REQUIRE(b.tok);
    CHECK(b.tok->reveal() == "at-0");
    CHECK(f.idp.requests.empty());
}

TEST_CASE("refresh happens inside refresh_window + clock_skew, not before",
          "[component][lifecycle]") {
    fixture f;
    auto o = f.opts();
    o.refresh_window = seconds{60};
    o.clock_skew = seconds{30};
    SECTION("100 s left: outside 60 + 30") {
        f.home.save("at-0", "rt-0", seconds{100}, issuer);
        auto src = f.make(o);
        auto r = run_to_end(f.io, async_get(&src));
        REQUIRE(r.tok);
        CHECK(r.tok->reveal() == "at-0");
        CHECK(f.idp.refresh_requests == 0);
    }
    SECTION("80 s left: inside") {
        f.home.save("at-0", "rt-0", seconds{80}, issuer);
        auto src = f.make(o);
        auto r = run_to_end(f.io, async_get(&src));
        REQUIRE(r.tok);
        CHECK(r.tok->reveal() == "at-1");
        CHECK(f.idp.refresh_requests == 1);
    }
    SECTION("the CLI's 300 s window") {
        o.refresh_window = seconds{300};
        f.home.save("at-0", "rt-0", seconds{200}, issuer);
        auto src = f.make(o);
        auto r = run_to_end(f.io, async_get(&src));
        REQUIRE(r.tok);
        CHECK(r.tok->reveal() == "at-1");
    }
}

TEST_CASE("a reply without a refresh token keeps the stored one", "[component][lifecycle]") {
    fixture f;
    f.idp.rotate = false;
    f.home.save("at-0", "rt-0", seconds{-1}, issuer);
    auto src = f.make(f.opts());
    auto r = run_to_end(f.io, async_get(&src));
    REQUIRE(r.tok);
    auto stored = f.home.load();
    CHECK(stored.tokens.access_token.reveal() == "at-1");
    CHECK(stored.tokens.refresh_token->reveal() == "rt-0");
}

TEST_CASE("invalid_grant marks the store expired and reports session_expired",
          "[component][lifecycle]") {
    fixture f;
    f.idp.fail_refresh = fake_idp::failure::invalid_grant;
    f.home.save("at-0", "rt-0", seconds{-1}, issuer);
    auto src = f.make(f.opts());
    auto r = run_to_end(f.io, async_get(&src));
    REQUIRE_FALSE(r.tok);
    CHECK(r.tok.error() == client_errc::session_expired);
    CHECK(needs_login(r.tok.error()));
    CHECK(r.diag.client_message == "session expired — run `latch login`");
    CHECK(r.diag.server_message == "grant request is invalid");
    auto stored = f.home.load();  // kept, not deleted
    CHECK(stored.expired);
    CHECK(f.home.bytes().find("\"status\":\"expired\"") != std::string::npos);
    CHECK(stored.tokens.refresh_token->reveal() == "rt-0");
    // Next call: no request, same answer.
    auto again = run_to_end(f.io, async_get(&src));
    CHECK(again.tok.error() == client_errc::session_expired);
    CHECK(f.idp.refresh_requests == 1);
}

TEST_CASE("network failure during refresh leaves the store byte-identical",
          "[component][lifecycle]") {
    fixture f;
    f.idp.fail_refresh = fake_idp::failure::network_error;
    f.home.save("at-0", "rt-0", seconds{-1}, issuer);
    const auto before = f.home.bytes();
    auto src = f.make(f.opts());
    auto r = run_to_end(f.io, async_get(&src));
    REQUIRE_FALSE(r.tok);
    CHECK(r.tok.error() == client_errc::connection_failed);
    CHECK_FALSE(needs_login(r.tok.error()));
    CHECK(r.diag.client_message.find("not retried") != std::string::npos);
    CHECK(f.home.bytes() == before);
    CHECK(f.idp.refresh_requests == 1);
}

TEST_CASE("refresh failure with a still-valid token: fallback is an option",
          "[component][lifecycle]") {
    fixture f;
    f.idp.fail_refresh = fake_idp::failure::html_500;
    f.home.save("at-0", "rt-0", seconds{45}, issuer);  // inside the window, still valid
    const auto before = f.home.bytes();
    SECTION("default: the old token, with the failure as a warning") {
        auto src = f.make(f.opts());
        auto r = run_to_end(f.io, async_get(&src));
        REQUIRE(r.tok);
        CHECK(r.tok->reveal() == "at-0");
        CHECK(r.diag.client_message.find("500") != std::string::npos);
    }
    SECTION("use_valid_token_on_failure = false: the error") {
        auto o = f.opts();
        o.use_valid_token_on_failure = false;
        auto src = f.make(o);
        auto r = run_to_end(f.io, async_get(&src));
        REQUIRE_FALSE(r.tok);
        CHECK(r.tok.error() == client_errc::bad_http_status);
    }
    CHECK(f.home.bytes() == before);
}

TEST_CASE("no credentials is not_logged_in", "[component][lifecycle]") {
    fixture f;
    auto src = f.make(f.opts());
    auto r = run_to_end(f.io, async_get(&src));
    REQUIRE_FALSE(r.tok);
    CHECK(r.tok.error() == client_errc::not_logged_in);
    CHECK(r.diag.client_message == "not logged in (context 'default'); run `latch login`");
    CHECK(f.idp.requests.empty());
}

TEST_CASE("auto_refresh off returns a valid token, else session_expired",
          "[component][lifecycle]") {
    fixture f;
    auto o = f.opts();
    o.auto_refresh = false;
    SECTION("inside the window but valid") {
        f.home.save("at-0", "rt-0", seconds{45}, issuer);
        auto src = f.make(o);
        auto r = run_to_end(f.io, async_get(&src));
        REQUIRE(r.tok);
        CHECK(r.tok->reveal() == "at-0");
    }
    SECTION("expired") {
        f.home.save("at-0", "rt-0", seconds{-5}, issuer);
        auto src = f.make(o);
        auto r = run_to_end(f.io, async_get(&src));
        REQUIRE_FALSE(r.tok);
        CHECK(r.tok.error() == client_errc::session_expired);
    }
    CHECK(f.idp.requests.empty());
}

TEST_CASE("expired token without a refresh token is session_expired",
          "[component][lifecycle]") {
    fixture f;
    f.home.save("at-0", "", seconds{-5}, issuer);
    auto src = f.make(f.opts());
    auto r = run_to_end(f.io, async_get(&src));
    REQUIRE_FALSE(r.tok);
    CHECK(r.tok.error() == client_errc::session_expired);
    CHECK(f.idp.requests.empty());
}

namespace {
asio::awaitable<result<token_set>> async_force(token_source* src) {
    diagnostics d;
    co_return co_await src->force_refresh(d);
}
}  // namespace

TEST_CASE("force_refresh refreshes a fresh token and stores the rotation",
          "[component][lifecycle]") {
    fixture f;
    f.home.save("at-0", "rt-0", seconds{3600}, issuer);
    auto src = f.make(f.opts());
    auto r = run_to_end(f.io, async_force(&src));
    REQUIRE(r.has_value());
    CHECK(r->access_token.reveal() == "at-1");
    CHECK(f.home.load().tokens.refresh_token->reveal() == "rt-1");
    auto again = run_to_end(f.io, async_force(&src));
    REQUIRE(again.has_value());
    CHECK(again->access_token.reveal() == "at-2");
    CHECK(f.idp.refresh_requests == 2);
    CHECK(f.idp.current_refresh == "rt-2");
}

TEST_CASE("the token endpoint is discovered once per client_services, and only there",
          "[component][lifecycle]") {
    fixture f;
    f.home.save("at-0", "rt-0", seconds{-5}, issuer);
    token_source_options o;  // no token_endpoint: discover
    client_services shared(f.idp, f.clock);
    token_source src(f.io.get_executor(), shared, f.home.store, "default", o);
    REQUIRE(run_to_end(f.io, async_force(&src)).has_value());
    token_source other(f.io.get_executor(), shared, f.home.store, "default", o);
    REQUIRE(run_to_end(f.io, async_force(&other)).has_value());
    CHECK(f.idp.discovery_requests == 1);
    CHECK(shared.discovery.fetches() == 1);
    // A client of its own shares no hidden state with the first one: it discovers again.
    auto independent = f.make(o);
    REQUIRE(run_to_end(f.io, async_force(&independent)).has_value());
    CHECK(f.idp.discovery_requests == 2);
    CHECK(f.idp.refresh_requests == 3);
}

TEST_CASE("two sources of one context (two 'processes') refresh once between them",
          "[component][lifecycle]") {
    fixture f;
    f.home.save("at-0", "rt-0", seconds{-5}, issuer);
    f.idp.latency = milliseconds{30};
    auto a = f.make(f.opts());
    auto b = f.make(f.opts());
    std::map<std::string, int> seen;
    for (int i = 0; i < 100; ++i) {
        asio::co_spawn(f.io, async_caller(&a, &seen), asio::detached);
        asio::co_spawn(f.io, async_caller(&b, &seen), asio::detached);
    }
    f.io.run();
    CHECK(f.idp.refresh_requests == 1);
    CHECK(a.refresh_count() + b.refresh_count() == 1);
    CHECK(a.adopted_count() + b.adopted_count() == 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen.begin()->first == "at-1");
    CHECK(seen.begin()->second == 200);
}

TEST_CASE("a cancelled caller leaves the shared refresh running for the others",
          "[component][lifecycle]") {
    fixture f;
    f.home.save("at-0", "rt-0", seconds{-5}, issuer);
    f.idp.latency = milliseconds{50};
    auto src = f.make(f.opts());
    std::map<std::string, int> seen;
    for (int i = 0; i < 10; ++i)
        asio::co_spawn(f.io, async_caller(&src, &seen), asio::detached);
    asio::cancellation_signal sig;
    std::optional<outcome> cancelled;
    auto on_cancelled_done = [&cancelled](std::exception_ptr, outcome o) { cancelled = std::move(o); };
    asio::co_spawn(f.io, async_get(&src),
                   asio::bind_cancellation_slot(sig.slot(), on_cancelled_done));
    // Once the refresh POST is on the wire, cancel that one caller.
    auto cancel_when_sent = [&f, &sig]() -> bool {
        if (f.idp.refresh_requests == 0 && f.idp.requests.empty()) return false;
        sig.emit(asio::cancellation_type::terminal);
        return true;
    };
    asio::co_spawn(f.io, test::async_poll_until(cancel_when_sent, milliseconds{5000}),
                   asio::detached);
    f.io.run();
    REQUIRE(cancelled);
    REQUIRE_FALSE(cancelled->tok);
    CHECK(cancelled->tok.error() == client_errc::cancelled);
    REQUIRE(seen.size() == 1);
    CHECK(seen.begin()->first == "at-1");
    CHECK(seen.begin()->second == 10);
    CHECK(f.idp.refresh_requests == 1);
    CHECK(f.home.load().tokens.refresh_token->reveal() == "rt-1");  // saved despite the cancel
}
