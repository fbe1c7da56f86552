// The steps of one HTTP exchange: build the request, resolve, write + read, and the
// liveness check of idle connections. Used by http_client.cpp.
#include "http_connection.hpp"

#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <optional>

namespace latchkey::transport::detail {
namespace http = beast::http;
using tcp = asio::ip::tcp;
using response_parser = http::response_parser<http::string_body>;

void connection::close() {
    error_code ignored;
    auto& sock = lowest().socket();
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
}

bool connection::idle_and_alive() {
    auto& sock = lowest().socket();
    if (!sock.is_open() || buffer.size() != 0) return false;
    char byte;
    auto n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool exchange_result::stale() const {
    if (!ec || got_bytes) return false;
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
           ec == asio::error::connection_aborted || ec == ssl::error::stream_truncated;
}

namespace {

bool clean_header_text(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

http::verb to_verb(http_method m) {
    switch (m) {
    case http_method::get: return http::verb::get;
    case http_method::post: return http::verb::post;
    case http_method::put: return http::verb::put;
    case http_method::delete_: return http::verb::delete_;
    }
    return http::verb::get;
}

// Feeds the parser from the stream until a whole response is in (the loop Beast's
// http::async_read runs, written out here: one plain async_read_some per stream type keeps
// this TU's build time down, and we see exactly whether any byte came back).
template <class Stream>
asio::awaitable<error_code> async_read_response(Stream& s, beast::flat_buffer& b,
                                                response_parser& p, bool& got_bytes) {
    auto cs = co_await asio::this_coro::cancellation_state;
    for (;;) {
        if (b.size() != 0) {
            error_code pec;
            auto used = p.put(b.data(), pec);
            b.consume(used);
            if (pec && pec != http::error::need_more) co_return pec;
            if (p.is_done()) co_return error_code{};
            if (!pec && used != 0) continue;
        }
        if (is_cancelled(cs)) co_return asio::error::operation_aborted;
        auto [ec, n] = co_await s.async_read_some(b.prepare(16 * 1024), use_nothrow);
        b.commit(n);
        got_bytes = got_bytes || n != 0;
        if (ec == asio::error::eof) {
            if (!p.got_some() && b.size() == 0) co_return http::error::end_of_stream;
            error_code eof_ec;
            p.put_eof(eof_ec);  // completes a body that ends at EOF, else partial_message
            co_return eof_ec;
        }
        if (ec) co_return ec;
    }
}

template <class Stream>
asio::awaitable<void> async_exchange_on(Stream& s, connection& c, const std::string& wire,
                                        steady_time deadline, const http_options& o,
                                        exchange_result& r) {
    auto cs = co_await asio::this_coro::cancellation_state;
    if (is_cancelled(cs)) {
        r.ec = asio::error::operation_aborted;
        co_return;
    }
    c.lowest().expires_at(deadline);
    auto [wec, written] = co_await asio::async_write(s, asio::buffer(wire), use_nothrow);
    (void)written;
    if (wec) {
        r.ec = wec;
        co_return;
    }
    r.wrote = true;
    // RFC 9110 §15.2: skip interim 1xx responses (e.g. 103 Early Hints) before the final one.
    std::optional<response_parser> p;
    do {
        p.emplace();
        p->eager(true);
        p->body_limit(o.max_body_size);
        p->header_limit(static_cast<std::uint32_t>(o.max_header_size));
        r.ec = co_await async_read_response(s, c.buffer, *p, r.got_bytes);
        if (r.ec) co_return;
    } while (p->get().result_int() / 100 == 1 && p->get().result_int() != 101);
    r.keep_alive = p->keep_alive();
    auto res = p->release();
    r.response.status = static_cast<int>(res.result_int());
    r.response.content_type = std::string(res[http::field::content_type]);
    for (const auto& f : res)
        r.response.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    r.response.body = std::move(res.body());
}

// Shared by the resolve and its watchdog: the resolver cannot be cancelled once
// getaddrinfo runs, so on a deadline or cancellation we stop waiting and let the late
// completion land here (kept alive by the handler) and be ignored.
struct resolve_state {
    tcp::resolver resolver;
    asio::steady_timer timer;
    bool done = false;
    error_code ec;
    tcp::resolver::results_type results;
    explicit resolve_state(const asio::any_io_executor& ex) : resolver(ex), timer(ex) {}
};

}  // namespace

error_code build_request(const http_request& req, const target& t, const http_options& o,
                         std::string& wire, diagnostics& diag) {
    http::request<http::string_body> msg(to_verb(req.method), t.path, 11);
    for (const auto& [name, value] : req.headers) {
        if (name.empty() || !clean_header_text(name) || !clean_header_text(value) ||
            name.find_first_of(" :\t") != std::string::npos) {
            diag.client_message = "refusing to send a malformed header (" +
                                  escape_untrusted(name, 40) + ") to " + t.display;
            return client_errc::bad_input;
        }
        msg.insert(name, value);
    }
    if (msg.find(http::field::host) == msg.end()) msg.set(http::field::host, t.host_header);
    if (msg.find(http::field::user_agent) == msg.end() && !o.user_agent.empty())
        msg.set(http::field::user_agent, o.user_agent);
    if (msg.find(http::field::accept) == msg.end())
        msg.set(http::field::accept, "application/json");
    if (req.method == http_method::post && !req.body.empty() &&
        msg.find(http::field::content_type) == msg.end())
        msg.set(http::field::content_type, "application/x-www-form-urlencoded");
    msg.body() = req.body;
    msg.prepare_payload();

    wire.clear();
    wire.reserve(512 + req.body.size());
    wire.append(msg.method_string()).append(" ").append(msg.target()).append(" HTTP/1.1\r\n");
    for (const auto& f : msg)
        wire.append(f.name_string()).append(": ").append(f.value()).append("\r\n");
    wire.append("\r\n").append(req.body);
    return {};
}

asio::awaitable<exchange_result> async_exchange(connection& c, const std::string& wire,
                                                steady_time deadline, const http_options& o) {
    exchange_result r;
    if (c.secure) co_await async_exchange_on(*c.secure, c, wire, deadline, o, r);
    else co_await async_exchange_on(*c.plain, c, wire, deadline, o, r);
    co_return r;
}

asio::awaitable<std::vector<tcp::endpoint>> async_resolve(asio::any_io_executor ex,
                                                          const target& t,
                                                          steady_time deadline,
                                                          const http_options& o,
                                                          error_code& ec,
                                                          diagnostics& diag) {
    std::vector<tcp::endpoint> out;
    auto port = static_cast<unsigned short>(std::stoi(t.port));
    if (t.host_is_ip) {
        error_code aec;
        auto addr = asio::ip::make_address(t.host, aec);
        if (aec) {
            ec = client_errc::bad_url;
            diag.client_message = "bad address " + t.host + " in " + t.display;
        } else {
            out.emplace_back(addr, port);
        }
        co_return out;
    }
    auto st = std::make_shared<resolve_state>(ex);
    st->timer.expires_at(deadline);
    auto on_resolved = [st](error_code e, tcp::resolver::results_type r) {
        st->ec = e;
        st->results = std::move(r);
        st->done = true;
        st->timer.cancel();
    };
    st->resolver.async_resolve(t.host, t.port, on_resolved);
    auto [tec] = co_await st->timer.async_wait(use_nothrow);
    auto cs = co_await asio::this_coro::cancellation_state;
    bool cancel_requested = cs.cancelled() != asio::cancellation_type::none;
    if (cancel_requested || !st->done) {
        st->resolver.cancel();
        // The timer is only aborted early by the resolve (then done) or by a cancellation.
        if (cancel_requested || tec == asio::error::operation_aborted) {
            ec = asio::error::operation_aborted;
            diag.client_message = "request to " + t.display + " cancelled";
        } else {
            ec = client_errc::timeout;
            diag.client_message = "request to " + t.display + " timed out after " +
                                  describe_duration(o.request_timeout) + " (resolving " +
                                  t.host + ")";
        }
        co_return out;
    }
    if (st->ec) {
        ec = client_errc::connection_failed;
        diag.client_message = "cannot resolve " + t.host + " for " + t.display + ": " +
                              st->ec.message();
        co_return out;
    }
    for (const auto& entry : st->results) {
        auto ep = entry.endpoint();
        if (!t.tls && !t.via_proxy && !is_loopback_host(ep.address().to_string())) continue;
        out.push_back(ep);
    }
    if (out.empty()) {
        ec = client_errc::connection_failed;
        diag.client_message = "cannot connect to " + t.display + ": " + t.host +
                              " has no " + (t.tls ? "" : "loopback ") + "address";
    }
    co_return out;
}

}  // namespace latchkey::transport::detail
