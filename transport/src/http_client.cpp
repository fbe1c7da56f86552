// The real HTTP(S) client: Beast over TCP/TLS with a small keep-alive pool per origin.
//
// One request: parse the URL, take an idle connection for the origin (or resolve, connect
// and handshake a new one), write, read, then either return the connection to the pool
// (server keeps it alive, nothing went wrong) or close it. A single deadline covers the
// whole request: tcp_stream::expires_at while connecting and in the TLS handshake (once
// per connection), then the client's deadline_watch (one timer for every exchange in
// flight) for the write and read; the resolve has its own timer because the resolver is
// not a tcp_stream. A URL's parsed target and proxy route are kept (bounded) so a request
// to a URL seen before is not parsed again.
//
// Retries: a pooled connection can die while idle. Before reuse we peek at the socket (a
// FIN, RST or stray bytes mean dead: drop it, nothing was sent yet). If it still dies
// after we wrote and before the first response byte, only an idempotent request is sent
// again on a fresh connection; a token POST is never replayed (IDP-NOTES.md: a replayed
// grant can revoke the whole session).
#include <latchkey/transport/http_client.hpp>

#include "http_connection.hpp"
#include "http_internal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>

#include <optional>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace latchkey::transport {

using detail::connection;
using detail::target;
using detail::use_nothrow;

struct http_client::impl {
    asio::any_io_executor ex;
    http_options opts;
    std::optional<ssl::context> tls;  // created with the first https request (tls_setup)
    error_code tls_setup_ec;
    std::string tls_setup_message;
    std::string trust_store;
    std::unordered_map<std::string, std::vector<std::unique_ptr<connection>>> idle;
    std::size_t opened = 0;
    // Made by the first request: a client that never sends holds no I/O object.
    std::shared_ptr<detail::deadline_watch> watch;

    // A URL's target after the plain-http rule and the proxy choice (both depend only on
    // the URL and this client's options). Shared, so a request keeps its entry while the
    // table is cleared under it.
    struct prepared {
        target t;
        std::optional<detail::proxy_route> route;
    };
    static constexpr std::size_t max_prepared = 64;
    std::unordered_map<std::string, std::shared_ptr<const prepared>> targets;

    impl(asio::any_io_executor e, http_options o)
        : ex(std::move(e)), opts(std::move(o)), proxies(proxies_for(opts)) {}
    ~impl() {
        if (watch) watch->stop();
    }
    result<std::shared_ptr<const prepared>> prepare(const std::string& url, diagnostics& diag);

    static detail::proxy_config proxies_for(const http_options& o) {
        auto c = o.proxy_from_environment ? detail::proxy_config_from_env() : detail::proxy_config{};
        if (!o.https_proxy.empty()) c.https_proxy = o.https_proxy;
        if (!o.http_proxy.empty()) c.http_proxy = o.http_proxy;
        if (!o.no_proxy.empty()) c.no_proxy = o.no_proxy;
        return c;
    }

    // The TLS context and its trust store are made on the first https request, not in the
    // constructor: parsing the system bundle (~140 certificates) and SSL_CTX_new took most
    // of the ~45 ms of a `latch token` that never goes to the network (bench/README.md).
    const error_code& tls_setup() {
        if (!tls) {
            tls.emplace(ssl::context::tls_client);
            tls_setup_ec = detail::configure_tls_context(tls->native_handle(), opts.ca_file,
                                                         trust_store, tls_setup_message);
        }
        return tls_setup_ec;
    }

    detail::proxy_config proxies;

    void trace_note(const std::string& line) const {
        if (opts.trace) opts.trace("* " + line);
    }
    http_response traced_failure(const diagnostics& diag) const {
        trace_note("failed: " + diag.client_message);
        return http_response{};
    }

