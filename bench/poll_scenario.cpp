// Scenario `poll`: F concurrent device flows (RFC 8628) on one thread, each polling the
// canned endpoint at its interval, all sharing one http_client (one keep-alive pool per
// origin; at most --max-connections requests in flight: the http_client bounds only its
// idle pool, so the harness keeps the bound). The server answers authorization_pending to
// the first K polls of each device code and then a token (bench/poll_counter.js), so a flow
// ends with a token after K + 1 polls; the flow's own timeout (--seconds) ends any flow
// still waiting. Flow starts are staggered over one poll interval (--spread) so the load is
// steady. Lateness = time the poll was handed to the http client minus the deadline the
// flow asked to wait for.
#include "bench.hpp"

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
    std::uint64_t polls = 0;
    int finished = 0, token = 0, timed_out = 0, errors = 0;
    std::string first_error;
    std::vector<double> lateness_ms;
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
            st->lateness_ms.push_back(
                std::chrono::duration<double, std::milli>(st->clock->now() - *deadline).count());
            deadline.reset();
            ++st->polls;
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
    ++st->finished;
    if (r)
        ++st->token;  // as planned: the server's K pending answers, then the token
    else if (r.error() == client_errc::timeout || r.error() == oauth_errc::expired_token)
        ++st->timed_out;
    else if (++st->errors == 1)
        st->first_error = r.error().message() + ": " + diag.to_string();
}

// CPU per poll is taken over the steady phase only, while all F flows are waiting: from
// when every flow has its device code (the start spread plus a second) until the first
// flows get their token (K + 1 intervals after the first start), so neither the F device
// authorization requests of the start-up nor the token responses count as polls.
struct steady_mark {
    double cpu_s = -1;
    std::uint64_t polls = 0;
};

asio::awaitable<void> mark_at(asio::io_context* io, poll_state* st, steady_mark* m,
                              std::chrono::microseconds after) {
    asio::steady_timer t(*io);
    t.expires_after(after);
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    m->cpu_s = current_usage().cpu_s;
    m->polls = st->polls;
}

asio::awaitable<void> sample_rss(asio::io_context* io, poll_state* st, long* peak, int flows) {
    asio::steady_timer t(*io);
    while (st->finished < flows) {
        t.expires_after(std::chrono::milliseconds(250));
        auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        *peak = std::max(*peak, current_rss_kib());
    }
}

}  // namespace

int run_poll(const poll_options& o) {
    asio::io_context io(1);
    transport::http_options ho;
    ho.max_idle_per_origin = static_cast<std::size_t>(o.max_connections);
    transport::http_client http(io.get_executor(), ho);
    transport::real_clock clock(io.get_executor());
    poll_state st;
    st.http = &http;
    st.clock = &clock;
    st.limit = o.max_connections;
    // Room for every poll, touched now so that its pages count in the baseline RSS rather
    // than in the per-flow figure (a poll every `spread` seconds, plus slack).
    st.lateness_ms.resize(static_cast<std::size_t>(o.flows) *
                          static_cast<std::size_t>(o.seconds / o.spread + 3));
    st.lateness_ms.clear();

    flows::device_params base;
    base.device_authorization_endpoint = o.base + "/device";
    base.token_endpoint = o.base + "/device-token";
    base.client_id = "latch-bench";
    base.timeout = std::chrono::seconds(static_cast<long>(o.seconds));
    base.default_interval = std::chrono::seconds(1);

    const long rss0 = current_rss_kib();
    long peak = rss0;
    const auto u0 = current_usage();
    const auto t0 = std::chrono::steady_clock::now();
    // Starts are spread over one poll interval (--spread: the interval the canned endpoint
    // sends), so the polls arrive evenly rather than in one burst per interval.
    const auto spread_us = static_cast<long long>(o.spread * 1e6);
    for (int i = 0; i < o.flows; ++i) {
        auto offset = std::chrono::microseconds(spread_us * i / o.flows);
        asio::co_spawn(io, one_flow(&st, &base, offset), asio::detached);
    }
    asio::co_spawn(io, sample_rss(&io, &st, &peak, o.flows), asio::detached);
    steady_mark mark, mark_end;
    const auto steady_from = std::chrono::microseconds(spread_us + 1'000'000);
    const auto steady_to = std::chrono::microseconds(spread_us * (o.pending_polls + 1));
    asio::co_spawn(io, mark_at(&io, &st, &mark, steady_from), asio::detached);
    if (o.pending_polls >= 0 && steady_to > steady_from)
        asio::co_spawn(io, mark_at(&io, &st, &mark_end, steady_to), asio::detached);
    io.run_for(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(o.seconds + 30)));  // hard bound
    const auto wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto u1 = current_usage();
    const double cpu = u1.cpu_s - u0.cpu_s;
    // The steady window: [steady_from, steady_to) when both marks were taken; up to the end
    // when the run ended before steady_to (or K is unknown); the whole run if it ended even
    // before steady_from.
    const bool from_taken = mark.cpu_s >= 0, to_taken = mark_end.cpu_s >= 0;
    const double cpu_from = from_taken ? mark.cpu_s : u0.cpu_s;
    const double cpu_to = to_taken ? mark_end.cpu_s : u1.cpu_s;
    const auto polls_from = from_taken ? mark.polls : 0;
    const auto polls_to = to_taken ? mark_end.polls : st.polls;
    const double steady_s = (to_taken ? std::chrono::duration<double>(steady_to).count() : wall) -
                            (from_taken ? std::chrono::duration<double>(steady_from).count() : 0.0);
    const double steady_cpu = cpu_to - cpu_from;
    const double steady_polls = static_cast<double>(polls_to - polls_from);
    const auto n_late = st.lateness_ms.size();
    const double p50 = percentile(st.lateness_ms, 50), p99 = percentile(st.lateness_ms, 99);
    const double mx = n_late ? st.lateness_ms.back() : 0.0;
    std::printf(
        "{\"scenario\":\"poll\",\"client\":\"latch\",\"flows\":%d,\"seconds\":%.2f,\"polls\":%llu,"
        "\"polls_per_s\":%.1f,\"cpu_s\":%.3f,\"cpu_us_per_poll\":%.2f,\"rss_base_kib\":%ld,"
        "\"rss_peak_kib\":%ld,\"rss_bytes_per_flow\":%.0f,\"late_p50_ms\":%.3f,"
        "\"late_p99_ms\":%.3f,\"late_max_ms\":%.3f,\"steady_s\":%.2f,\"pending_polls\":%d,"
        "\"ended_token\":%d,\"ended_timeout\":%d,\"ended_error\":%d,\"connections_opened\":%zu}\n",
        o.flows, wall, static_cast<unsigned long long>(st.polls),
        steady_s > 0 ? steady_polls / steady_s : 0.0, cpu,
        steady_polls > 0 ? steady_cpu / steady_polls * 1e6 : 0.0, rss0, peak,
        static_cast<double>(peak - rss0) * 1024.0 / o.flows, p50, p99, mx, steady_s, o.pending_polls,
        st.token, st.timed_out, st.errors, http.connections_opened());
    if (st.errors) std::fprintf(stderr, "latch-bench: %d flows ended with an error; first: %s\n",
                                st.errors, st.first_error.c_str());
    return st.finished == o.flows && st.errors == 0 ? 0 : 1;
}

}  // namespace latchkey::bench
