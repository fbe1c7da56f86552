// Scenario `embed` (issue 16): what a token_source costs a program that embeds it. An async
// HTTP server (Beast, one io_context, one thread) answers every request with a short body;
// with --token each request first does `co_await source.token(diag)` on a valid cached
// token (a memory read: no file, no lock, no request). bench/run.sh runs wrk against the
// server both ways in the same run. Before serving, the token call alone is timed in a
// loop (batches of 1000 calls; the median batch, per call).
//
// Prints {"listening":PORT} once bound, then, when the bound (--seconds) or SIGTERM ends
// it, one JSON line with the requests served and the token call's cost.
#include "bench.hpp"

#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdio>

namespace latchkey::bench {
namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

struct embed_state {
    transport::token_source* source = nullptr;  // null: serve without the token call
    std::uint64_t requests = 0;
    std::uint64_t token_failures = 0;
    std::vector<double> token_ns;  // per request, while it is under 1M entries
};

double ns_since(steady::time_point t0) {
    return std::chrono::duration<double, std::nano>(steady::now() - t0).count();
}

// One keep-alive connection: read a request, (get the token,) answer, until it closes.
asio::awaitable<void> async_session(tcp::socket sock, embed_state* st) {
    boost::beast::flat_buffer buf;
    for (;;) {
        http::request<http::string_body> req;
        auto [rec, read_n] = co_await http::async_read(sock, buf, req, nothrow);
        if (rec) co_return;
        http::response<http::string_body> res{http::status::ok, req.version()};
        res.body() = "ok\n";
        if (st->source) {
            diagnostics diag;
            const auto t0 = steady::now();
            auto tok = co_await st->source->token(diag);
            const double ns = ns_since(t0);
            if (st->token_ns.size() < 1'000'000) st->token_ns.push_back(ns);
            if (!tok) {
                ++st->token_failures;
                res.result(http::status::internal_server_error);
            }
        }
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        auto [wec, n] = co_await http::async_write(sock, res, nothrow);
        ++st->requests;
        if (wec || !res.keep_alive()) co_return;
    }
}

asio::awaitable<void> async_accept_loop(tcp::acceptor& acc, embed_state* st) {
    for (;;) {
        auto [ec, sock] = co_await acc.async_accept(nothrow);
        if (ec) co_return;
        asio::co_spawn(acc.get_executor(), async_session(std::move(sock), st), asio::detached);
    }
}

// The token call alone: `batches` batches of 1000 calls; the per-call time of each batch.
asio::awaitable<void> async_time_calls(transport::token_source& source, int batches,
                                       std::vector<double>* per_call_ns, bool* ok) {
    *ok = true;
    for (int b = 0; b < batches; ++b) {
        const auto t0 = steady::now();
        for (int i = 0; i < 1000; ++i) {
            diagnostics diag;
            auto tok = co_await source.token(diag);
            if (!tok) *ok = false;
        }
        per_call_ns->push_back(ns_since(t0) / 1000);
    }
}

}  // namespace

int run_embed(const embed_options& o) {
    asio::io_context io(1);
    transport::http_client http(io.get_executor());
    transport::real_clock clock(io.get_executor());
    transport::token_source source(io.get_executor(), http, clock,
                                   credential_store{std::filesystem::path(o.home)}, "default");
    embed_state st;
    if (o.with_token) st.source = &source;

    std::vector<double> loop_ns;
    bool loop_ok = false;
    asio::co_spawn(io, async_time_calls(source, 200, &loop_ns, &loop_ok), asio::detached);
    io.run();
    io.restart();
    if (!loop_ok) {
        std::fprintf(stderr, "latch-bench embed: no valid cached token under %s (write-creds)\n",
                     o.home.c_str());
        return 1;
    }

    tcp::acceptor acc(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    std::printf("{\"listening\":%u}\n", static_cast<unsigned>(acc.local_endpoint().port()));
    std::fflush(stdout);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    asio::steady_timer bound(io, std::chrono::duration_cast<steady::duration>(
                                     std::chrono::duration<double>(o.seconds)));
    signals.async_wait([&](auto, int) { io.stop(); });
    bound.async_wait([&](auto) { io.stop(); });
    asio::co_spawn(io, async_accept_loop(acc, &st), asio::detached);
    const auto u0 = current_usage();
    io.run();
    const auto u1 = current_usage();

    std::printf("{\"scenario\":\"embed\",\"mode\":\"%s\",\"requests\":%llu,\"token_failures\":%llu,"
                "\"cpu_s\":%.3f,\"token_ns_p50\":%.1f,\"token_ns_p99\":%.1f,"
                "\"loop_ns_per_call_p50\":%.1f,\"loop_ns_per_call_min\":%.1f}\n",
                o.with_token ? "token" : "plain", static_cast<unsigned long long>(st.requests),
                static_cast<unsigned long long>(st.token_failures), u1.cpu_s - u0.cpu_s,
                percentile(st.token_ns, 50), percentile(st.token_ns, 99),
                percentile(loop_ns, 50), percentile(loop_ns, 0));
    return st.token_failures == 0 ? 0 : 1;
}

}  // namespace latchkey::bench
