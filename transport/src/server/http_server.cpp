// latch-idp's HTTP server (http_server.hpp), after Beast's advanced server examples: one
// coroutine per connection, tcp_stream deadlines, a registry for draining.
#include <latchkey/transport/server/http_server.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <cstdio>
#include <list>
#include <optional>
#include <type_traits>

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
    // A plain or TLS connection: the socket is moved into `tls` when the server has a
    // certificate.
    struct connection {
        explicit connection(tcp::socket s) : stream(std::move(s)) {}
        beast::tcp_stream stream;
        std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> tls;
        bool busy = false;
        beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : stream; }
    };

    impl(asio::any_io_executor e, request_handler h, server_options o)
        : ex(e), handler(std::move(h)), opt(o), acceptor(e), grace_timer(e) {}

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> session(std::list<std::shared_ptr<connection>>::iterator it);
    template <class Stream>
    asio::awaitable<bool> serve_one(connection& c, Stream& s, beast::flat_buffer& buf, const std::string& peer,
                                    bool first);
    template <class Stream>
    asio::awaitable<void> serve_all(connection& c, Stream& s, const std::string& peer);
    void close_idle();

    asio::any_io_executor ex;
    request_handler handler;
    server_options opt;
    tcp::acceptor acceptor;
    asio::steady_timer grace_timer;
    std::list<std::shared_ptr<connection>> conns;
    std::optional<asio::ssl::context> tls;  // set by enable_tls
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

template <class Stream>
asio::awaitable<bool> http_server::impl::serve_one(connection& c, Stream& s, beast::flat_buffer& buf,
                                                   const std::string& peer, bool first) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(opt.max_body);
    parser.header_limit(16 * 1024);
    c.lowest().expires_after(first ? opt.read_timeout : opt.idle_timeout);
    auto [ec, n] = co_await http::async_read(s, buf, parser, use_nothrow);
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
        auto res = to_beast(plain(413, "request too large\n"), 11);
        res.keep_alive(false);
        co_await http::async_write(s, res, use_nothrow);
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
    c.lowest().expires_after(opt.read_timeout);
    auto [wec, wn] = co_await http::async_write(s, res, use_nothrow);
    c.busy = false;
    co_return !wec && res.keep_alive() && !draining;
}

asio::awaitable<void> http_server::impl::session(std::list<std::shared_ptr<connection>>::iterator it) {
    auto self = shared_from_this();
    auto c = *it;
    beast::error_code pec;
    const auto ep = c->stream.socket().remote_endpoint(pec);
    const std::string peer = pec ? std::string{} : ep.address().to_string();
    if (tls) {
        c->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(std::move(c->stream), *tls);
        co_await serve_all(*c, *c->tls, peer);
    } else {
        co_await serve_all(*c, c->stream, peer);
    }
    beast::error_code ignored;
    c->lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    c->lowest().close();
    conns.erase(it);
    if (draining && conns.empty()) grace_timer.cancel();  // nothing left: no need to wait
}

// Requests until the connection ends. Over TLS: the handshake first (a client speaking
// plain HTTP fails it and is closed), a bounded close_notify at the end.
template <class Stream>
asio::awaitable<void> http_server::impl::serve_all(connection& c, Stream& s, const std::string& peer) {
    constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;
    if constexpr (is_tls) {
        c.lowest().expires_after(opt.read_timeout);
        auto [hec] = co_await s.async_handshake(asio::ssl::stream_base::server, use_nothrow);
        if (hec) co_return;
    }
    beast::flat_buffer buf;
    for (bool first = true; co_await serve_one(c, s, buf, peer, first); first = false) {
    }
    if constexpr (is_tls) {
        c.lowest().expires_after(std::chrono::seconds(2));
        auto [sec] = co_await s.async_shutdown(use_nothrow);
        (void)sec;  // the peer may have gone: nothing to do either way
    }
}

void http_server::impl::close_idle() {
    for (auto& c : conns)
        if (!c->busy) c->lowest().socket().close();
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

error_code http_server::enable_tls(const std::string& cert_file, const std::string& key_file, diagnostics& diag) {
    asio::ssl::context ctx(asio::ssl::context::tls_server);
    beast::error_code ec;
    ctx.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                        asio::ssl::context::single_dh_use,
                    ec);
    if (!ec) ctx.use_certificate_chain_file(cert_file, ec);
    if (ec) {
        diag.client_message = "cannot use the TLS certificate " + cert_file + ": " + ec.message();
        return ec;
    }
    ctx.use_private_key_file(key_file, asio::ssl::context::pem, ec);
    if (ec) {
        diag.client_message = "cannot use the TLS key " + key_file + " (PEM, matching the certificate): " + ec.message();
        return ec;
    }
    impl_->tls.emplace(std::move(ctx));
    return {};
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
            for (auto& c : s->conns) c->lowest().socket().close();
    });
}

std::size_t http_server::open_connections() const {
    return impl_->conns.size();
}

}  // namespace latchkey::transport::server
