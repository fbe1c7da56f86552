// TLS: certificate and host name verification are on by default, a CA file replaces the
// trust store, and a rejected certificate says why (OpenSSL's reason) and for which host.
// The certificates are made at test time (tests/support/test_cert.cpp).
#include <latchkey/transport/http_client.hpp>

#include "support/test_cert.hpp"
#include "support/test_server.hpp"
#include "support/transport_helpers.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <cstdlib>

namespace {
namespace asio = boost::asio;
using namespace latchkey;
using latchkey::test::async_fetch;
using namespace asio::experimental::awaitable_operators;
using std::chrono::milliseconds;

std::vector<std::string> names(std::initializer_list<const char*> l) { return {l.begin(), l.end()}; }

// A TLS server with a certificate for `dns` + `ips`, and a client trusting `ca_file` (or
// the default trust store when empty). Test coroutines take a fixture& because run_test
// finishes before the fixture dies.
enum class trust { system, the_cert, missing_file };

struct tls_fixture {
    test::temp_dir dir;
    test::self_signed_cert cert;
    asio::io_context ioc;
    test::test_server server;
    transport::http_client client;

    tls_fixture(const std::vector<std::string>& dns, const std::vector<std::string>& ips,
                trust t, milliseconds timeout = milliseconds(30'000))
        : cert(test::make_self_signed_cert(dns, ips, dir.path())),
          server(ioc, cert.cert_pem, cert.key_pem),
          client(ioc.get_executor(), options(t, timeout)) {}

    transport::http_options options(trust t, milliseconds timeout) const {
        transport::http_options o;
        o.request_timeout = timeout;
        if (t == trust::the_cert) o.ca_file = cert.cert_file.string();
        if (t == trust::missing_file) o.ca_file = (dir.path() / "nope.pem").string();
        return o;
    }
};

asio::awaitable<void> default_trust(tls_fixture& f) {
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/jwks", "localhost")));
    CHECK(out.ec == client_errc::tls_verify_failed);
    INFO(out.diag.client_message);
    CHECK(out.diag.client_message.find("TLS certificate of localhost rejected") == 0);
    CHECK(out.diag.client_message.find("certificate verify failed: self-signed certificate") !=
          std::string::npos);
    CHECK(out.diag.client_message.find(f.server.url("/jwks", "localhost")) != std::string::npos);
    CHECK(f.server.requests().empty());
    CHECK(f.client.idle_connections() == 0);
}

TEST_CASE("https: a self-signed certificate is rejected by the default trust store",
          "[transport]") {
    // The system store, not whatever the environment points at.
    ::unsetenv("SSL_CERT_FILE");
    tls_fixture f(names({"localhost"}), names({"127.0.0.1"}), trust::system);
    test::run_test(f.ioc, default_trust(f));
}

asio::awaitable<void> trusted(tls_fixture& f) {
    auto by_name = co_await async_fetch(f.client, make_get(f.server.url("/a", "localhost")));
    INFO(by_name.diag.client_message);
    REQUIRE_FALSE(by_name.ec);
    CHECK(by_name.response.status == 200);
    auto by_ip = co_await async_fetch(f.client, make_get(f.server.url("/b")));
    INFO(by_ip.diag.client_message);
    REQUIRE_FALSE(by_ip.ec);
    auto again = co_await async_fetch(f.client, make_get(f.server.url("/c", "localhost")));
    REQUIRE_FALSE(again.ec);
    REQUIRE(f.server.requests().size() == 3);
    CHECK(f.server.requests()[0].header("Host") ==
          "localhost:" + std::to_string(f.server.port()));
    // Two origins (localhost and 127.0.0.1), each kept alive and reused.
    CHECK(f.client.connections_opened() == 2);
    CHECK(f.client.idle_connections() == 2);
}

TEST_CASE("https: ca_file set to the server's certificate is trusted, by name and by IP",
          "[transport]") {
    tls_fixture f(names({"localhost"}), names({"127.0.0.1"}), trust::the_cert);
    test::run_test(f.ioc, trusted(f));
}

asio::awaitable<void> wrong_host(tls_fixture& f) {
    auto by_ip = co_await async_fetch(f.client, make_get(f.server.url("/token")));
    CHECK(by_ip.ec == client_errc::tls_verify_failed);
    INFO(by_ip.diag.client_message);
    CHECK(by_ip.diag.client_message.find("TLS certificate of 127.0.0.1 rejected") == 0);
    CHECK(by_ip.diag.client_message.find("certificate verify failed: IP address mismatch") !=
          std::string::npos);

    auto by_name = co_await async_fetch(f.client, make_get(f.server.url("/token", "localhost")));
    CHECK(by_name.ec == client_errc::tls_verify_failed);
    INFO(by_name.diag.client_message);
    CHECK(by_name.diag.client_message.find("certificate verify failed: hostname mismatch") !=
          std::string::npos);
    CHECK(f.server.requests().empty());
}

TEST_CASE("https: a trusted certificate for another host name is rejected as a mismatch",
          "[transport]") {
    tls_fixture f(names({"example.test"}), {}, trust::the_cert);
    test::run_test(f.ioc, wrong_host(f));
}

asio::awaitable<void> missing_ca_file(tls_fixture& f) {
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/a", "localhost")));
    CHECK(out.ec == client_errc::connection_failed);
    INFO(out.diag.client_message);
    CHECK(out.diag.client_message.find("cannot load CA certificates from") == 0);
    CHECK(f.server.accepts() == 0);
}

TEST_CASE("https: an unreadable ca_file is reported before connecting", "[transport]") {
    tls_fixture f(names({"localhost"}), {}, trust::missing_file);
    test::run_test(f.ioc, missing_ca_file(f));
}

asio::awaitable<void> tls_hang(tls_fixture& f) {
    f.server.push(test::reply::hang_up());
    f.server.push(test::reply::hang_up());
    auto timed_out = co_await async_fetch(f.client, make_get(f.server.url("/slow", "localhost")));
    CHECK(timed_out.ec == client_errc::timeout);
    CHECK(timed_out.diag.client_message ==
          "request to " + f.server.url("/slow", "localhost") + " timed out after 300 ms");

    error_code ec;
    diagnostics diag;
    asio::steady_timer timer(f.ioc, milliseconds(50));
    auto start = std::chrono::steady_clock::now();
    auto winner = co_await (f.client.async_send(make_get(f.server.url("/slow", "localhost")), ec, diag) ||
                            timer.async_wait(asio::use_awaitable));
    CHECK(winner.index() == 1);
    CHECK(ec == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(250));
    CHECK(f.client.idle_connections() == 0);
    CHECK(f.client.connections_opened() == 2);
}

TEST_CASE("https: deadline and cancellation also stop a TLS exchange", "[transport]") {
    tls_fixture f(names({"localhost"}), {}, trust::the_cert, milliseconds(300));
    test::run_test(f.ioc, tls_hang(f));
}

}  // namespace
