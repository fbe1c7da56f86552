// Private to transport/src: one pooled HTTP(S) connection and the steps of an exchange.
// This header pulls in Beast, so only the HTTP client's .cpp files include it.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/core/http.hpp>
#include <latchkey/transport/http_client.hpp>

#include "http_internal.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace latchkey::transport {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using steady_clock = std::chrono::steady_clock;
using steady_time = steady_clock::time_point;

namespace detail {

inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// A cancellation emitted while no operation was pending reaches no operation: check the
// coroutine's state before starting each step, not only after.
inline bool is_cancelled(const asio::cancellation_state& cs) {
    return cs.cancelled() != asio::cancellation_type::none;
}

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// Exactly one of plain/secure is set.
struct connection {
    std::unique_ptr<beast::tcp_stream> plain;
    std::unique_ptr<tls_stream> secure;
    beast::flat_buffer buffer;  // bytes read past the last response (none if poolable)

    beast::tcp_stream& lowest() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
    // Closes the socket; no TLS close_notify (we are the reader: truncation cannot hurt us).
    void close();
    // For a connection taken from the idle pool: false when the peer has closed it (FIN or
    // RST pending) or sent anything unasked. Peeks without blocking.
    bool idle_and_alive();
};

struct exchange_result {
    error_code ec;
    bool wrote = false;      // the whole request went out
    bool got_bytes = false;  // at least one byte of a response came back
    bool keep_alive = false;
    http_response response;

    // Failed because the peer had closed the connection before sending any byte back:
    // the symptom of a kept-alive connection the server dropped while idle.
    bool stale() const;
};

// Serializes the request (HTTP/1.1): the caller's headers, then Host, User-Agent, Accept
// and (POST with a body) Content-Type when the caller did not set them, Content-Length.
// Header names or values with CR/LF/NUL give client_errc::bad_input.
error_code build_request(const http_request& req, const target& t, const http_options& o,
                         std::string& wire, diagnostics& diag);

// Writes `wire` and reads the response (body and header limits from `o`) before
// `deadline`.
asio::awaitable<exchange_result> async_exchange(connection& c, const std::string& wire,
                                                steady_time deadline, const http_options& o);

// Resolves t.host:t.port before `deadline`; IP literals skip the resolver. Plain http to
// a name keeps only loopback addresses. Fails with connection_failed, timeout, or
// operation_aborted (cancelled) and a message in `diag`.
asio::awaitable<std::vector<asio::ip::tcp::endpoint>> async_resolve(
    asio::any_io_executor ex, const target& t, steady_time deadline, const http_options& o,
    error_code& ec, diagnostics& diag);

// The CONNECT request for `t` through `p` (Proxy-Authorization from the proxy URL).
std::string connect_request(const target& t, const proxy_route& p, const http_options& o);

// Asks the proxy on `s` (connected, its expiry set) for a tunnel to t.host:t.port. Errors:
// connection_failed (the proxy refused: 407 asks for credentials, other statuses name
// the target; or it broke the protocol), timeout, operation_aborted; message in `diag`.
asio::awaitable<error_code> async_open_tunnel(beast::tcp_stream& s, const target& t,
                                              const proxy_route& p, const http_options& o,
                                              diagnostics& diag);

}  // namespace detail
}  // namespace latchkey::transport
