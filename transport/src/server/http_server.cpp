// latch-idp's HTTP server (http_server.hpp), after Beast's advanced server examples: one
// coroutine per connection, tcp_stream deadlines, a registry for draining.
#include <latchkey/transport/server/http_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdio>
#include <list>

namespace latchkey::transport::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

http_method method_of(http::verb v) {
    switch (v) {
    case http::verb::post: return http_method::post;
    case http::verb::put: return http_method::put;
    case http::verb::delete_: return http_method::delete_;
    default: return http_method::get;
    }
}

server_request to_request(http::request<http::string_body>&& m, const std::string& peer) {
    server_request r;
    r.method = method_of(m.method());
    r.method_name = std::string(m.method_string());
    r.target = std::string(m.target());
    for (const auto& f : m) r.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    r.body = std::move(m.body());
    r.peer_ip = peer;
    return r;
}

http::response<http::string_body> to_beast(http_response&& r, unsigned version) {
    http::response<http::string_body> m{static_cast<http::status>(r.status), version};
    m.set(http::field::server, "latch-idp");
    if (!r.content_type.empty()) m.set(http::field::content_type, r.content_type);
    for (auto& [k, v] : r.headers) m.insert(k, v);
    m.body() = std::move(r.body);
    m.prepare_payload();
    return m;
}

http_response plain(int status, std::string body) {
    http_response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = std::move(body);
    return r;
}

}  // namespace

std::string_view server_request::path() const {
    std::string_view t = target;
    return t.substr(0, t.find('?'));
}

std::string_view server_request::query() const {
    const auto q = target.find('?');
    return q == std::string::npos ? std::string_view{} : std::string_view(target).substr(q + 1);
}

std::string server_request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return {};
}

struct http_server::impl : std::enable_shared_from_this<impl> {
    struct connection {
        explicit connection(tcp::socket s) : stream(std::move(s)) {}
        beast::tcp_stream stream;
        bool busy = false;
    };

    impl(asio::any_io_executor e, request_handler h, server_options o)
        : ex(e), handler(std::move(h)), opt(o), acceptor(e), grace_timer(e) {}

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(std::list<std::shared_ptr<connection>>::iterator it);
    asio::awaitable<bool> serve_one(connection& c, beast::flat_buffer& buf, const std::string& peer, bool first);
    void close_idle();

    asio::any_io_executor ex;
    request_handler handler;
    server_options opt;
    tcp::acceptor acceptor;
    asio::steady_timer grace_timer;
    std::list<std::shared_ptr<connection>> conns;
    bool draining = false;
};

asio::awaitable<void> http_server::impl::accept_loop() {
    auto self = shared_from_this();
    while (!draining) {
        auto [ec, sock] = co_await acceptor.async_accept(use_nothrow);
        if (draining || !acceptor.is_open()) break;
        if (ec) {
            // EMFILE and friends: back off briefly rather than spin.
            grace_timer.expires_after(std::chrono::milliseconds(10));
            co_await grace_timer.async_wait(use_nothrow);
            continue;
        }
        if (conns.size() >= opt.max_connections) continue;  // sock closes here
        sock.set_option(tcp::no_delay(true));
        conns.push_front(std::make_shared<connection>(std::move(sock)));
        asio::co_spawn(ex, session(conns.begin()), asio::detached);
    }
}

asio::awaitable<bool> http_server::impl::serve_one(connection& c, beast::flat_buffer& buf,
                                                   const std::string& peer, bool first) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opt.max_body);
    parser.header_limit(16 * 1024);
    c.stream.expires_after(first ? opt.read_timeout : opt.idle_timeout);
    auto [ec, n] = co_await http::async_read(c.stream, buf, parser, use_nothrow);
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
        auto res = to_beast(plain(413, "request too large\n"), 11);
        res.keep_alive(false);
        co_await http::async_write(c.stream, res, use_nothrow);
        co_return false;
    }
    if (ec) co_return false;
    c.busy = true;
    auto msg = parser.release();
    const bool keep_alive = msg.keep_alive();
    const unsigned version = msg.version();
    http_response resp;
    try {
        resp = co_await handler(to_request(std::move(msg), peer));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "latch-idp: handler failed: %s\n", e.what());
        resp = plain(500, "internal error\n");
    }
    auto res = to_beast(std::move(resp), version);
    res.keep_alive(keep_alive && !draining);
    c.stream.expires_after(opt.read_timeout);
    auto [wec, wn] = co_await http::async_write(c.stream, res, use_nothrow);
    c.busy = false;
    co_return !wec && res.keep_alive() && !draining;
}

asio::awaitable<void> http_server::impl::session(std::list<std::shared_ptr<connection>>::iterator it) {
    auto self = shared_from_this();
    auto c = *it;
    beast::error_code pec;
    const auto ep = c->stream.socket().remote_endpoint(pec);
    const std::string peer = pec ? std::string{} : ep.address().to_string();
    beast::flat_buffer buf;
    for (bool first = true; co_await serve_one(*c, buf, peer, first); first = false) {
    }
    beast::error_code ignored;
    c->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    c->stream.close();
    conns.erase(it);
    if (draining && conns.empty()) grace_timer.cancel();  // nothing left: no need to wait
}

void http_server::impl::close_idle() {
    for (auto& c : conns)
        if (!c->busy) c->stream.socket().close();
}

http_server::http_server(asio::any_io_executor ex, request_handler handler, server_options options)
    : impl_(std::make_shared<impl>(ex, std::move(handler), options)) {}

http_server::~http_server() = default;

result<std::uint16_t> http_server::listen(const std::string& host, std::uint16_t port, diagnostics& diag) {
    beast::error_code ec;
    const auto addr = asio::ip::make_address(host, ec);
    tcp::endpoint ep(addr, port);
    if (!ec) impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(ep, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        diag.client_message = "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
        return ec;
    }
    return impl_->acceptor.local_endpoint().port();
}

void http_server::start() {
    asio::co_spawn(impl_->ex, impl_->accept_loop(), asio::detached);
}

void http_server::drain(std::chrono::milliseconds grace) {
    if (impl_->draining) return;
    impl_->draining = true;
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
    impl_->close_idle();
    if (impl_->conns.empty()) return;
    impl_->grace_timer.expires_after(grace);
    impl_->grace_timer.async_wait([weak = std::weak_ptr<impl>(impl_)](beast::error_code) {
        if (auto s = weak.lock())
            for (auto& c : s->conns) c->stream.socket().close();
    });
}

std::size_t http_server::open_connections() const {
    return impl_->conns.size();
}

}  // namespace latchkey::transport::server
