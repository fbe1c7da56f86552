// The loopback listener against stuck, hostile and competing local clients, ports and
// cancellation.
#include "listener_client.hpp"
#include "support/test_server.hpp"
#include "support/transport_helpers.hpp"

#include <latchkey/transport/loopback_listener.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <catch2/catch.hpp>

namespace {
namespace asio = boost::asio;
using namespace latchkey;
using transport::loopback_listener;
using test::async_raw_exchange;
using test::get_request;
using test::wait_outcome;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;
using steady = std::chrono::steady_clock;

time_point in(seconds s) { return sys_clock::now() + s; }

asio::awaitable<void> oversized(loopback_listener* l) {
    wait_outcome w;
    asio::co_spawn(co_await asio::this_coro::executor, test::wait_into(l, "S", in(seconds(10)), &w),
                   asio::detached);
    std::string big = "GET /callback?code=a&state=S HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " +
                      std::string(16 * 1024, 'a') + "\r\n\r\n";
    auto r = co_await async_raw_exchange(l->port(), big);
    CHECK(r.status == 431);
    std::string long_target = get_request("/callback?state=S&code=" + std::string(9000, 'c'));
    auto r2 = co_await async_raw_exchange(l->port(), long_target);
    CHECK(r2.status == 431);
    CHECK_FALSE(w.finished);  // even with the right state: rejected, and still waiting
    CHECK(l->is_open());
    auto real = co_await async_raw_exchange(l->port(), get_request("/callback?code=a&state=S"));
    CHECK(real.status == 200);
    REQUIRE(co_await test::async_poll_until([&w] { return w.finished; }));
    CHECK(w.target == "/callback?code=a&state=S");
}

TEST_CASE("listener: an oversized request is rejected and the listener keeps working",
          "[listener]") {
    asio::io_context ioc;
    auto l = loopback_listener::open(ioc.get_executor());
    REQUIRE(l.has_value());
    test::run_test(ioc, oversized(&*l));
}

asio::awaitable<void> slow_clients(loopback_listener* l) {
    wait_outcome w;
    asio::co_spawn(co_await asio::this_coro::executor, test::wait_into(l, "S", in(seconds(10)), &w),
                   asio::detached);
    // One connects and never sends; another sends half a request line and stops.
    error_code ec1, ec2;
    auto silent = co_await test::async_connect_only(l->port(), ec1);
    auto partial = co_await test::async_connect_only(l->port(), ec2);
    REQUIRE_FALSE(ec1);
    REQUIRE_FALSE(ec2);
    std::string half = "GET /callback?code=a&state=S HTTP/1.1\r\nHost: 127.0";
    co_await asio::async_write(partial, asio::buffer(half), asio::as_tuple(asio::use_awaitable));

    auto start = steady::now();
    auto real = co_await async_raw_exchange(l->port(), get_request("/callback?code=real&state=S"));
    CHECK(real.status == 200);
    REQUIRE(co_await test::async_poll_until([&w] { return w.finished; }));
    CHECK(w.target == "/callback?code=real&state=S");
    // Far below the 10 s per-connection deadline: nobody waited for the stuck clients.
    CHECK(steady::now() - start < milliseconds(1000));
}

TEST_CASE("listener: a client that connects and never finishes does not block the callback",
          "[listener]") {
    asio::io_context ioc;
    auto l = loopback_listener::open(ioc.get_executor());
    REQUIRE(l.has_value());
    test::run_test(ioc, slow_clients(&*l));
}

asio::awaitable<void> hoarded_connections(loopback_listener* l) {
    wait_outcome w;
    asio::co_spawn(co_await asio::this_coro::executor, test::wait_into(l, "S", in(seconds(10)), &w),
                   asio::detached);
    std::vector<tcp::socket> hoard;
    for (int i = 0; i < 6; ++i) {
        error_code ec;
        hoard.push_back(co_await test::async_connect_only(l->port(), ec));
        REQUIRE_FALSE(ec);
    }
    auto real = co_await async_raw_exchange(l->port(), get_request("/callback?code=c&state=S"));
    CHECK(real.status == 200);
    REQUIRE(co_await test::async_poll_until([&w] { return w.finished; }));
    CHECK(w.target == "/callback?code=c&state=S");
    CHECK(l->stats().rejected_other == 3);  // the three oldest idle ones were evicted
}

TEST_CASE("listener: idle connections beyond the limit do not lock the browser out",
          "[listener]") {
    asio::io_context ioc;
    diagnostics diag;
    transport::listener_options opts;
    opts.max_connections = 4;
    auto l = loopback_listener::open(ioc.get_executor(), 0, "/callback", diag, opts);
    REQUIRE(l.has_value());
    test::run_test(ioc, hoarded_connections(&*l));
}

asio::awaitable<void> stuck_client_is_dropped(loopback_listener* l) {
    l->set_expected_state("S");
    error_code ec;
    auto silent = co_await test::async_connect_only(l->port(), ec);
    REQUIRE_FALSE(ec);
    char byte;
    auto start = steady::now();
    auto [rec, n] = co_await silent.async_read_some(asio::buffer(&byte, 1),
                                                    asio::as_tuple(asio::use_awaitable));
    CHECK(rec == asio::error::eof);  // closed by the listener at its deadline
    CHECK(steady::now() - start < milliseconds(2000));
    CHECK(co_await test::async_poll_until([l] { return l->stats().timed_out == 1; }));
}

TEST_CASE("listener: the per-connection deadline closes a client that sends nothing",
          "[listener]") {
    asio::io_context ioc;
    diagnostics diag;
    transport::listener_options opts;
    opts.connection_timeout = milliseconds(150);
    auto l = loopback_listener::open(ioc.get_executor(), 0, "/callback", diag, opts);
    REQUIRE(l.has_value());
    test::run_test(ioc, stuck_client_is_dropped(&*l));
}

TEST_CASE("listener: an explicit busy port fails with port_in_use naming the port",
          "[listener]") {
    asio::io_context ioc;
    tcp::acceptor other(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    auto busy = other.local_endpoint().port();
    diagnostics diag;
    auto l = loopback_listener::open(ioc.get_executor(), busy, "/callback", diag);
    REQUIRE_FALSE(l.has_value());
    CHECK(l.error() == client_errc::port_in_use);
    CHECK(diag.client_message == "port " + std::to_string(busy) +
                                     " on 127.0.0.1 is already in use; choose another with "
                                     "--port or omit it");

    // A free explicit port is used as given.
    other.close();
    auto again = loopback_listener::open(ioc.get_executor(), busy, "/cb", diag);
    REQUIRE(again.has_value());
    CHECK(again->port() == busy);
    CHECK(again->redirect_uri() == "http://127.0.0.1:" + std::to_string(busy) + "/cb");
}

asio::awaitable<void> loopback_only(loopback_listener* l) {
    l->set_expected_state("S");
    // 127.0.0.2 is the same machine's loopback interface, but not the bound address.
    auto other_addr = co_await async_raw_exchange(l->port(), get_request("/callback?state=S&code=x"),
                                                  "127.0.0.2");
    CHECK(other_addr.ec == asio::error::connection_refused);
}

TEST_CASE("listener: an ephemeral port, bound to 127.0.0.1 only", "[listener]") {
    asio::io_context ioc;
    auto l = loopback_listener::open(ioc.get_executor());
    REQUIRE(l.has_value());
    CHECK(l->port() != 0);
    CHECK(l->redirect_uri() == "http://127.0.0.1:" + std::to_string(l->port()) + "/callback");
    auto l2 = loopback_listener::open(ioc.get_executor());
    REQUIRE(l2.has_value());
    CHECK(l2->port() != l->port());
    test::run_test(ioc, loopback_only(&*l));
}

asio::awaitable<void> cancelled_wait(loopback_listener* l) {
    auto ex = co_await asio::this_coro::executor;
    wait_outcome w;
    error_code ec;
    auto silent = co_await test::async_connect_only(l->port(), ec);
    asio::cancellation_signal sig;
    asio::co_spawn(ex, test::wait_into(l, "S", in(seconds(10)), &w),
                   asio::bind_cancellation_slot(sig.slot(), asio::detached));
    // Let the accept loop take the silent connection, then cancel as the hybrid login does
    // when the device flow wins.
    asio::steady_timer pause(ex, milliseconds(20));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    sig.emit(asio::cancellation_type::terminal);
    REQUIRE(co_await test::async_poll_until([&w] { return w.finished; }));
    CHECK(w.ec == asio::error::operation_aborted);
    CHECK_FALSE(l->is_open());
    char byte;
    auto [rec, n] = co_await silent.async_read_some(asio::buffer(&byte, 1),
                                                    asio::as_tuple(asio::use_awaitable));
    CHECK(rec == asio::error::eof);  // open connections are closed too
    auto late = co_await async_raw_exchange(l->port(), get_request("/callback?state=S&code=x"));
    CHECK(late.ec == asio::error::connection_refused);
}

TEST_CASE("listener: terminal cancellation closes the acceptor and connections", "[listener]") {
    asio::io_context ioc;
    auto l = loopback_listener::open(ioc.get_executor());
    REQUIRE(l.has_value());
    test::run_test(ioc, cancelled_wait(&*l));
}

}  // namespace
