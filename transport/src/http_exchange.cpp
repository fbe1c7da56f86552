// The steps of one HTTP exchange: build the request, resolve, write + read, and the
// liveness check of idle connections. Used by http_client.cpp.
#include "http_connection.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/verb.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <optional>

namespace latchkey::transport::detail {
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
// The response parser: Beast's basic_parser filling an http_response directly.
// (http::response_parser kept every header in a basic_fields list, one allocation per
// header, which were then copied out: bench/README.md, P1.) Body and header limits and
// keep-alive are basic_parser's own.
class response_parser final : public http::basic_parser<false> {
public:
    http_response res;

private:
    bool seen_type = false;
    void on_request_impl(http::verb, beast::string_view, beast::string_view, int,
                         error_code&) override {}
    void on_response_impl(int code, beast::string_view, int, error_code&) override {
        res.status = code;
        res.headers.reserve(12);
    }
    void on_field_impl(http::field f, beast::string_view name, beast::string_view value,
                       error_code&) override {
        if (f == http::field::content_type && !seen_type) {  // the first one, as before
            seen_type = true;
            res.content_type.assign(value.data(), value.size());
        }
        res.headers.emplace_back(std::string(name.data(), name.size()),
                                 std::string(value.data(), value.size()));
    }
    void on_header_impl(error_code&) override {}
    void on_body_init_impl(const boost::optional<std::uint64_t>& length, error_code&) override {
        // basic_parser has already refused a length over the body limit.
        if (length) res.body.reserve(static_cast<std::size_t>(*length));
    }
    std::size_t on_body_impl(beast::string_view body, error_code&) override {
        res.body.append(body.data(), body.size());
        return body.size();
    }
    void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
    std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code&) override {
        res.body.append(body.data(), body.size());
        return body.size();
    }
    void on_finish_impl(error_code&) override {}
};
}  // namespace

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

// Feeds the buffered bytes to the parser: true when it is finished (a whole response,
// ec clear; or a parse error in ec), false when it needs more bytes.
bool feed_parser(beast::flat_buffer& b, response_parser& p, error_code& ec) {
    while (b.size() != 0) {
        error_code pec;
        auto used = p.put(b.data(), pec);
        b.consume(used);
        if (pec && pec != http::error::need_more) {
            ec = pec;
            return true;
        }
        if (p.is_done()) {
            ec = {};
            return true;
        }
        if (pec || used == 0) break;
    }
    return false;
}

// Writes the request and reads the response, feeding the parser from plain
// async_read_some calls (the loop Beast's http::async_read runs, written out here: one
// coroutine frame per exchange, and we see exactly whether any byte came back).
template <class Stream>
asio::awaitable<exchange_result> async_exchange_on(Stream& s, connection& c,
                                                   const std::string& wire,
                                                   steady_time deadline,
                                                   const http_options& o,
                                                   const std::shared_ptr<deadline_watch>& watch) {
    exchange_result r;
    auto cs = co_await asio::this_coro::cancellation_state;
    if (is_cancelled(cs)) {
        r.ec = asio::error::operation_aborted;
        co_return r;
    }
    deadline_watch::scope timed(watch, c.lowest().socket(), deadline);
    auto [wec, written] = co_await asio::async_write(s, asio::buffer(wire), use_nothrow);
    (void)written;
    if (timed.fired()) wec = beast::error::timeout;  // the watch cancelled the socket
    if (wec) {
        r.ec = wec;
        co_return r;
    }
    r.wrote = true;
    // RFC 9110 §15.2: skip interim 1xx responses (e.g. 103 Early Hints) before the final one.
    std::optional<response_parser> p;
    do {
        p.emplace();
        p->eager(true);
        p->body_limit(o.max_body_size);
        p->header_limit(static_cast<std::uint32_t>(o.max_header_size));
        for (;;) {
            if (feed_parser(c.buffer, *p, r.ec)) break;
            if (is_cancelled(cs)) {
                r.ec = asio::error::operation_aborted;
                break;
            }
            if (timed.fired()) {
                r.ec = beast::error::timeout;
                break;
            }
            auto [ec, n] = co_await s.async_read_some(c.buffer.prepare(16 * 1024), use_nothrow);
            if (timed.fired()) {  // the watch cancelled the socket
                r.ec = beast::error::timeout;
                break;
            }
            c.buffer.commit(n);
            r.got_bytes = r.got_bytes || n != 0;
            if (ec == asio::error::eof) {
                if (!p->got_some() && c.buffer.size() == 0) {
                    r.ec = http::error::end_of_stream;
                } else {
                    error_code eof_ec;
                    p->put_eof(eof_ec);  // completes a body that ends at EOF, else partial_message
                    r.ec = eof_ec;
                }
                break;
            }
            if (ec) {
                r.ec = ec;
                break;
            }
        }
        if (r.ec) co_return r;
    } while (p->res.status / 100 == 1 && p->res.status != 101);
    r.keep_alive = p->keep_alive();
    r.response = std::move(p->res);
    co_return r;
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
    // Written straight into `wire` (no Beast message: its field table cost a map insert
    // and two allocations per header, bench/README.md P1). Order: the caller's headers,
    // then Host, User-Agent, Accept, Content-Type when the caller set none, and
    // Content-Length (for a body, POST or PUT). A caller's Content-Length and
    // Transfer-Encoding are always dropped: the body is framed by our Content-Length only
    // (Beast's prepare_payload kept a caller's Transfer-Encoding next to it).
    bool has_host = false, has_agent = false, has_accept = false, has_type = false;
    std::size_t headers_size = 0;
    for (const auto& [name, value] : req.headers) {
        if (name.empty() || !clean_header_text(name) || !clean_header_text(value) ||
            name.find_first_of(" :\t") != std::string::npos) {
            diag.client_message = "refusing to send a malformed header (" +
                                  escape_untrusted(name, 40) + ") to " + t.display;
            return client_errc::bad_input;
        }
        headers_size += name.size() + value.size() + 4;
    }
    const bool has_length = !req.body.empty() || req.method == http_method::post ||
                            req.method == http_method::put;
    wire.clear();
    wire.reserve(160 + t.path.size() + t.host_header.size() + o.user_agent.size() +
                 headers_size + req.body.size());
    wire.append(http::to_string(to_verb(req.method))).append(" ").append(t.path).append(" HTTP/1.1\r\n");
    for (const auto& [name, value] : req.headers) {
        if (beast::iequals(name, "content-length") || beast::iequals(name, "transfer-encoding"))
            continue;
        has_host = has_host || beast::iequals(name, "host");
        has_agent = has_agent || beast::iequals(name, "user-agent");
        has_accept = has_accept || beast::iequals(name, "accept");
        has_type = has_type || beast::iequals(name, "content-type");
        wire.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_host) wire.append("Host: ").append(t.host_header).append("\r\n");
    if (!has_agent && !o.user_agent.empty())
        wire.append("User-Agent: ").append(o.user_agent).append("\r\n");
    if (!has_accept) wire.append("Accept: application/json\r\n");
    if (req.method == http_method::post && !req.body.empty() && !has_type)
        wire.append("Content-Type: application/x-www-form-urlencoded\r\n");
    if (has_length) wire.append("Content-Length: ").append(std::to_string(req.body.size())).append("\r\n");
    wire.append("\r\n").append(req.body);
    return {};
}