    std::unique_ptr<connection> take_idle(const std::string& origin);
    void give_back(const std::string& origin, std::unique_ptr<connection> c);
    asio::awaitable<std::optional<beast::tcp_stream>> async_connect(
        const target& t, const detail::proxy_route* route, steady_time deadline,
        error_code& ec, diagnostics& diag);
    asio::awaitable<std::unique_ptr<connection>> async_open(const target& t,
                                                           const detail::proxy_route* route,
                                                           steady_time deadline,
                                                           error_code& ec, diagnostics& diag);
    // The whole request in one coroutine frame (target, request bytes, connection, the
    // exchange and its one retry): fewer nested frames per request (bench/README.md P1).
    asio::awaitable<http_response> async_run(http_request req, error_code& ec,
                                             diagnostics& diag);
};

namespace {

bool cancelled(const asio::cancellation_state& cs) { return detail::is_cancelled(cs); }

error_code fail(error_code e, diagnostics& diag, std::string message) {
    diag.client_message = std::move(message);
    return e;
}

// Why the exchange failed, in the caller's terms (after the retry decision).
error_code describe_exchange_failure(const detail::exchange_result& r, const target& t,
                                     const http_options& o, diagnostics& diag) {
    namespace http = beast::http;
    const auto& ec = r.ec;
    if (ec == beast::error::timeout)
        return fail(client_errc::timeout, diag,
                    "request to " + t.display + " timed out after " +
                        detail::describe_duration(o.request_timeout));
    if (ec == http::error::body_limit)
        return fail(client_errc::response_too_large, diag,
                    "response from " + t.display + " is larger than the " +
                        detail::describe_size(o.max_body_size) + " limit");
    if (ec == http::error::header_limit)
        return fail(client_errc::response_too_large, diag,
                    "response headers from " + t.display + " are larger than the " +
                        detail::describe_size(o.max_header_size) + " limit");
    if (!r.wrote)
        return fail(client_errc::connection_failed, diag,
                    "sending the request to " + t.display + " failed: " + ec.message());
    if (ec == http::error::end_of_stream && !r.got_bytes)
        return fail(client_errc::connection_failed, diag,
                    t.display + " closed the connection without answering");
    if (ec.category() == http::make_error_code(http::error::bad_version).category())
        return fail(client_errc::connection_failed, diag,
                    "bad HTTP response from " + t.display + ": " + ec.message());
    return fail(client_errc::connection_failed, diag,
                "reading the response from " + t.display + " failed: " + ec.message());
}

}  // namespace

std::unique_ptr<connection> http_client::impl::take_idle(const std::string& origin) {
    auto it = idle.find(origin);
    if (it == idle.end()) return nullptr;
    auto& list = it->second;
    while (!list.empty()) {
        auto c = std::move(list.back());
        list.pop_back();
        if (c->idle_and_alive()) return c;
        c->close();  // the server closed it while idle: nothing was sent on it
    }
    return nullptr;
}

void http_client::impl::give_back(const std::string& origin, std::unique_ptr<connection> c) {
    auto& list = idle[origin];
    if (list.size() >= opts.max_idle_per_origin) {
        c->close();
        return;
    }
    list.push_back(std::move(c));
}

asio::awaitable<std::optional<beast::tcp_stream>> http_client::impl::async_connect(
    const target& t, const detail::proxy_route* route, steady_time deadline, error_code& ec,
    diagnostics& diag) {
    // Through a proxy, the TCP connection goes to the proxy; messages name both.
    const target& peer = route ? route->proxy : t;
    const std::string where = route ? "the proxy " + route->proxy.display + " (for " + t.display + ")"
                                    : t.display;
    auto endpoints = co_await detail::async_resolve(ex, peer, deadline, opts, ec, diag);
    if (ec) co_return std::nullopt;

    auto cs = co_await asio::this_coro::cancellation_state;
    auto connect_deadline = std::min(deadline, steady_clock::now() + opts.connect_timeout);
    beast::tcp_stream stream(ex);
    stream.expires_at(connect_deadline);
    error_code cec = asio::error::operation_aborted;
    if (!cancelled(cs)) std::tie(cec, std::ignore) = co_await stream.async_connect(endpoints, use_nothrow);
    if (cancelled(cs) || cec == asio::error::operation_aborted) {
        ec = fail(asio::error::operation_aborted, diag, "request to " + t.display + " cancelled");
        co_return std::nullopt;
    }
    if (cec == beast::error::timeout) {
        bool connect_limit = connect_deadline < deadline;
        ec = fail(client_errc::timeout, diag,
                  (connect_limit ? "connecting to " : "request to ") + where +
                      " timed out after " +
                      detail::describe_duration(connect_limit ? opts.connect_timeout
                                                              : opts.request_timeout));
        co_return std::nullopt;
    }
    if (cec) {
        ec = fail(client_errc::connection_failed, diag,
                  "cannot connect to " + where + ": " + cec.message());
        co_return std::nullopt;
    }
    ++opened;
    error_code ignored;
    stream.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
    co_return std::move(stream);
}

