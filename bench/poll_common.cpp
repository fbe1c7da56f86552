// The measuring half of the poll scenario (poll_common.hpp).
#include "poll_common.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>

namespace latchkey::bench {
namespace asio = boost::asio;

namespace {

asio::awaitable<void> async_mark_at(asio::io_context* io, const poll_tally* t, steady_mark* m,
                                    std::chrono::microseconds after) {
    asio::steady_timer timer(*io);
    timer.expires_after(after);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    m->cpu_s = current_usage().cpu_s;
    m->polls = t->polls;
}

asio::awaitable<void> async_sample_rss(asio::io_context* io, const poll_tally* t, long* peak,
                                       int flows) {
    asio::steady_timer timer(*io);
    while (t->finished < flows) {
        timer.expires_after(std::chrono::milliseconds(250));
        auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        *peak = std::max(*peak, current_rss_kib());
    }
}

}  // namespace

void poll_tally::ended(const error_code& ec, const diagnostics& diag) {
    ++finished;
    if (!ec)
        ++token;  // as planned: the server's K pending answers, then the token
    else if (ec == client_errc::timeout || ec == oauth_errc::expired_token)
        ++timed_out;
    else if (++errors == 1)
        first_error = ec.message() + ": " + diag.to_string();
}

transport::http_options poll_http_options(const poll_options& o) {
    transport::http_options ho;
    ho.max_idle_per_origin = static_cast<std::size_t>(o.max_connections);
    return ho;
}

flows::device_params poll_device_params(const poll_options& o) {
    flows::device_params p;
    p.device_authorization_endpoint = o.base + o.device_path;
    p.token_endpoint = o.base + o.token_path;
    p.client_id = "latch-bench";
    p.timeout = std::chrono::seconds(static_cast<long>(o.seconds));
    p.default_interval = std::chrono::seconds(1);
    return p;
}

void reserve_lateness(poll_tally& t, const poll_options& o) {
    t.lateness_ms.resize(static_cast<std::size_t>(o.flows) *
                         static_cast<std::size_t>(o.seconds / o.spread + 3));
    t.lateness_ms.clear();
}

// CPU per poll is taken over the steady phase only, while all F flows are waiting: from
// when every flow has its device code (the start spread plus a second) until the first
// flows get their token (K + 1 intervals after the first start), so neither the F device
// authorization requests of the start-up nor the token responses count as polls. With an
// always-pending endpoint (K unknown) it runs to the end of the run.
poll_measure::poll_measure(asio::io_context& io, const poll_options& o, poll_tally& t)
    : io_(io), o_(o), t_(t), rss0_(current_rss_kib()), peak_(rss0_), u0_(current_usage()),
      t0_(std::chrono::steady_clock::now()) {
    const auto spread_us = static_cast<long long>(o.spread * 1e6);
    steady_from_ = std::chrono::microseconds(spread_us + 1'000'000);
    steady_to_ = std::chrono::microseconds(spread_us * (o.pending_polls + 1));
    asio::co_spawn(io, async_sample_rss(&io, &t, &peak_, o.flows), asio::detached);
    asio::co_spawn(io, async_mark_at(&io, &t, &from_, steady_from_), asio::detached);
    if (o.pending_polls >= 0 && steady_to_ > steady_from_)
        asio::co_spawn(io, async_mark_at(&io, &t, &to_, steady_to_), asio::detached);
}

int poll_measure::finish(const transport::http_client& http) {
    // Hard bound: the last flow starts after `spread` and ends at its timeout.
    io_.run_for(std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double>(o_.spread + o_.seconds + 30)));
    const auto wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    const auto u1 = current_usage();
    const double cpu = u1.cpu_s - u0_.cpu_s;
    // The steady window: [steady_from, steady_to) when both marks were taken; up to the end
    // when the run ended before steady_to (or K is unknown); the whole run if it ended even
    // before steady_from.
    const bool from_taken = from_.cpu_s >= 0, to_taken = to_.cpu_s >= 0;
    const double cpu_from = from_taken ? from_.cpu_s : u0_.cpu_s;
    const double cpu_to = to_taken ? to_.cpu_s : u1.cpu_s;
    const auto polls_from = from_taken ? from_.polls : 0;
    const auto polls_to = to_taken ? to_.polls : t_.polls;
    const double steady_s =
        (to_taken ? std::chrono::duration<double>(steady_to_).count() : wall) -
        (from_taken ? std::chrono::duration<double>(steady_from_).count() : 0.0);
    const double steady_cpu = cpu_to - cpu_from;
    const double steady_polls = static_cast<double>(polls_to - polls_from);
    auto& late = t_.lateness_ms;
    const double p50 = percentile(late, 50), p99 = percentile(late, 99);
    const double mx = late.empty() ? 0.0 : late.back();
    std::printf(
        "{\"scenario\":\"poll\",\"client\":\"latch\",\"driver\":\"%s\",\"flows\":%d,"
        "\"seconds\":%.2f,\"polls\":%llu,\"polls_per_s\":%.1f,\"cpu_s\":%.3f,"
        "\"cpu_us_per_poll\":%.2f,\"rss_base_kib\":%ld,\"rss_peak_kib\":%ld,"
        "\"rss_bytes_per_flow\":%.0f,\"late_p50_ms\":%.3f,\"late_p99_ms\":%.3f,"
        "\"late_max_ms\":%.3f,\"steady_s\":%.2f,\"pending_polls\":%d,\"ended_token\":%d,"
        "\"ended_timeout\":%d,\"ended_error\":%d,\"connections_opened\":%zu}\n",
        o_.driver.c_str(), o_.flows, wall, static_cast<unsigned long long>(t_.polls),
        steady_s > 0 ? steady_polls / steady_s : 0.0, cpu,
        steady_polls > 0 ? steady_cpu / steady_polls * 1e6 : 0.0, rss0_, peak_,
        static_cast<double>(peak_ - rss0_) * 1024.0 / o_.flows, p50, p99, mx, steady_s,
        o_.pending_polls, t_.token, t_.timed_out, t_.errors, http.connections_opened());
    if (!t_.late20_per_s.empty()) {
        std::string at;
        for (std::size_t s = 0; s < t_.late20_per_s.size(); ++s)
            if (t_.late20_per_s[s]) at += " " + std::to_string(s) + "s:" + std::to_string(t_.late20_per_s[s]);
        std::fprintf(stderr, "latch-bench: polls over 20 ms late, per second of the run:%s\n", at.c_str());
    }
    if (t_.errors)
        std::fprintf(stderr, "latch-bench: %d flows ended with an error; first: %s\n", t_.errors,
                     t_.first_error.c_str());
    return t_.finished == o_.flows && t_.errors == 0 ? 0 : 1;
}

}  // namespace latchkey::bench
