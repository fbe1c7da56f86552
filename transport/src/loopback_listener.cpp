// The loopback redirect listener (RFC 8252 §7.3). See the header for the guarantees.
//
// Shape: open() binds and listens; the accept loop is one detached coroutine started when
// the expected state is known; every accepted connection gets its own detached coroutine
// with its own deadline (tcp_stream::expires_after), so no client can hold up another.
// async_wait() only sleeps on a timer until the deadline; the connection that receives the
// valid callback stores its target and cancels that timer.
#include <latchkey/transport/loopback_listener.hpp>

#include <latchkey/core/secret.hpp>

#include "loopback_pages.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <optional>
#include <map>

namespace latchkey::transport {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
}  // namespace

struct loopback_listener::state {
    state(asio::any_io_executor e, listener_options o)
        : ex(std::move(e)), acceptor(ex), opts(o) {}

    asio::any_io_executor ex;
    tcp::acceptor acceptor;
    listener_options opts;
    std::string path;
    std::uint16_t port = 0;
    std::string expected_state;
    acceptor_fn accepts;  // set_acceptor: the flow decides whose a response is
    bool accepting = false;
    bool closed = false;
    bool claimed = false;  // a connection is answering the valid callback
    bool delivered = false;
    std::optional<std::string> result;
    asio::steady_timer* waiter = nullptr;
    // Open connections by accept order, so the oldest can be evicted when full.
    std::map<std::uint64_t, beast::tcp_stream*> conns;
    std::uint64_t next_conn = 0;
    counters stats;

    void wake() {
        if (waiter) waiter->cancel();
    }
    void close_all() {
        closed = true;
        error_code ignored;
        acceptor.close(ignored);
        auto open_conns = conns;  // the coroutines erase themselves later, when resumed
        for (auto& [seq, c] : open_conns) c->close();
        wake();
    }
    void complete(std::string target) {
        result = std::move(target);
        error_code ignored;
        acceptor.close(ignored);  // exactly one valid callback: stop accepting
        wake();
    }
};

namespace {
using state = loopback_listener::state;

// Keeps state::conns in step with the connection coroutine's lifetime.
struct registration {
    state& st;
    std::uint64_t seq;
    registration(state& s, beast::tcp_stream& str) : st(s), seq(s.next_conn++) {
        st.conns.emplace(seq, &str);
    }
    ~registration() { st.conns.erase(seq); }
    registration(const registration&) = delete;
    registration& operator=(const registration&) = delete;
};

bool peer_went_away(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::eof ||
           ec == asio::error::connection_reset || ec == asio::error::operation_aborted ||
           ec == asio::error::broken_pipe || ec == http::error::partial_message;
}

// Answers, half-closes, then reads and discards what the client still sends (bounded), so
// that closing does not turn into a reset that destroys the response before it is read
// (typical after a rejected oversized header).
asio::awaitable<void> send_page(beast::tcp_stream& stream, const detail::page& p,
                                bool after_complete, std::shared_ptr<state> st,
                                std::string target) {
    http::response<http::string_body> res{static_cast<http::status>(p.status), 11};
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.set(http::field::cache_control, "no-store");
    res.set("Referrer-Policy", "no-referrer");  // the URL carried a code: never pass it on
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'");
    if (p.status == 405) res.set(http::field::allow, "GET");
    res.keep_alive(false);
    res.body() = p.html;
    res.prepare_payload();
    auto [wec, n] = co_await http::async_write(stream, res, use_nothrow);
    // The callback counts once the browser got its page (or went away): complete now, so
    // the drain below never delays the login.
    if (after_complete && !st->closed) st->complete(std::move(target));
    if (wec) co_return;
    error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(1));
    char sink[4096];
    for (std::size_t drained = 0; drained < 64 * 1024;) {
        auto [rec, got] = co_await stream.async_read_some(asio::buffer(sink), use_nothrow);
        if (rec) break;
        drained += got;
    }
}