asio::awaitable<std::unique_ptr<connection>> http_client::impl::async_open(
    const target& t, const detail::proxy_route* route, steady_time deadline, error_code& ec,
    diagnostics& diag) {
    auto connected = co_await async_connect(t, route, deadline, ec, diag);
    if (ec) co_return nullptr;
    beast::tcp_stream stream = std::move(*connected);
    auto cs = co_await asio::this_coro::cancellation_state;
    auto conn = std::make_unique<connection>();
    if (!t.tls) {
        stream.expires_never();  // from here on the deadline_watch keeps the deadline
        conn->plain = std::make_unique<beast::tcp_stream>(std::move(stream));
        co_return conn;
    }
    if (route) {
        stream.expires_at(deadline);
        if (auto tec = co_await detail::async_open_tunnel(stream, t, *route, opts, diag)) {
            ec = tec;
            error_code ignored;
            stream.socket().close(ignored);
            co_return nullptr;
        }
    }
    conn->secure = std::make_unique<detail::tls_stream>(std::move(stream), *tls);
    detail::configure_tls_peer(conn->secure->native_handle(), t);
    conn->lowest().expires_at(deadline);
    error_code hec = asio::error::operation_aborted;
    if (!cancelled(cs))
        std::tie(hec) = co_await conn->secure->async_handshake(ssl::stream_base::client, use_nothrow);
    if (cancelled(cs) || hec == asio::error::operation_aborted) {
        ec = fail(asio::error::operation_aborted, diag, "request to " + t.display + " cancelled");
        co_return nullptr;
    }
    if (hec == beast::error::timeout) {
        ec = fail(client_errc::timeout, diag,
                  "request to " + t.display + " timed out after " +
                      detail::describe_duration(opts.request_timeout) + " (TLS handshake)");
        co_return nullptr;
    }
    if (hec) {
        ec = detail::describe_tls_failure(conn->secure->native_handle(), hec, t, trust_store,
                                          diag);
        co_return nullptr;
    }
    conn->lowest().expires_never();  // from here on the deadline_watch keeps the deadline
    co_return conn;
}

result<std::shared_ptr<const http_client::impl::prepared>> http_client::impl::prepare(
    const std::string& url, diagnostics& diag) {
    if (auto it = targets.find(url); it != targets.end()) return it->second;
    auto parsed = detail::parse_target(url, opts.allow_insecure_loopback, diag);
    if (!parsed) return parsed.error();
    auto p = std::make_shared<prepared>();
    p->t = std::move(*parsed);
    auto chosen = detail::choose_proxy(p->t, proxies, diag);
    if (!chosen) return chosen.error();
    p->route = std::move(*chosen);
    if (p->route) {
        // Pooled connections to the proxy are kept apart from direct ones.
        p->t.origin = p->route->proxy.display + " " + p->t.origin;
        if (!p->t.tls)  // RFC 9112 §3.2.2: absolute-form to a proxy
            p->t.path = "http://" + p->t.host_header + p->t.path;
    }
    if (targets.size() >= max_prepared) targets.clear();
    std::shared_ptr<const prepared> done = std::move(p);
    targets.emplace(url, done);
    return done;
}

