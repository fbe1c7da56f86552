// The loopback listener on a real io_context, driven by in-test TCP clients: what a
// browser, a forger and a pasted link would send.
#include "listener_client.hpp"
#include "support/test_server.hpp"
#include "support/transport_helpers.hpp"

#include <latchkey/transport/loopback_listener.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

namespace {
namespace asio = boost::asio;
using namespace latchkey;
using transport::loopback_listener;
using test::async_raw_exchange;
using test::get_request;
using test::wait_outcome;
using std::chrono::milliseconds;
using std::chrono::seconds;

time_point in(seconds s) { return sys_clock::now() + s; }

loopback_listener open_listener(asio::io_context& ioc) {
    auto l = loopback_listener::open(ioc.get_executor());
    REQUIRE(l.has_value());
    return std::move(*l);
}

asio::awaitable<void> forged_then_real(loopback_listener* l) {
    wait_outcome w;
    asio::co_spawn(co_await asio::this_coro::executor, test::wait_into(l, "S-right", in(seconds(10)), &w),
                   asio::detached);
    auto forged = co_await async_raw_exchange(l->port(), get_request("/callback?code=evil&state=S-wrong"));
    CHECK(forged.status == 400);
    CHECK(forged.contains("This sign-in link is not valid for this login"));
    CHECK_FALSE(w.finished);  // neither ended nor hijacked the login
    CHECK(l->is_open());

    auto real = co_await async_raw_exchange(l->port(), get_request("/callback?code=good&state=S-right&iss=http%3A%2F%2Fidp"));
    CHECK(real.status == 200);
    CHECK(real.contains("Signed in"));
    CHECK(real.contains("no-store"));
    REQUIRE(co_await test::async_poll_until([&w] { return w.finished; }));
    CHECK_FALSE(w.ec);
    CHECK(w.target == "/callback?code=good&state=S-right&iss=http%3A%2F%2Fidp");
    CHECK(l->stats().rejected_state == 1);
    CHECK(l->stats().accepted == 1);
    // Exactly one valid callback: the acceptor is closed afterwards.
    CHECK_FALSE(l->is_open());
    auto late = co_await async_raw_exchange(l->port(), get_request("/callback?code=good&state=S-right"));
    CHECK(late.ec == asio::error::connection_refused);
}

TEST_CASE("listener: a forged callback gets 400 and the real one is then accepted",
          "[listener]") {
    asio::io_context ioc;
    auto l = open_listener(ioc);
    test::run_test(ioc, forged_then_real(&l));
}

asio::awaitable<void> rejects_without_ending(loopback_listener* l) {
    wait_outcome w;
    asio::co_spawn(co_await asio::this_coro::executor, test::wait_into(l, "S1", in(seconds(10)), &w),
                   asio::detached);
    auto no_state = co_await async_raw_exchange(l->port(), get_request("/callback?code=abc"));
    CHECK(no_state.status == 400);
    CHECK(no_state.contains("This sign-in link is not valid for this login"));
    // An IdP error needs our state too, else anyone could end the login.
    auto forged_error = co_await async_raw_exchange(l->port(), get_request("/callback?error=access_denied"));
    CHECK(forged_error.status == 400);
    auto other_path = co_await async_raw_exchange(l->port(), get_request("/favicon.ico"));
    CHECK(other_path.status == 404);
    auto post = co_await async_raw_exchange(
        l->port(), "POST /callback?code=abc&state=S1 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    CHECK(post.status == 405);
    CHECK(post.contains("Allow: GET"));
    auto garbage = co_await async_raw_exchange(l->port(), "HELLO\r\n\r\n");
    CHECK(garbage.status == 400);
    auto with_body = co_await async_raw_exchange(
        l->port(), "GET /callback?code=a&state=S1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
    CHECK(with_body.status == 413);
    CHECK_FALSE(w.finished);
    CHECK(l->stats().rejected_state == 2);

    auto real = co_await async_raw_exchange(l->port(), get_request("/callback?state=S1&code=abc"));
    CHECK(real.status == 200);
    REQUIRE(co_await test::async_poll_until([&w] { return w.finished; }));
    CHECK(w.target == "/callback?state=S1&code=abc");
}

TEST_CASE("listener: missing state, other paths, methods and bodies are refused; it keeps waiting",
          "[listener]") {
    asio::io_context ioc;
    auto l = open_listener(ioc);
    test::run_test(ioc, rejects_without_ending(&l));
}

asio::awaitable<void> idp_error_completes(loopback_listener* l) {
    wait_outcome w;
    asio::co_spawn(co_await asio::this_coro::executor, test::wait_into(l, "S2", in(seconds(10)), &w),
                   asio::detached);
    auto r = co_await async_raw_exchange(
        l->port(), get_request("/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E+no&state=S2"));
    CHECK(r.status == 200);
    CHECK(r.contains("Sign-in was not completed"));
    CHECK(r.contains("access_denied"));
    CHECK(r.contains("&lt;script&gt;alert(1)&lt;/script&gt; no"));  // escaped, '+' is a space
    CHECK_FALSE(r.contains("<script>"));
    REQUIRE(co_await test::async_poll_until([&w] { return w.finished; }));
    CHECK_FALSE(w.ec);  // the listener delivers it; the flow turns it into access_denied
    CHECK(w.target.starts_with("/callback?error=access_denied"));
}

TEST_CASE("listener: error=access_denied with the right state completes with an error page",
          "[listener]") {
    asio::io_context ioc;
    auto l = open_listener(ioc);
    test::run_test(ioc, idp_error_completes(&l));
}

asio::awaitable<void> timeout_then_continue(loopback_listener* l) {
    error_code ec;
    auto t = co_await l->async_wait("S3", sys_clock::now() + milliseconds(30), ec);
    CHECK(ec == client_errc::timeout);
    CHECK(t.empty());
    CHECK(l->is_open());  // the flow nudges the user and waits again
    // The callback arrives while nobody waits: it is kept for the next wait.
    auto r = co_await async_raw_exchange(l->port(), get_request("/callback?code=c&state=S3"));
    CHECK(r.status == 200);
    t = co_await l->async_wait("S3", in(seconds(5)), ec);
    CHECK_FALSE(ec);
    CHECK(t == "/callback?code=c&state=S3");
    t = co_await l->async_wait("S3", in(seconds(5)), ec);
    CHECK(ec == client_errc::flow_finished);
}

TEST_CASE("listener: a timed-out wait leaves it open and a later wait gets the callback",
          "[listener]") {
    asio::io_context ioc;
    auto l = open_listener(ioc);
    test::run_test(ioc, timeout_then_continue(&l));
}

asio::awaitable<void> drive_through_port(loopback_listener* l) {
    transport::callback_port& port = *l;
    error_code ec;
    // No expected state yet: refusing beats accepting anything.
    co_await port.async_wait_callback(in(seconds(1)), ec);
    CHECK(ec == client_errc::bad_input);
    l->set_expected_state("S4");
    auto r = co_await async_raw_exchange(l->port(), get_request("/callback?state=S4&code=z"));
    CHECK(r.status == 200);
    auto t = co_await port.async_wait_callback(in(seconds(5)), ec);
    CHECK_FALSE(ec);
    CHECK(t == "/callback?state=S4&code=z");
}

TEST_CASE("listener: works as the callback_port of async_drive", "[listener]") {
    asio::io_context ioc;
    auto l = open_listener(ioc);
    CHECK(l.redirect_uri() == "http://127.0.0.1:" + std::to_string(l.port()) + "/callback");
    test::run_test(ioc, drive_through_port(&l));
}

}  // namespace