// Decides what one well-formed request gets.
detail::page judge(state& st, const http::request<http::empty_body>& req, bool& completes) {
    completes = false;
    if (req.method() != http::verb::get) {
        ++st.stats.rejected_other;
        return detail::method_not_allowed_page();
    }
    auto q = detail::read_callback_target(req.target(), st.path);
    if (!q.on_path) {
        ++st.stats.rejected_other;
        return detail::not_found_page();
    }
    const auto& r = q.response;
    const bool ours = st.accepts ? st.accepts(r)
                                  : r.state && constant_time_equal(*r.state, st.expected_state);
    if (!ours) {
        ++st.stats.rejected_state;
        return detail::invalid_link_page();
    }
    if (st.claimed || st.result || st.closed) {
        ++st.stats.rejected_other;
        return detail::already_used_page();
    }
    st.claimed = true;
    completes = true;
    ++st.stats.accepted;
    if (r.error) return detail::idp_error_page(*r.error, r.error_description.value_or(""));
    return detail::signed_in_page();
}

asio::awaitable<void> serve(std::shared_ptr<state> st, tcp::socket sock) {
    beast::tcp_stream stream(std::move(sock));
    registration reg(*st, stream);
    stream.expires_after(st->opts.connection_timeout);
    beast::flat_buffer buffer;
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(st->opts.header_limit));
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_nothrow);
    if (ec == beast::error::timeout) {
        ++st->stats.timed_out;
        co_return;
    }
    if (ec && peer_went_away(ec)) co_return;
    if (ec) {  // malformed, too large, or a body we do not accept
        ++st->stats.rejected_other;
        co_await send_page(stream, detail::bad_request_page(ec), false, st, {});
        co_return;
    }
    bool completes = false;
    auto page = judge(*st, parser.get(), completes);
    std::string target = completes ? std::string(parser.get().target()) : std::string();
    co_await send_page(stream, page, completes, st, std::move(target));
}

asio::awaitable<void> accept_loop(std::shared_ptr<state> st) {
    while (!st->closed && st->acceptor.is_open() && !st->result) {
        auto [ec, sock] = co_await st->acceptor.async_accept(use_nothrow);
        if (st->closed || st->result || ec == asio::error::operation_aborted) co_return;
        if (ec) {  // e.g. EMFILE: back off a little instead of spinning
            asio::steady_timer pause(st->ex, std::chrono::milliseconds(50));
            co_await pause.async_wait(use_nothrow);
            continue;
        }
        // Full (a local process opening connections and sending nothing): drop the oldest
        // rather than the newcomer, which may be the browser with the real callback.
        while (!st->conns.empty() && st->conns.size() >= st->opts.max_connections) {
            ++st->stats.rejected_other;
            auto oldest = st->conns.begin();
            oldest->second->close();
            st->conns.erase(oldest);  // its registration's erase is then a no-op
        }
        asio::co_spawn(st->ex, serve(st, std::move(sock)), asio::detached);
    }
}

void start_accepting(const std::shared_ptr<state>& st) {
    if (st->accepting || st->closed) return;
    st->accepting = true;
    asio::co_spawn(st->ex, accept_loop(st), asio::detached);
}

std::chrono::steady_clock::duration remaining(time_point deadline) {
    auto left = deadline - sys_clock::now();
    if (left < time_point::duration::zero()) return {};
    return std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
}

}  // namespace

std::string port_in_use_message(std::uint16_t port) {
    return "port " + std::to_string(port) +
           " on 127.0.0.1 is already in use; choose another with --port or omit it";
}

result<loopback_listener> loopback_listener::open(asio::any_io_executor ex, std::uint16_t port,
                                                  std::string path, diagnostics& diag,
                                                  listener_options opts) {
    if (path.empty() || path.front() != '/') {
        diag.client_message = "the callback path must start with '/': " + path;
        return make_error_code(client_errc::bad_input);
    }
    auto st = std::make_shared<state>(std::move(ex), opts);
    st->path = std::move(path);
    // RFC 8252 §7.3 / §8.3: the loopback IP literal, never a wildcard address.
    tcp::endpoint ep(asio::ip::address_v4::loopback(), port);
    error_code ec;
    auto fail = [&](const char* what) -> result<loopback_listener> {
        if (ec == asio::error::address_in_use && port != 0) {
            diag.client_message = port_in_use_message(port);
            return make_error_code(client_errc::port_in_use);
        }
        diag.client_message = std::string("cannot ") + what + " the loopback listener on 127.0.0.1:" +
                              std::to_string(port) + ": " + ec.message();
        return ec;
    };
    st->acceptor.open(ep.protocol(), ec);
    if (ec) return fail("open");
    // Lets a re-run bind a port whose old connections linger in TIME_WAIT; on Linux it
    // does not allow binding next to another listening socket.
    st->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (ec) return fail("open");
    st->acceptor.bind(ep, ec);
    if (ec) return fail("bind");
    st->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return fail("start");
    auto local = st->acceptor.local_endpoint(ec);
    if (ec) return fail("start");
    st->port = local.port();
    return loopback_listener(std::move(st));
}

