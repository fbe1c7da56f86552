// transport::async_race: first success wins, a fatal failure ends both, a non-fatal one
// lets the other run; total and terminal cancellation reach both sides.
#include "support/fakes.hpp"
#include "support/lifecycle_run.hpp"

#include <latchkey/transport/race.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <utility>

using namespace latchkey;
namespace asio = boost::asio;

namespace {

const time_point t0 = sys_clock::from_time_t(1'790'000'000);

// Waits `after` of virtual time, then completes with `outcome`; records whether it ran to
// its end or was cancelled.
asio::awaitable<error_code> side(test::fake_clock& clock, seconds after, error_code outcome,
                                 bool& finished) {
    if (auto ec = co_await clock.async_wait_until(clock.now() + after)) co_return ec;
    finished = true;
    co_return outcome;
}

bool fatal(const error_code& ec) { return ec == oauth_errc::access_denied; }

struct rig {
    asio::io_context io;
    test::fake_clock clock{io.get_executor(), t0};
    bool a_done = false, b_done = false;
    std::vector<std::size_t> lone;
    transport::lone_failure_fn on_lone = [this](std::size_t s, const error_code&) { lone.push_back(s); };

    transport::race_result run(seconds a_after, error_code a, seconds b_after, error_code b) {
        return test::run_to_end(io, transport::async_race(side(clock, a_after, a, a_done),
                                                          side(clock, b_after, b, b_done), fatal, &on_lone));
    }
};

}  // namespace

TEST_CASE("race: the first success wins; the other side is cancelled", "[component][race]") {
    rig r;
    auto res = r.run(seconds{1}, {}, seconds{60}, {});
    CHECK(res.succeeded());
    CHECK(res.decided == 0);
    CHECK(r.a_done);
    CHECK_FALSE(r.b_done);
}

TEST_CASE("race: a non-fatal failure lets the other side finish", "[component][race]") {
    rig r;
    auto res = r.run(seconds{1}, client_errc::timeout, seconds{30}, {});
    CHECK(res.succeeded());
    CHECK(res.decided == 1);
    CHECK(r.b_done);
    CHECK(r.lone == std::vector<std::size_t>{0});
}

TEST_CASE("race: a fatal failure ends both", "[component][race]") {
    rig r;
    auto res = r.run(seconds{1}, oauth_errc::access_denied, seconds{30}, {});
    CHECK_FALSE(res.succeeded());
    CHECK(res.ec[res.decided] == oauth_errc::access_denied);
    CHECK_FALSE(r.b_done);
    CHECK(r.lone.empty());
}

TEST_CASE("race: two non-fatal failures: the last one decides", "[component][race]") {
    rig r;
    auto res = r.run(seconds{1}, client_errc::timeout, seconds{2}, oauth_errc::expired_token);
    CHECK(res.ec[res.decided] == oauth_errc::expired_token);
    CHECK(r.lone.size() == 1);
}

namespace {
asio::awaitable<transport::race_result> total_enabled(rig& r) {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    auto a = side(r.clock, seconds{100}, {}, r.a_done);
    auto b = side(r.clock, seconds{100}, {}, r.b_done);
    co_return co_await transport::async_race(std::move(a), std::move(b), fatal, &r.on_lone);
}

void run_cancelled(rig& r, asio::cancellation_type_t type, std::optional<transport::race_result>& out) {
    asio::cancellation_signal sig;
    bool sent = false;
    r.clock.on_wait = [&](time_point) {  // both sides are waiting: cancel the race
        if (std::exchange(sent, true)) return;
        asio::post(r.io, [&sig, type] { sig.emit(type); });
    };
    auto done = [&out](std::exception_ptr e, transport::race_result v) { if (!e) out = v; };
    asio::co_spawn(r.io, total_enabled(r), asio::bind_cancellation_slot(sig.slot(), done));
    r.io.run();
}
}  // namespace

TEST_CASE("race: total and terminal cancellation reach both sides", "[component][race]") {
    for (auto type : {asio::cancellation_type::total, asio::cancellation_type::terminal}) {
        rig r;
        std::optional<transport::race_result> out;
        run_cancelled(r, type, out);
        REQUIRE(out);
        CHECK(out->ec[0] == asio::error::operation_aborted);
        CHECK(out->ec[1] == asio::error::operation_aborted);
        CHECK_FALSE(r.a_done);
        CHECK_FALSE(r.b_done);
    }
}

namespace {
// A side that, like a login holding tokens, lets only terminal cancellation stop it.
asio::awaitable<error_code> terminal_only_side() {
    co_await asio::this_coro::reset_cancellation_state();
    const auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex, std::chrono::hours{1});
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    co_return ec;
}

asio::awaitable<transport::race_result> total_enabled_terminal_only() {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    auto a = terminal_only_side();
    auto b = terminal_only_side();
    co_return co_await transport::async_race(std::move(a), std::move(b), fatal);
}
}  // namespace

TEST_CASE("race: a terminal cancellation after a total one still reaches both sides (Ctrl-C twice)",
          "[component][race][hardening]") {
    asio::io_context io;
    asio::cancellation_signal sig;
    std::optional<transport::race_result> out;
    auto done = [&out](std::exception_ptr e, transport::race_result v) { if (!e) out = v; };
    asio::co_spawn(io, total_enabled_terminal_only(), asio::bind_cancellation_slot(sig.slot(), done));
    asio::steady_timer first(io, std::chrono::milliseconds{20}), second(io, std::chrono::milliseconds{60});
    first.async_wait([&sig](const error_code&) { sig.emit(asio::cancellation_type::total); });
    second.async_wait([&sig](const error_code&) { sig.emit(asio::cancellation_type::terminal); });
    const auto started = std::chrono::steady_clock::now();
    io.run_for(std::chrono::seconds{10});
    REQUIRE(out);  // parallel_group (Boost 1.81) forwarded only the total one: it hung
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds{5});
    CHECK(out->ec[0] == asio::error::operation_aborted);
    CHECK(out->ec[1] == asio::error::operation_aborted);
}
