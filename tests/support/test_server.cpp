#include "support/test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <cctype>
#include <deque>
#include <stdexcept>

namespace latchkey::test {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

namespace {

constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(a[i])) !=
            std::tolower(static_cast<unsigned char>(b[i])))
            return false;
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// Request line and headers (RFC 9112 §3, §5); the head ends with an empty line.
bool parse_head(std::string_view head, recorded_request& r, std::size_t& content_length) {
    auto eol = head.find("\r\n");
    auto line = head.substr(0, eol);
    auto sp1 = line.find(' ');
    auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1) return false;
    r.method = std::string(line.substr(0, sp1));
    r.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
    head.remove_prefix(eol + 2);
    content_length = 0;
    while (!head.empty() && !head.starts_with("\r\n")) {
        eol = head.find("\r\n");
        line = head.substr(0, eol);
        auto colon = line.find(':');
        if (colon == std::string_view::npos) return false;
        auto name = std::string(line.substr(0, colon));
        auto value = std::string(trim(line.substr(colon + 1)));
        if (iequals(name, "content-length")) content_length = std::stoul(value);
        r.headers.emplace_back(std::move(name), std::move(value));
        head.remove_prefix(eol + 2);
    }
    return true;
}

std::string format_reply(const reply& rep) {
    std::string out;
    if (rep.early_hints) out += "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n";
    out += "HTTP/1.1 " + std::to_string(rep.status) + " Test\r\n";
    out += "Content-Type: " + rep.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(rep.body.size()) + "\r\n";
    if (rep.close) out += "Connection: close\r\n";
    out += "\r\n" + rep.body;
    return out;
}

struct session_base {
    bool idle = false;  // waiting for the next request, nothing buffered
    bool open = true;
    virtual ~session_base() = default;
    virtual void close() = 0;
};

template <class Stream>
struct session final : session_base {
    Stream stream;
    template <class... Args>
    explicit session(Args&&... args) : stream(std::forward<Args>(args)...) {}
    void close() override {
        error_code ignored;
        stream.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
        stream.lowest_layer().close(ignored);
        open = false;
    }
};

}  // namespace

struct test_server::state {
    tcp::acceptor acceptor;
    std::unique_ptr<ssl::context> tls;
    std::size_t accepts = 0;
    std::vector<recorded_request> requests;
    std::deque<reply> script;
    std::vector<std::weak_ptr<session_base>> sessions;

    explicit state(asio::io_context& ioc)
        : acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

    reply next_reply() {
        if (script.empty()) return reply{};
        reply r = std::move(script.front());
        script.pop_front();
        return r;
    }
};

namespace {

using state_ptr = std::shared_ptr<test_server::state>;

template <class Stream>
asio::awaitable<void> serve_requests(state_ptr st, std::shared_ptr<session<Stream>> s,
                                     std::size_t id) {
    std::string buf;
    for (;;) {
        s->idle = buf.empty();
        auto [ec, n] = co_await asio::async_read_until(s->stream, asio::dynamic_buffer(buf),
                                                       "\r\n\r\n", use_nothrow);
        s->idle = false;
        if (ec) break;
        recorded_request r;
        r.connection = id;
        std::size_t length = 0;
        if (!parse_head(std::string_view(buf).substr(0, n), r, length)) break;
        buf.erase(0, n);
        if (buf.size() < length) {
            auto [bec, m] = co_await asio::async_read(s->stream, asio::dynamic_buffer(buf),
                                                      asio::transfer_exactly(length - buf.size()),
                                                      use_nothrow);
            if (bec) break;
        }
        r.body = buf.substr(0, length);
        buf.erase(0, length);
        st->requests.push_back(std::move(r));

        reply rep = st->next_reply();
        if (rep.what == reply::kind::drop) break;
        if (rep.what == reply::kind::hang) {
            char sink[512];
            for (;;) {
                auto [hec, h] = co_await s->stream.async_read_some(asio::buffer(sink), use_nothrow);
                if (hec) break;
            }
            break;
        }
        auto out = format_reply(rep);
        auto [wec, w] = co_await asio::async_write(s->stream, asio::buffer(out), use_nothrow);
        if (wec || rep.close) break;
    }
    s->close();
}

asio::awaitable<void> serve_plain(state_ptr st, tcp::socket sock, std::size_t id) {
    auto s = std::make_shared<session<tcp::socket>>(std::move(sock));
    st->sessions.push_back(s);
    co_await serve_requests(st, s, id);
}

asio::awaitable<void> serve_tls(state_ptr st, tcp::socket sock, std::size_t id) {
    auto s = std::make_shared<session<ssl::stream<tcp::socket>>>(std::move(sock), *st->tls);
    st->sessions.push_back(s);
    auto [ec] = co_await s->stream.async_handshake(ssl::stream_base::server, use_nothrow);
    if (ec) {
        s->close();  // e.g. the client rejected our certificate
        co_return;
    }
    co_await serve_requests(st, s, id);
}

asio::awaitable<void> accept_loop(state_ptr st) {
    for (;;) {
        auto [ec, sock] = co_await st->acceptor.async_accept(use_nothrow);
        if (ec) co_return;
        auto id = ++st->accepts;
        if (st->tls) asio::co_spawn(st->acceptor.get_executor(), serve_tls(st, std::move(sock), id), asio::detached);
        else asio::co_spawn(st->acceptor.get_executor(), serve_plain(st, std::move(sock), id), asio::detached);
    }
}

}  // namespace

