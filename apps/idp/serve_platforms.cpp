// `latch-idp serve` with platforms (seed 003: every platform its own auth service and
// database): one process, one io_context, one listener, one hashing pool, and one idp_state
// per platform (its store, keys, sealing key, CSRF key, rate limits, counters). A request
// reaches a platform by its Host header or under /p/NAME/ (flows/server/platform_route.hpp);
// anything else is 404 and names no platform. Platforms are read at start and at SIGHUP (one
// added since is opened and served, one removed is no longer served).
#include "serve.hpp"

#include <latchkey/flows/server/platform_route.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/signal_set.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <thread>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

struct platform_table {
    const serve_options& o;
    ts::password_hasher& hasher;
    fs::user_code_limits limits;
    std::size_t code_length = 0;
    std::vector<fs::platform_entry> entries;  // a removed platform's: empty (never matched)
    std::vector<served_data> served;          // same order
    std::vector<platform_metrics> metrics;
    const ts::http_server* server = nullptr;
    boost::asio::any_io_executor ex;  // the io_context's (social login clients)
    std::string url;  // the listener's
    unsigned port = 0;
};

// Opens platform `p` and appends it to the table (reachable once finish_platform ran).
bool open_platform(platform_table& t, const platform_info& p) {
    t.served.emplace_back();
    const std::string what = "latch-idp: platform " + p.name + ": ";
    if (!open_served(t.served.back(), t.o, store_location{platform_dir(t.o.data, p.name), {}, 0}, {}, t.hasher,
                     t.limits, t.code_length, what)) {
        t.served.pop_back();
        return false;
    }
    attach_social(t.served.back(), t.ex);
    auto& st = *t.served.back().state;
    st.platform = p.name;
    if (p.host.empty()) {  // under /p/NAME/: its own cookie names and Path
        st.path_prefix = "/p/" + p.name;
        st.cookies.prefix = "p-" + p.name;
        st.cookies.path = st.path_prefix + "/";
    }
    t.entries.push_back({p.name, p.host});
    t.metrics.push_back({st.platform, &t.served.back().ops->metrics});
    return true;
}

// Its issuer, now that the listener is bound.
bool finish_platform(platform_table& t, std::size_t i, const std::string& configured_issuer) {
    auto& st = *t.served[i].state;
    st.server = t.server;
    const bool https = !t.o.tls_cert.empty();
    const auto issuer = fs::platform_issuer(t.entries[i], configured_issuer, t.url, https, t.port);
    const std::string what = "latch-idp: platform " + st.platform + ": ";
    // RFC 7591 §3: the platform's own initial access token, if its directory holds one.
    std::string iat_file = platform_dir(t.o.data, st.platform) + "/initial-access-token";
    struct stat sb {};
    if (::stat(iat_file.c_str(), &sb) != 0) {
        iat_file.clear();
    } else if ((sb.st_mode & 077) != 0) {
        fail(what + iat_file + ": readable by others; run chmod 600 on it");
        return false;
    }
    if (!finish_state(st, t.o, issuer, iat_file, what)) return false;
    std::fprintf(stderr, "latch-idp: platform %s: issuer %s\n", st.platform.c_str(), st.config.issuer.c_str());
    return true;
}

// SIGHUP: serves the platforms added since (opened on the io thread: a few ms) and stops
// serving those removed. A platform that fails to open is reported and left out.
void reload(platform_table& t) {
    const auto now = list_platforms(t.o.data);
    for (auto& e : t.entries) {
        const bool kept = std::any_of(now.begin(), now.end(), [&](const platform_info& p) { return p.name == e.name; });
        if (e.name.empty() || kept) continue;
        std::fprintf(stderr, "latch-idp: platform %s: removed, no longer served\n", e.name.c_str());
        e = {};
    }
    for (const auto& p : now) {
        const bool served = std::any_of(t.entries.begin(), t.entries.end(), [&](const auto& e) { return e.name == p.name; });
        if (served || !open_platform(t, p)) continue;
        if (finish_platform(t, t.entries.size() - 1, p.issuer)) continue;
        t.entries.back() = {};  // opened but not servable: never matched
    }
}

void wait_for_hangup(boost::asio::signal_set& hup, platform_table& t) {
    hup.async_wait([&hup, &t](const boost::system::error_code& ec, int) {
        if (ec) return;
        reload(t);
        wait_for_hangup(hup, t);
    });
}

boost::asio::awaitable<http_response> handle_platforms(platform_table& t, ts::server_request req) {
    auto match = fs::route_platform(req.target, req.header("Host"), t.entries);
    if (!match) co_return plain_text(404, "not found\n");
    req.target = std::move(match->target);
    idp_state& st = *t.served[match->index].state;
    auto answer = handle(st, std::move(req));
    co_return co_await std::move(answer);
}

// --metrics-listen: /healthz; /readyz when every platform is ready; /metrics of all of them.
boost::asio::awaitable<http_response> handle_platforms_ops(platform_table& t, ts::server_request req) {
    const auto path = req.path();
    if (path == "/metrics" && req.method == http_method::get) {
        std::size_t queued = 0;
        for (const auto& s : t.served) queued += s.store->queued();
        ops_gauges g{t.hasher.in_flight(), hashing_capacity, queued, t.server ? t.server->open_connections() : 0};
        co_return prometheus_text(render_metrics(t.metrics, g));
    }
    if (path == "/readyz" && req.method == http_method::get) {
        for (std::size_t i = 0; i < t.served.size(); ++i) {
            if (t.entries[i].name.empty()) continue;
            auto ready = readyz(*t.served[i].state);
            auto r = co_await std::move(ready);
            if (r.status != 200) co_return r;
        }
        co_return plain_text(200, "ready\n");
    }
    auto& first = *t.served.front().state;
    auto answer = ops_dispatch(first, req);  // /healthz, and the 404/405 answers
    co_return co_await std::move(answer);
}

}  // namespace

int serve_platforms(const serve_options& o, const std::vector<platform_info>& platforms, std::size_t code_length) {
    if (!o.issuer.empty())
        return fail("latch-idp: --issuer is per platform when DATA has platforms (latch-idp platform add --issuer)");
    if (!o.initial_access_token_file.empty())
        return fail("latch-idp: --initial-access-token-file is per platform when DATA has platforms: put the token "
                    "in DATA/platforms/NAME/initial-access-token (0600)");
    ts::password_hasher hasher(std::max(1u, std::thread::hardware_concurrency()), hashing_capacity);
    boost::asio::io_context io(1);
    platform_table t{.o = o, .hasher = hasher, .limits = {}, .code_length = code_length, .ex = io.get_executor()};
    for (const auto& p : platforms)
        if (!open_platform(t, p)) return 1;
    ts::http_server server(io.get_executor(), [&t](ts::server_request r) { return handle_platforms(t, std::move(r)); });
    ts::http_server metrics_server(io.get_executor(),
                                   [&t](ts::server_request r) { return handle_platforms_ops(t, std::move(r)); });
    t.server = &server;
    listeners l{server, metrics_server};
    std::uint16_t port = 0;
    t.url = l.listen(o, &port);
    t.port = port;
    if (t.url.empty()) return 1;
    for (std::size_t i = 0; i < platforms.size(); ++i)
        if (!finish_platform(t, i, platforms[i].issuer)) return 1;
    boost::asio::signal_set hup(io, SIGHUP);
    wait_for_hangup(hup, t);
    l.on_drain = [&hup] { hup.cancel(); };
    return l.run(io, o, t.url);
}

}  // namespace latchkey::idp
