// Scenario `poll`, driver `coro` (poll_multi.cpp has `multi`): F concurrent device flows
// (RFC 8628) on one thread, one async_drive coroutine per flow, each polling the
// canned endpoint at its interval, all sharing one http_client (one keep-alive pool per
// origin; at most --max-connections requests in flight: the http_client bounds only its
// idle pool, so the harness keeps the bound). The server answers authorization_pending to
// the first K polls of each device code and then a token (bench/poll_counter.js), so a flow
// ends with a token after K + 1 polls; the flow's own timeout (--seconds) ends any flow
// still waiting. Flow starts are staggered over one poll interval (--spread) so the load is
// steady. Lateness = time the poll was handed to the http client minus the deadline the
// flow asked to wait for.
#include "poll_common.hpp"

#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/http_client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>

namespace latchkey::bench {
namespace asio = boost::asio;

namespace {

struct null_user final : transport::user_port {
    void show(const flows::show_user&) override {}
};

struct poll_state {
    transport::http_client* http;
    transport::real_clock* clock;
    null_user user;
    poll_tally tally;
    // The per-origin bound: at most `limit` requests in flight (so at most `limit`
    // connections); later senders queue here in FIFO order and are handed a slot.
    int limit = 64;
    int in_flight = 0;
    std::deque<asio::steady_timer*> waiters;
};

// Takes a request slot, waiting in line when all are busy.
asio::awaitable<void> acquire_slot(poll_state* st) {
    if (st->in_flight < st->limit) {
        ++st->in_flight;
        co_return;
    }
    asio::steady_timer t(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    st->waiters.push_back(&t);
    (void)co_await t.async_wait(asio::as_tuple(asio::use_awaitable));  // cancelled = our turn
}

// Hands the slot to the first in line, or frees it.
void release_slot(poll_state* st) {
    if (st->waiters.empty()) {
        --st->in_flight;
        return;
    }
    auto* next = st->waiters.front();
    st->waiters.pop_front();
    next->cancel();
}

// Per-flow ports: forwards to the shared client and clock, remembering the last deadline
// so the next send can be timed against it. A send first waits for a slot (the bound),
// so lateness includes any wait for a free connection.
struct timed_ports final : transport::http_port, transport::clock_port {
    poll_state* st;
    std::optional<time_point> deadline;
    explicit timed_ports(poll_state* s) : st(s) {}

    time_point now() const override { return st->clock->now(); }
    asio::awaitable<error_code> async_wait_until(time_point d) override {
        deadline = d;
        co_return co_await st->clock->async_wait_until(d);
    }
    asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                              diagnostics& diag) override {
        co_await acquire_slot(st);
        if (deadline) {
            st->tally.late(
                std::chrono::duration<double, std::milli>(st->clock->now() - *deadline).count());
            deadline.reset();
        }
        auto resp = co_await st->http->async_send(std::move(req), ec, diag);
        release_slot(st);
        co_return resp;
    }
};

// `params` is shared by all flows (it outlives io.run()); each flow copies it into its
// own machine, so the coroutine frame holds a pointer rather than a second copy.
asio::awaitable<void> one_flow(poll_state* st, const flows::device_params* params,
                               std::chrono::microseconds offset) {
    (void)co_await st->clock->async_wait_until(st->clock->now() + offset);
    flows::device_flow flow(*params);
    timed_ports tp(st);
    diagnostics diag;
    auto r = co_await transport::async_drive(flow, transport::ports{tp, tp, st->user}, diag);
    st->tally.ended(r ? error_code{} : r.error(), diag);
}

}  // namespace

int run_poll_coro(const poll_options& o) {
    asio::io_context io(1);
    transport::http_client http(io.get_executor(), poll_http_options(o));
    transport::real_clock clock(io.get_executor());
    poll_state st;
    st.http = &http;
    st.clock = &clock;
    st.limit = o.max_connections;
    reserve_lateness(st.tally, o);

    const flows::device_params base = poll_device_params(o);

    poll_measure measure(io, o, st.tally);
    // Starts are spread over one poll interval (--spread: the interval the canned endpoint
    // sends), so the polls arrive evenly rather than in one burst per interval.
    const auto spread_us = static_cast<long long>(o.spread * 1e6);
    for (int i = 0; i < o.flows; ++i) {
        auto offset = std::chrono::microseconds(spread_us * i / o.flows);
        asio::co_spawn(io, one_flow(&st, &base, offset), asio::detached);
    }
    return measure.finish(http);
}

int run_poll(const poll_options& o) {
    return o.driver == "coro" ? run_poll_coro(o) : run_poll_multi(o);
}

}  // namespace latchkey::bench
