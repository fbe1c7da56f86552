// Proxies in the real HTTP client: an https request to a name that only the proxy knows
// goes through HTTP CONNECT with the proxy URL's basic auth, the TLS session inside the
// tunnel verifies the origin's name, the tunnel is reused, and a 407 says what to do.
// The proxy is a small in-test CONNECT proxy (the e2e test uses Debian's tinyproxy).
#include <latchkey/transport/http_client.hpp>

#include "support/test_cert.hpp"
#include "support/test_server.hpp"
#include "support/transport_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

namespace {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace latchkey;
using latchkey::test::async_fetch;

// Accepts connections; for each, reads the CONNECT head, records it and, unless told to
// answer `status`, connects to 127.0.0.1:`target_port` and splices the two sockets.
struct connect_proxy {
    tcp::acceptor acceptor;
    unsigned short target_port;
    int status = 200;
    std::vector<std::string> heads;

    connect_proxy(asio::io_context& ioc, unsigned short port)
        : acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), target_port(port) {}
    std::string url(const std::string& userinfo = "") const {
        return "http://" + userinfo + "127.0.0.1:" + std::to_string(acceptor.local_endpoint().port());
    }
};

asio::awaitable<void> pump(std::shared_ptr<tcp::socket> from, std::shared_ptr<tcp::socket> to) {
    char buf[16384];
    for (;;) {
        auto [ec, n] = co_await from->async_read_some(asio::buffer(buf), asio::as_tuple(asio::use_awaitable));
        if (ec) break;
        auto [wec, m] = co_await asio::async_write(*to, asio::buffer(buf, n), asio::as_tuple(asio::use_awaitable));
        (void)m;
        if (wec) break;
    }
    boost::system::error_code ignored;
    to->shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> serve_one(connect_proxy& p, std::shared_ptr<tcp::socket> client) {
    std::string head;
    auto [ec, n] = co_await asio::async_read_until(*client, asio::dynamic_buffer(head), "\r\n\r\n",
                                                   asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    p.heads.push_back(head.substr(0, n));
    if (p.status != 200) {
        std::string answer = "HTTP/1.1 " + std::to_string(p.status) + " Nope\r\nContent-Length: 0\r\n\r\n";
        co_await asio::async_write(*client, asio::buffer(answer), asio::as_tuple(asio::use_awaitable));
        co_return;
    }
    auto upstream = std::make_shared<tcp::socket>(client->get_executor());
    co_await upstream->async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), p.target_port),
                                     asio::as_tuple(asio::use_awaitable));
    std::string ok = "HTTP/1.1 200 Connection established\r\n\r\n";
    co_await asio::async_write(*client, asio::buffer(ok), asio::as_tuple(asio::use_awaitable));
    asio::co_spawn(client->get_executor(), pump(client, upstream), asio::detached);
    co_await pump(upstream, client);
}

asio::awaitable<void> accept_loop(connect_proxy& p) {
    for (;;) {
        auto s = std::make_shared<tcp::socket>(p.acceptor.get_executor());
        auto [ec] = co_await p.acceptor.async_accept(*s, asio::as_tuple(asio::use_awaitable));
        if (ec) co_return;
        asio::co_spawn(p.acceptor.get_executor(), serve_one(p, s), asio::detached);
    }
}

struct proxy_fixture {
    test::temp_dir dir;
    test::self_signed_cert cert;
    asio::io_context ioc;
    test::test_server server;
    connect_proxy proxy;

    proxy_fixture()
        : cert(test::make_self_signed_cert({"api.proxied.test"}, {}, dir.path())),
          server(ioc, cert.cert_pem, cert.key_pem), proxy(ioc, server.port()) {
        asio::co_spawn(ioc, accept_loop(proxy), asio::detached);
    }
    transport::http_options options(const std::string& proxy_url, const std::string& no_proxy = "") const {
        transport::http_options o;
        o.ca_file = cert.cert_file.string();
        o.proxy_from_environment = false;
        o.https_proxy = proxy_url;
        o.no_proxy = no_proxy;
        return o;
    }
};

