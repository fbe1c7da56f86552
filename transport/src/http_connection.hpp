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
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <chrono>
#include <cstdint>
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

// One timer for the deadlines of every exchange in flight on a client, instead of a timer
// armed and cancelled per read and write (tcp_stream::expires_at): that cost two timerfd
// reprogrammings, a second epoll_wait and two cancelled-timer handlers per request
// (bench/README.md, P1). Exchanges enter in deadline order (nearly always at the tail);
// the timer is armed for the earliest and, when it fires, cancels the socket of every
// exchange past its deadline (marked `fired`, so the exchange reports a timeout) and is
// armed again for the next. A list that empties leaves the timer armed until a posted
// check finds it still empty: the next request usually comes first (no re-arm), and an
// io_context whose work is done still returns from run().
class deadline_watch : public std::enable_shared_from_this<deadline_watch> {
public:
    struct node {
        node* prev = nullptr;
        node* next = nullptr;
        steady_time deadline{};
        asio::ip::tcp::socket* socket = nullptr;
        bool fired = false;
    };
    // An exchange's membership: linked in the constructor, unlinked in the destructor.
    // Lives in the exchange's coroutine frame (a stable address).
    class scope {
    public:
        scope(std::shared_ptr<deadline_watch> w, asio::ip::tcp::socket& s, steady_time deadline);
        ~scope();
        scope(const scope&) = delete;
        scope& operator=(const scope&) = delete;
        bool fired() const noexcept { return node_.fired; }

    private:
        std::shared_ptr<deadline_watch> watch_;
        node node_;
    };

    explicit deadline_watch(asio::any_io_executor ex) : timer_(std::move(ex)) {}
    // The client is going away: no more firing (exchanges still linked unlink later).
    void stop();

private:
    void link(node& n);
    void unlink(node& n);
    void arm(steady_time t);
    void on_timer(std::uint64_t generation);

    asio::steady_timer timer_;
    node* head_ = nullptr;
    node* tail_ = nullptr;
    bool armed_ = false;
    steady_time armed_at_{};
    std::uint64_t generation_ = 0;
    bool idle_check_posted_ = false;
    bool stopped_ = false;
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
// `deadline` (kept by `watch`: past it, ec is beast::error::timeout).
asio::awaitable<exchange_result> async_exchange(connection& c, const std::string& wire,
                                                steady_time deadline, const http_options& o,
                                                const std::shared_ptr<deadline_watch>& watch);

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
