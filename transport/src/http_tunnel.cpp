// The hop through an HTTP proxy for an https request: CONNECT host:port (RFC 9110 §9.3.6),
// then the TLS handshake runs inside the tunnel as if the connection were direct.
#include "http_connection.hpp"

#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

namespace latchkey::transport::detail {
namespace http = beast::http;

namespace {

std::string authority(const target& t) {
    return (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) + ":" + t.port;
}

error_code fail(error_code e, diagnostics& diag, std::string message) {
    diag.client_message = std::move(message);
    return e;
}

// Reads the proxy's answer up to the end of its header; a CONNECT answer has no body we
// want (2xx: the tunnel starts; otherwise we close the connection).
asio::awaitable<error_code> async_read_connect_reply(beast::tcp_stream& s, beast::flat_buffer& b,
                                                     http::response_parser<http::empty_body>& p) {
    auto cs = co_await asio::this_coro::cancellation_state;
    for (;;) {
        if (b.size() != 0) {
            error_code pec;
            b.consume(p.put(b.data(), pec));
            if (pec && pec != http::error::need_more) co_return pec;
            if (p.is_header_done()) co_return error_code{};
        }
        if (is_cancelled(cs)) co_return asio::error::operation_aborted;
        auto [ec, n] = co_await s.async_read_some(b.prepare(4096), use_nothrow);
        b.commit(n);
        if (ec == asio::error::eof) co_return http::error::end_of_stream;
        if (ec) co_return ec;
    }
}

}  // namespace

std::string connect_request(const target& t, const proxy_route& p, const http_options& o) {
    std::string wire = "CONNECT " + authority(t) + " HTTP/1.1\r\nHost: " + authority(t) + "\r\n";
    if (!p.authorization.empty()) wire += "Proxy-Authorization: " + p.authorization + "\r\n";
    if (!o.user_agent.empty()) wire += "User-Agent: " + o.user_agent + "\r\n";
    return wire + "\r\n";
}

asio::awaitable<error_code> async_open_tunnel(beast::tcp_stream& s, const target& t,
                                              const proxy_route& p, const http_options& o,
                                              diagnostics& diag) {
    const std::string via = " through the proxy " + p.proxy.display;
    auto wire = connect_request(t, p, o);
    trace_lines(o, '>', wire, {});
    auto [wec, written] = co_await asio::async_write(s, asio::buffer(wire), use_nothrow);
    (void)written;
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    parser.skip(true);
    parser.header_limit(static_cast<std::uint32_t>(o.max_header_size));
    error_code ec = wec ? wec : co_await async_read_connect_reply(s, buffer, parser);
    if (ec == asio::error::operation_aborted)
        co_return fail(ec, diag, "request to " + t.display + " cancelled");
    if (ec == beast::error::timeout)
        co_return fail(client_errc::timeout, diag,
                       "request to " + t.display + via + " timed out after " +
                           describe_duration(o.request_timeout));
    if (ec)
        co_return fail(client_errc::connection_failed, diag,
                       "CONNECT to " + authority(t) + via + " failed: " + ec.message());
    const auto& res = parser.get();
    trace_lines(o, '<', "HTTP/1.1 " + std::to_string(res.result_int()) + " " +
                            std::string(res.reason()) + "\r\n", {});
    const int status = static_cast<int>(res.result_int());
    const std::string said = std::to_string(status) + " " + escape_untrusted(res.reason(), 80);
    // 407 (RFC 9110 §15.5.8); tinyproxy answers wrong credentials with 401.
    if (status == 407 || (status == 401 && !p.authorization.empty()))
        co_return fail(client_errc::connection_failed, diag,
                       "the proxy " + p.proxy.display +
                           (p.authorization.empty()
                                ? " asks for credentials (" + said +
                                      "); put them in the proxy URL: http://USER:PASSWORD@HOST:PORT"
                                : " rejected the credentials in the proxy URL (" + said + ")"));
    if (status / 100 != 2)
        co_return fail(client_errc::connection_failed, diag,
                       "the proxy " + p.proxy.display + " refused to connect to " +
                           authority(t) + " (" + said + ")");
    if (buffer.size() != 0)  // the server cannot speak before our TLS ClientHello
        co_return fail(client_errc::connection_failed, diag,
                       "the proxy " + p.proxy.display + " sent data after its CONNECT answer");
    co_return error_code{};
}

}  // namespace latchkey::transport::detail