asio::awaitable<void> through_the_tunnel(proxy_fixture& f) {
    transport::http_client client(f.ioc.get_executor(), f.options(f.proxy.url("alice:s3cret@")));
    auto url = f.server.url("/jwks", "api.proxied.test");
    auto first = co_await async_fetch(client, make_get(url));
    INFO(first.diag.client_message);
    REQUIRE_FALSE(first.ec);
    CHECK(first.response.status == 200);
    auto second = co_await async_fetch(client, make_get(url));
    REQUIRE_FALSE(second.ec);
    CHECK(client.connections_opened() == 1);  // the tunnel is pooled like a direct connection
    REQUIRE(f.proxy.heads.size() == 1);
    const auto port = std::to_string(f.server.port());
    CHECK(f.proxy.heads[0].starts_with("CONNECT api.proxied.test:" + port + " HTTP/1.1\r\n"));
    CHECK(f.proxy.heads[0].find("Proxy-Authorization: Basic YWxpY2U6czNjcmV0\r\n") != std::string::npos);
    REQUIRE(f.server.requests().size() == 2);
    CHECK(f.server.requests()[0].target == "/jwks");  // origin-form inside the tunnel
    CHECK(f.server.requests()[0].header("Host") == "api.proxied.test:" + port);
    CHECK(f.server.requests()[0].header("Proxy-Authorization").empty());
}

asio::awaitable<void> refused(proxy_fixture& f) {
    f.proxy.status = 407;
    transport::http_client client(f.ioc.get_executor(), f.options(f.proxy.url()));
    auto out = co_await async_fetch(client, make_get(f.server.url("/x", "api.proxied.test")));
    CHECK(out.ec == client_errc::connection_failed);
    CHECK(out.diag.client_message == "the proxy " + f.proxy.url() +
                                         " asks for credentials (407 Nope); put them in the proxy URL: "
                                         "http://USER:PASSWORD@HOST:PORT");
    f.proxy.status = 403;
    auto denied = co_await async_fetch(client, make_get(f.server.url("/x", "api.proxied.test")));
    CHECK(denied.diag.client_message.find("refused to connect to api.proxied.test:") != std::string::npos);
    CHECK(f.server.requests().empty());
}

asio::awaitable<void> bypassed(proxy_fixture& f) {
    // Loopback and NO_PROXY matches go direct: the proxy sees nothing.
    transport::http_client client(f.ioc.get_executor(), f.options(f.proxy.url(), "other.test,127.0.0.0/8"));
    auto out = co_await async_fetch(client, make_get(f.server.url("/direct", "127.0.0.1")));
    CHECK(out.ec == client_errc::tls_verify_failed);  // reached the server itself (cert is for the name)
    transport::http_client named(f.ioc.get_executor(), f.options(f.proxy.url(), ".proxied.test"));
    auto direct = co_await async_fetch(named, make_get(f.server.url("/direct", "api.proxied.test")));
    CHECK(direct.ec == client_errc::connection_failed);  // the name resolves nowhere without the proxy
    CHECK(direct.diag.client_message.find("cannot resolve api.proxied.test") != std::string::npos);
    CHECK(f.proxy.heads.empty());
}

}  // namespace

TEST_CASE("proxy: https through CONNECT with basic auth, name verified, tunnel reused",
          "[component][http][proxy]") {
    proxy_fixture f;
    test::run_test(f.ioc, through_the_tunnel(f));
}

TEST_CASE("proxy: 407 and other refusals are clear errors", "[component][http][proxy]") {
    proxy_fixture f;
    test::run_test(f.ioc, refused(f));
}

TEST_CASE("proxy: loopback and NO_PROXY go direct", "[component][http][proxy]") {
    proxy_fixture f;
    test::run_test(f.ioc, bypassed(f));
}
