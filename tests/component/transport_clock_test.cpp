// real_clock: wall-clock now(), steady waits, cancellation through the coroutine's slot.
#include <latchkey/transport/http_client.hpp>

#include "support/test_server.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include <catch2/catch.hpp>

namespace {
namespace asio = boost::asio;
using namespace latchkey;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

asio::awaitable<void> waits(transport::real_clock* clock) {
    auto start = steady::now();
    auto ec = co_await clock->async_wait_until(clock->now() + milliseconds(30));
    auto waited = steady::now() - start;
    CHECK_FALSE(ec);
    CHECK(waited >= milliseconds(25));
    CHECK(waited < milliseconds(1000));

    start = steady::now();
    ec = co_await clock->async_wait_until(clock->now() - std::chrono::hours(1));
    CHECK_FALSE(ec);  // a deadline in the past fires at once
    CHECK(steady::now() - start < milliseconds(100));
}

TEST_CASE("real_clock: now() is the system clock and waits reach the deadline",
          "[transport]") {
    asio::io_context ioc;
    transport::real_clock clock(ioc.get_executor());
    auto diff = clock.now() - std::chrono::system_clock::now();
    CHECK(std::chrono::abs(diff) < std::chrono::seconds(1));
    test::run_test(ioc, waits(&clock));
}

// A caller that lets total cancellation through (the default lets only terminal through).
asio::awaitable<error_code> wait_allowing_total(transport::real_clock* clock, time_point until) {
    co_await asio::this_coro::reset_cancellation_state(asio::enable_total_cancellation());
    co_return co_await clock->async_wait_until(until);
}

struct cancel_result {
    bool finished = false;
    error_code ec;
    steady::duration took{};
};

// Starts a 10 s wait, emits `type` on its slot after 20 ms, runs until it completes.
cancel_result cancel_after_20ms(asio::cancellation_type type, bool allow_total) {
    asio::io_context ioc;
    transport::real_clock clock(ioc.get_executor());
    asio::cancellation_signal sig;
    cancel_result r;
    auto until = clock.now() + std::chrono::seconds(10);
    auto on_done = [&r](std::exception_ptr, error_code ec) {
        r.finished = true;
        r.ec = ec;
    };
    if (allow_total)
        asio::co_spawn(ioc, wait_allowing_total(&clock, until),
                       asio::bind_cancellation_slot(sig.slot(), on_done));
    else
        asio::co_spawn(ioc, clock.async_wait_until(until),
                       asio::bind_cancellation_slot(sig.slot(), on_done));
    asio::steady_timer timer(ioc, milliseconds(20));
    auto fire = [&sig, type](error_code) { sig.emit(type); };
    timer.async_wait(fire);
    auto start = steady::now();
    while (!r.finished && ioc.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    r.took = steady::now() - start;
    return r;
}

TEST_CASE("real_clock: a wait ends with operation_aborted when cancelled", "[transport]") {
    SECTION("terminal") {
        auto r = cancel_after_20ms(asio::cancellation_type::terminal, false);
        REQUIRE(r.finished);
        CHECK(r.ec == asio::error::operation_aborted);
        CHECK(r.took < milliseconds(1000));
    }
    SECTION("total, when the caller's filter lets it through") {
        auto r = cancel_after_20ms(asio::cancellation_type::total, true);
        REQUIRE(r.finished);
        CHECK(r.ec == asio::error::operation_aborted);
        CHECK(r.took < milliseconds(1000));
    }
}

}  // namespace
