// Scenario `poll`, driver `multi`: the same F device flows as poll_scenario.cpp, run by
// transport::multi_driver: each flow is a device_flow machine in the driver's table (one
// shared copy of the parameters), one timer loop wakes them, at most --max-connections
// HTTP exchanges are in flight (the driver's bound, so no harness queue). Starts are spread
// over --spread seconds by one starter coroutine. Lateness = when the driver hands a
// woken flow's poll to the http client minus the deadline the flow asked for (so it
// includes any wait for a free exchange slot, like the coro driver's figure).
#include "poll_common.hpp"

#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/multi_drive.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>

namespace latchkey::bench {
namespace asio = boost::asio;

namespace {

struct multi_state {
    transport::multi_driver* driver = nullptr;
    std::shared_ptr<const flows::device_params> params;
    poll_tally* tally = nullptr;
    int flows = 0;
};

// Adds flow i at spread * i / F seconds after the start, waking at most once a
// millisecond and adding every flow due by then (a timer wait per flow cost a timerfd
// reprogramming and a wake-up each: at 100k flows over 5 s, the starter alone took a
// third of the client's core while the first polls began).
asio::awaitable<void> async_start_flows(asio::io_context* io, multi_state* st, double spread) {
    asio::steady_timer timer(*io);
    const auto start = std::chrono::steady_clock::now();
    const auto spread_us = static_cast<long long>(spread * 1e6);
    auto due = [&](int i) { return start + std::chrono::microseconds(spread_us * i / st->flows); };
    for (int i = 0; i < st->flows;) {
        const auto now = std::chrono::steady_clock::now();
        while (i < st->flows && due(i) <= now) {
            st->driver->add(std::make_unique<flows::device_flow>(st->params));
            ++i;
        }
        if (i == st->flows) break;
        timer.expires_at(std::max(due(i), now + std::chrono::milliseconds(1)));
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
    }
}

}  // namespace

int run_poll_multi(const poll_options& o) {
    asio::io_context io(1);
    transport::http_client http(io.get_executor(), poll_http_options(o));
    transport::real_clock clock(io.get_executor());
    poll_tally tally;
    reserve_lateness(tally, o);

    auto params = std::make_shared<const flows::device_params>(poll_device_params(o));

    multi_state st;
    st.params = std::move(params);
    st.tally = &tally;
    st.flows = o.flows;
    transport::multi_driver::handlers h;
    h.on_done = [&st](flows::flow_id, result<token_set> r, const diagnostics& diag) {
        st.tally->ended(r ? error_code{} : r.error(), diag);
        if (st.tally->finished == st.flows) st.driver->stop();
    };
    h.on_poll = [&st](flows::flow_id, time_point deadline, time_point sent) {
        st.tally->late(std::chrono::duration<double, std::milli>(sent - deadline).count());
    };
    transport::multi_driver::options mo;
    mo.max_in_flight = static_cast<std::size_t>(o.max_connections);
    mo.run_until_stopped = true;  // flows are added over the spread
    if (o.timer_slack_us >= 0) mo.timer_slack = std::chrono::microseconds(o.timer_slack_us);
    transport::multi_driver driver(io.get_executor(), http, clock, std::move(h), mo);
    st.driver = &driver;

    poll_measure measure(io, o, tally);
    asio::co_spawn(io, driver.async_run(), asio::detached);
    asio::co_spawn(io, async_start_flows(&io, &st, o.spread), asio::detached);
    return measure.finish(http);
}

}  // namespace latchkey::bench