result<loopback_listener> loopback_listener::open(asio::any_io_executor ex, std::uint16_t port,
                                                  std::string path) {
    diagnostics ignored;
    return open(std::move(ex), port, std::move(path), ignored);
}

loopback_listener::loopback_listener(std::shared_ptr<state> st) : st_(std::move(st)) {}
loopback_listener::loopback_listener(loopback_listener&&) noexcept = default;
loopback_listener& loopback_listener::operator=(loopback_listener&& o) noexcept {
    if (this != &o) {
        close();
        st_ = std::move(o.st_);
    }
    return *this;
}
loopback_listener::~loopback_listener() { close(); }

std::uint16_t loopback_listener::port() const noexcept { return st_ ? st_->port : 0; }
const std::string& loopback_listener::path() const noexcept {
    static const std::string none;
    return st_ ? st_->path : none;
}
std::string loopback_listener::redirect_uri() const {
    return "http://127.0.0.1:" + std::to_string(port()) + path();
}

void loopback_listener::set_acceptor(acceptor_fn accepts) {
    if (!st_ || !accepts) return;
    st_->accepts = std::move(accepts);
    start_accepting(st_);
}

void loopback_listener::set_expected_state(std::string s) {
    if (!st_ || s.empty()) return;
    st_->expected_state = std::move(s);
    start_accepting(st_);
}

void loopback_listener::close() {
    if (st_ && !st_->closed) st_->close_all();
}
bool loopback_listener::is_open() const noexcept {
    return st_ && !st_->closed && st_->acceptor.is_open();
}
loopback_listener::counters loopback_listener::stats() const noexcept {
    return st_ ? st_->stats : counters{};
}

asio::awaitable<std::string> loopback_listener::async_wait(std::string expected_state,
                                                           time_point deadline, error_code& ec) {
    ec = {};
    auto st = st_;  // the coroutine keeps the state alive even if *this is moved from
    if (!st || st->closed) {
        ec = asio::error::operation_aborted;
        co_return std::string();
    }
    if (st->waiter) {
        ec = client_errc::bad_input;
        co_return std::string();
    }
    if (!expected_state.empty()) st->expected_state = std::move(expected_state);
    if (st->expected_state.empty() && !st->accepts) {
        ec = client_errc::bad_input;
        co_return std::string();
    }
    start_accepting(st);
    auto cs = co_await asio::this_coro::cancellation_state;
    if (!st->result) {
        asio::steady_timer timer(st->ex);
        timer.expires_after(remaining(deadline));
        st->waiter = &timer;
        auto [tec] = co_await timer.async_wait(use_nothrow);
        st->waiter = nullptr;
        // Cancellation wins over a callback that arrived at the same moment: the caller
        // already decided (e.g. the device flow won the race), so the login must not
        // continue here. Terminal cancellation also closes everything.
        if (cs.cancelled() != asio::cancellation_type::none) {
            st->close_all();
            ec = asio::error::operation_aborted;
            co_return std::string();
        }
        if (!st->result) {
            if (st->closed) ec = asio::error::operation_aborted;
            else if (!tec) ec = client_errc::timeout;
            else ec = asio::error::operation_aborted;
            co_return std::string();
        }
    }
    if (st->delivered) {
        ec = client_errc::flow_finished;
        co_return std::string();
    }
    st->delivered = true;
    co_return *st->result;
}

asio::awaitable<std::string> loopback_listener::async_wait_callback(time_point deadline,
                                                                    error_code& ec) {
    std::string expected = st_ ? st_->expected_state : std::string();
    co_return co_await async_wait(std::move(expected), deadline, ec);
}

}  // namespace latchkey::transport