asio::awaitable<http_response> http_client::impl::async_run(http_request req,
                                                            error_code& ec,
                                                            diagnostics& diag) {
    auto found = prepare(req.url, diag);
    if (!found) {
        ec = found.error();
        co_return http_response{};
    }
    const std::shared_ptr<const prepared> p = std::move(*found);
    const target& t = p->t;
    const detail::proxy_route* route = p->route ? &*p->route : nullptr;
    if (route) {
        // Plain http through a proxy carries the proxy's credentials (https: in the CONNECT).
        if (!t.tls && !route->authorization.empty())
            req.headers.emplace_back("Proxy-Authorization", route->authorization);
        trace_note("via the proxy " + route->proxy.display);
    }
    if (t.tls && tls_setup()) {
        ec = fail(tls_setup_ec, diag, tls_setup_message + " (for " + t.display + ")");
        co_return http_response{};
    }
    std::string wire;
    if (auto bad = detail::build_request(req, t, opts, wire, diag)) {
        ec = bad;
        co_return http_response{};
    }
    const bool idempotent = req.idempotent;
    if (!watch) watch = std::make_shared<detail::deadline_watch>(ex);

    const auto started = steady_clock::now();
    auto deadline = started + opts.request_timeout;
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cancelled(cs)) {
        ec = fail(asio::error::operation_aborted, diag, "request to " + t.display + " cancelled");
        co_return http_response{};
    }
    auto conn = take_idle(t.origin);
    bool reused = conn != nullptr;
    if (!conn) conn = co_await async_open(t, route, deadline, ec, diag);
    if (ec) co_return traced_failure(diag);

    detail::trace_lines(opts, '>', wire, {});
    auto r = co_await detail::async_exchange(*conn, wire, deadline, opts, watch);
    if (r.ec && reused && r.stale() && !cancelled(cs)) {
        conn->close();
        if (!idempotent) {
            ec = fail(client_errc::connection_failed, diag,
                      "the kept-alive connection to " + t.display +
                          " was closed before the server answered (" + r.ec.message() +
                          "); not retried, because repeating this request could replay a "
                          "grant");
            co_return traced_failure(diag);
        }
        reused = false;
        conn = co_await async_open(t, route, deadline, ec, diag);
        if (ec) co_return traced_failure(diag);
        r = co_await detail::async_exchange(*conn, wire, deadline, opts, watch);
    }
    if (cancelled(cs) || r.ec == asio::error::operation_aborted) {
        conn->close();  // state undefined after a cancelled exchange: never reuse
        ec = fail(asio::error::operation_aborted, diag, "request to " + t.display + " cancelled");
        co_return traced_failure(diag);
    }
    if (r.ec) {
        conn->close();
        ec = describe_exchange_failure(r, t, opts, diag);
        co_return traced_failure(diag);
    }
    if (opts.trace) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started);
        detail::trace_response(opts, r.response,
                               std::to_string(ms.count()) + " ms" + (reused ? ", reused connection" : ""));
    }
    if (r.keep_alive && conn->buffer.size() == 0) give_back(t.origin, std::move(conn));
    else conn->close();
    co_return std::move(r.response);
}

http_client::http_client(asio::any_io_executor ex, http_options opts)
    : impl_(std::make_unique<impl>(std::move(ex), std::move(opts))) {}

http_client::~http_client() = default;

asio::awaitable<http_response> http_client::async_send(http_request req, error_code& ec,
                                                        diagnostics& diag) {
    ec = {};
    // After a cancellation Asio throws from the next co_await unless told otherwise; our
    // clean-up and error reporting must not throw, so switch that off for the duration.
    bool throw_before = co_await asio::this_coro::throw_if_cancelled();
    co_await asio::this_coro::throw_if_cancelled(false);
    http_response resp;
    try {
        resp = co_await impl_->async_run(std::move(req), ec, diag);
    } catch (const std::exception& e) {
        ec = client_errc::connection_failed;
        diag.client_message = std::string("HTTP request failed: ") + e.what();
    }
    co_await asio::this_coro::throw_if_cancelled(throw_before);
    co_return resp;
}

std::size_t http_client::idle_connections() const noexcept {
    std::size_t n = 0;
    for (const auto& [origin, list] : impl_->idle) n += list.size();
    return n;
}

std::size_t http_client::connections_opened() const noexcept { return impl_->opened; }

}  // namespace latchkey::transport