std::string recorded_request::header(std::string_view name) const {
    for (const auto& [k, v] : headers)
        if (iequals(k, name)) return v;
    return {};
}

test_server::test_server(asio::io_context& ioc) : st_(std::make_shared<state>(ioc)) {
    asio::co_spawn(ioc, accept_loop(st_), asio::detached);
}

test_server::test_server(asio::io_context& ioc, const std::string& cert_pem,
                         const std::string& key_pem)
    : st_(std::make_shared<state>(ioc)) {
    st_->tls = std::make_unique<ssl::context>(ssl::context::tls_server);
    st_->tls->use_certificate_chain(asio::buffer(cert_pem));
    st_->tls->use_private_key(asio::buffer(key_pem), ssl::context::pem);
    asio::co_spawn(ioc, accept_loop(st_), asio::detached);
}

test_server::~test_server() {
    error_code ignored;
    st_->acceptor.close(ignored);
    for (auto& w : st_->sessions)
        if (auto s = w.lock()) s->close();
}

unsigned short test_server::port() const { return st_->acceptor.local_endpoint().port(); }

std::string test_server::url(std::string_view path, std::string_view host) const {
    return std::string(st_->tls ? "https://" : "http://") + std::string(host) + ":" +
           std::to_string(port()) + std::string(path);
}

void test_server::push(reply r) { st_->script.push_back(std::move(r)); }
std::size_t test_server::accepts() const { return st_->accepts; }
const std::vector<recorded_request>& test_server::requests() const { return st_->requests; }

std::size_t test_server::open_connections() const {
    std::size_t n = 0;
    for (auto& w : st_->sessions)
        if (auto s = w.lock(); s && s->open) ++n;
    return n;
}

std::size_t test_server::idle_connections() const {
    std::size_t n = 0;
    for (auto& w : st_->sessions)
        if (auto s = w.lock(); s && s->open && s->idle) ++n;
    return n;
}

void test_server::close_idle() {
    for (auto& w : st_->sessions)
        if (auto s = w.lock(); s && s->open && s->idle) s->close();
}

void run_test(asio::io_context& ioc, asio::awaitable<void> task, std::chrono::seconds limit) {
    std::exception_ptr error;
    bool done = false;
    auto on_done = [&error, &done](std::exception_ptr e) {
        error = e;
        done = true;
    };
    if (ioc.stopped()) ioc.restart();
    asio::co_spawn(ioc, std::move(task), on_done);
    auto until = std::chrono::steady_clock::now() + limit;
    while (!done && ioc.run_one_until(until) > 0) {
    }
    if (error) std::rethrow_exception(error);
    if (!done) throw std::runtime_error("the test coroutine did not finish in time");
}

}  // namespace latchkey::test
