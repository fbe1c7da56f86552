// `latch-idp serve` with platforms (seed 003: every platform its own auth service and
// database): one process, one io_context, one listener, one hashing pool, and one idp_state
// per platform (its store, keys, sealing key, CSRF key, rate limits, counters). A request
// reaches a platform by its Host header or under /p/NAME/ (flows/server/platform_route.hpp);
// anything else is 404 and names no platform. Platforms are read at start: one added while
// serving is served from the next start.
#include "serve.hpp"

#include <latchkey/flows/server/platform_route.hpp>

#include <boost/asio/awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <thread>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

struct platform_table {
    std::vector<fs::platform_entry> entries;
    std::vector<served_data> served;  // same order
    std::vector<platform_metrics> metrics;
    const ts::http_server* server = nullptr;
};

http_response plain(int status, std::string body) {
    http_response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    r.headers = {{"Cache-Control", "no-store"}, {"X-Content-Type-Options", "nosniff"}};
    return r;
}

boost::asio::awaitable<http_response> handle_platforms(platform_table& t, ts::server_request req) {
    auto match = fs::route_platform(req.target, req.header("Host"), t.entries);
    if (!match) co_return plain(404, "not found\n");
    req.target = std::move(match->target);
    idp_state& st = *t.served[match->index].state;
    auto answer = handle(st, std::move(req));
    co_return co_await std::move(answer);
}

// --metrics-listen: /healthz; /readyz when every platform is ready; /metrics of all of them.
boost::asio::awaitable<http_response> handle_platforms_ops(platform_table& t, ts::server_request req) {
    const auto path = req.path();
    if (path == "/metrics" && req.method == http_method::get) {
        auto& first = *t.served.front().state;
        std::size_t queued = 0;
        for (const auto& s : t.served) queued += s.store->queued();
        ops_gauges g{first.hasher.in_flight(), hashing_capacity, queued, t.server ? t.server->open_connections() : 0};
        auto r = plain(200, render_metrics(t.metrics, g));
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        co_return r;
    }
    if (path == "/readyz" && req.method == http_method::get) {
        for (auto& s : t.served) {
            auto ready = readyz(*s.state);
            auto r = co_await std::move(ready);
            if (r.status != 200) co_return r;
        }
        co_return plain(200, "ready\n");
    }
    auto& first = *t.served.front().state;
    auto answer = ops_dispatch(first, req);  // /healthz, and the 404/405 answers
    co_return co_await std::move(answer);
}

}  // namespace

int serve_platforms(const serve_options& o, const std::vector<platform_info>& platforms) {
    if (!o.issuer.empty())
        return fail("latch-idp: --issuer is per platform when DATA has platforms (latch-idp platform add --issuer)");
    const fs::user_code_limits limits;
    const auto code_length = fs::user_code_length(limits);
    if (!code_length) return fail("latch-idp: the device-flow limits allow too many guesses for any user code length");
    ts::password_hasher hasher(std::max(1u, std::thread::hardware_concurrency()), hashing_capacity);
    platform_table t;
    t.served.resize(platforms.size());
    for (std::size_t i = 0; i < platforms.size(); ++i) {
        const auto& p = platforms[i];
        t.entries.push_back({p.name, p.host});
        const std::string what = "latch-idp: platform " + p.name + ": ";
        if (!open_served(t.served[i], o, platform_dir(o.data, p.name), hasher, limits, *code_length, what)) return 1;
        auto& st = *t.served[i].state;
        st.platform = p.name;
        if (p.host.empty()) {  // under /p/NAME/: its own cookie names and Path
            st.path_prefix = "/p/" + p.name;
            st.cookies.prefix = "p-" + p.name;
            st.cookies.path = st.path_prefix + "/";
        }
        t.metrics.push_back({st.platform, &t.served[i].ops->metrics});
    }
    boost::asio::io_context io(1);
    ts::http_server server(io.get_executor(), [&t](ts::server_request r) { return handle_platforms(t, std::move(r)); });
    ts::http_server metrics_server(io.get_executor(),
                                   [&t](ts::server_request r) { return handle_platforms_ops(t, std::move(r)); });
    t.server = &server;
    listeners l{server, metrics_server};
    std::uint16_t port = 0;
    const std::string url = l.listen(o, &port);
    if (url.empty()) return 1;
    const bool https = !o.tls_cert.empty();
    for (std::size_t i = 0; i < platforms.size(); ++i) {
        auto& st = *t.served[i].state;
        st.server = &server;
        const auto issuer = fs::platform_issuer(t.entries[i], platforms[i].issuer, url, https, port);
        if (!finish_state(st, o, issuer, "latch-idp: platform " + platforms[i].name + ": ")) return 1;
        std::fprintf(stderr, "latch-idp: platform %s: issuer %s\n", platforms[i].name.c_str(), st.config.issuer.c_str());
    }
    return l.run(io, o, url);
}

}  // namespace latchkey::idp
