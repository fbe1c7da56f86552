// Scenario `refresh`: R refresh requests over C keep-alive connections, one thread, one
// io_context. Each request is a real refresh: a refresh_flow driven by async_drive over the
// library's http_client, its reply parsed into a token_set. No special fast path.
#include "bench.hpp"

#include <latchkey/flows/refresh_flow.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/http_client.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <cstdio>

namespace latchkey::bench {
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

struct null_user final : transport::user_port {
    void show(const flows::show_user&) override {}
};

struct refresh_state {
    const refresh_options* opts;
    transport::http_client* http;
    transport::real_clock* clock;
    null_user* user;
    steady::time_point stop_at;
    std::uint64_t started = 0;  // requests handed out
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;
    std::string first_error;
    std::vector<double> latencies_ms;
};

token_set make_current() {
    token_set t;
    t.access_token = secret("old-access-token");
    t.refresh_token = secret("bench-refresh-token-0123456789abcdef");
    return t;
}

asio::awaitable<void> worker(refresh_state* st) {
    transport::ports p{*st->http, *st->clock, *st->user};
    while (st->started < st->opts->requests && steady::now() < st->stop_at) {
        ++st->started;
        flows::refresh_params rp;
        rp.token_endpoint = st->opts->url;
        rp.client_id = "latch-bench";
        rp.current = make_current();
        flows::refresh_flow flow(std::move(rp));
        diagnostics diag;
        const auto t0 = steady::now();
        auto r = co_await transport::async_drive(flow, p, diag);
        const auto t1 = steady::now();
        if (r) {
            ++st->ok;
            st->latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        } else {
            if (st->failed++ == 0) st->first_error = r.error().message() + ": " + diag.to_string();
        }
    }
}

}  // namespace

int run_refresh(const refresh_options& o) {
    asio::io_context io(1);
    transport::http_options ho;
    ho.max_idle_per_origin = std::max<std::size_t>(64, static_cast<std::size_t>(o.connections));
    transport::http_client http(io.get_executor(), ho);
    transport::real_clock clock(io.get_executor());
    null_user user;

    refresh_state st;
    st.opts = &o;
    st.http = &http;
    st.clock = &clock;
    st.user = &user;
    st.latencies_ms.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(o.requests, 10'000'000)));

    const auto u0 = current_usage();
    const auto t0 = steady::now();
    st.stop_at = t0 + std::chrono::duration_cast<steady::duration>(
                          std::chrono::duration<double>(o.duration_max));
    for (int i = 0; i < o.connections; ++i) asio::co_spawn(io, worker(&st), asio::detached);
    io.run();
    const auto wall = std::chrono::duration<double>(steady::now() - t0).count();
    const auto u1 = current_usage();

    const double cpu = u1.cpu_s - u0.cpu_s;
    const double n = static_cast<double>(st.ok);
    const double p50 = percentile(st.latencies_ms, 50), p99 = percentile(st.latencies_ms, 99);
    std::printf(
        "{\"scenario\":\"refresh\",\"client\":\"latch\",\"connections\":%d,\"ok\":%llu,"
        "\"failed\":%llu,\"seconds\":%.3f,\"req_per_s\":%.1f,\"cpu_s\":%.3f,"
        "\"cpu_us_per_req\":%.2f,\"cpu_s_per_1000\":%.4f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
        "\"max_rss_kib\":%ld,\"connections_opened\":%zu}\n",
        o.connections, static_cast<unsigned long long>(st.ok),
        static_cast<unsigned long long>(st.failed), wall, n / wall, cpu,
        n > 0 ? cpu / n * 1e6 : 0.0, n > 0 ? cpu / n * 1e3 : 0.0, p50, p99, u1.max_rss_kib,
        http.connections_opened());
    if (st.failed) std::fprintf(stderr, "latch-bench: %llu failed; first: %s\n",
                                static_cast<unsigned long long>(st.failed), st.first_error.c_str());
    return st.ok > 0 && st.failed == 0 ? 0 : 1;
}

}  // namespace latchkey::bench