asio::awaitable<exchange_result> async_exchange(connection& c, const std::string& wire,
                                                steady_time deadline, const http_options& o,
                                                const std::shared_ptr<deadline_watch>& watch) {
    // Not a coroutine: hands back the awaitable of the stream's own exchange (one frame).
    // Plain: straight on the socket (tcp_stream's per-operation layer has no work to do
    // without an expiry). TLS: through the stream, whose expiry is never (async_open).
    if (c.secure) return async_exchange_on(*c.secure, c, wire, deadline, o, watch);
    return async_exchange_on(c.plain->socket(), c, wire, deadline, o, watch);
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

// ---- deadline_watch ---------------------------------------------------------------------

deadline_watch::scope::scope(std::shared_ptr<deadline_watch> w, asio::ip::tcp::socket& s,
                             steady_time deadline)
    : watch_(std::move(w)) {
    node_.deadline = deadline;
    node_.socket = &s;
    watch_->link(node_);
}

deadline_watch::scope::~scope() { watch_->unlink(node_); }

void deadline_watch::stop() {
    stopped_ = true;
    armed_ = false;
    ++generation_;
    timer_.cancel();
}

void deadline_watch::link(node& n) {
    node* after = tail_;  // deadlines nearly always grow: walk from the tail
    while (after && after->deadline > n.deadline) after = after->prev;
    n.prev = after;
    n.next = after ? after->next : head_;
    (n.next ? n.next->prev : tail_) = &n;
    (after ? after->next : head_) = &n;
    if (!stopped_ && (!armed_ || n.deadline < armed_at_)) arm(n.deadline);
}

void deadline_watch::unlink(node& n) {
    (n.prev ? n.prev->next : head_) = n.next;
    (n.next ? n.next->prev : tail_) = n.prev;
    n.prev = n.next = nullptr;
    if (head_ || !armed_ || idle_check_posted_ || stopped_) return;
    idle_check_posted_ = true;
    asio::post(timer_.get_executor(), [self = shared_from_this()] {
        self->idle_check_posted_ = false;
        if (self->head_ || !self->armed_ || self->stopped_) return;
        self->armed_ = false;
        ++self->generation_;
        self->timer_.cancel();
    });
}

void deadline_watch::arm(steady_time t) {
    armed_ = true;
    armed_at_ = t;
    timer_.expires_at(t);  // cancels a wait armed for later; its handler sees an old generation
    timer_.async_wait([self = shared_from_this(), g = ++generation_](const error_code&) {
        self->on_timer(g);
    });
}

void deadline_watch::on_timer(std::uint64_t generation) {
    if (generation != generation_ || stopped_) return;
    armed_ = false;
    const auto now = steady_clock::now();
    node* n = head_;
    for (; n && n->deadline <= now; n = n->next) {
        if (n->fired) continue;
        n->fired = true;
        // Shut down, then cancel: the pending read or write ends now, and so does any read
        // or write a composed operation (async_write's loop, a TLS record read) starts
        // after this handler (EOF / EPIPE), which a cancel alone would not reach.
        error_code ignored;
        n->socket->shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
        n->socket->cancel(ignored);
    }
    if (n) arm(n->deadline);
}

}  // namespace latchkey::transport::detail
