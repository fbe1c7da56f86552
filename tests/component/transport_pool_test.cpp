// Keep-alive reuse, what is never reused, the no-blind-retry rule for token POSTs, and
// cancellation of a request in flight.
#include <latchkey/transport/http_client.hpp>

#include "support/test_server.hpp"
#include "support/transport_helpers.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <thread>

namespace {
namespace asio = boost::asio;
using namespace latchkey;
using namespace asio::experimental::awaitable_operators;
using latchkey::test::async_fetch;
using latchkey::test::reply;
using std::chrono::milliseconds;

// Test coroutines take a fixture& because run_test finishes before the fixture dies.
struct fixture {
    asio::io_context ioc;
    test::test_server server{ioc};
    transport::http_client client;
    explicit fixture(transport::http_options o = {}) : client(ioc.get_executor(), std::move(o)) {}
};

// Built outside coroutines (GCC 12 and braced string-literal lists, see STYLE.md).
http_request token_post(std::string url) {
    auto r = make_form_post(std::move(url), {{"grant_type", "refresh_token"}, {"refresh_token", "r1"}});
    r.idempotent = false;
    return r;
}

asio::awaitable<void> keep_alive(fixture& f) {
    auto first = co_await async_fetch(f.client, make_get(f.server.url("/a")));
    auto second = co_await async_fetch(f.client, make_get(f.server.url("/b")));
    REQUIRE_FALSE(first.ec);
    REQUIRE_FALSE(second.ec);
    CHECK(f.server.accepts() == 1);
    CHECK(f.client.connections_opened() == 1);
    CHECK(f.client.idle_connections() == 1);
    REQUIRE(f.server.requests().size() == 2);
    CHECK(f.server.requests()[1].connection == 1);
}

TEST_CASE("http pool: sequential requests to one origin share a connection", "[transport]") {
    fixture f;
    test::run_test(f.ioc, keep_alive(f));
}

asio::awaitable<void> connection_close(fixture& f) {
    auto r = reply::answer(200, "{}");
    r.close = true;
    f.server.push(r);
    auto first = co_await async_fetch(f.client, make_get(f.server.url("/a")));
    REQUIRE_FALSE(first.ec);
    CHECK(f.client.idle_connections() == 0);
    auto second = co_await async_fetch(f.client, make_get(f.server.url("/b")));
    REQUIRE_FALSE(second.ec);
    CHECK(f.server.accepts() == 2);
    CHECK(f.client.connections_opened() == 2);
}

TEST_CASE("http pool: a response with Connection: close is not pooled", "[transport]") {
    fixture f;
    test::run_test(f.ioc, connection_close(f));
}

asio::awaitable<void> pool_bound(fixture& f) {
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/a")));
    REQUIRE_FALSE(out.ec);
    CHECK(f.client.idle_connections() == 0);
}

TEST_CASE("http pool: max_idle_per_origin = 0 keeps nothing", "[transport]") {
    transport::http_options o;
    o.max_idle_per_origin = 0;
    fixture f(o);
    test::run_test(f.ioc, pool_bound(f));
}

// The server reads the POST on the kept-alive connection and closes without answering:
// the IdP may have processed it, so sending it again could replay a grant.
asio::awaitable<void> post_not_retried(fixture& f) {
    f.server.push(reply{});
    f.server.push(reply::drop_it());
    auto warm = co_await async_fetch(f.client, make_get(f.server.url("/.well-known/x")));
    REQUIRE_FALSE(warm.ec);
    auto out = co_await async_fetch(f.client, token_post(f.server.url("/token")));
    CHECK(out.ec == client_errc::connection_failed);
    CHECK(out.diag.client_message.find("not retried") != std::string::npos);
    CHECK(out.diag.client_message.find(f.server.url("/token")) != std::string::npos);
    CHECK(f.server.requests().size() == 2);  // the POST went out exactly once
    CHECK(f.server.accepts() == 1);
    CHECK(f.client.connections_opened() == 1);
    CHECK(f.client.idle_connections() == 0);
}

TEST_CASE("http pool: a token POST on a connection that dies is never retried",
          "[transport]") {
    fixture f;
    test::run_test(f.ioc, post_not_retried(f));
}

asio::awaitable<void> get_retried(fixture& f) {
    f.server.push(reply{});
    f.server.push(reply::drop_it());
    f.server.push(reply::answer(200, R"({"again":true})"));
    auto warm = co_await async_fetch(f.client, make_get(f.server.url("/.well-known/x")));
    REQUIRE_FALSE(warm.ec);
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/jwks")));
    REQUIRE_FALSE(out.ec);
    CHECK(out.response.body == R"({"again":true})");
    CHECK(f.server.accepts() == 2);
    CHECK(f.client.connections_opened() == 2);
    REQUIRE(f.server.requests().size() == 3);
    CHECK(f.server.requests()[2].connection == 2);
    CHECK(f.client.idle_connections() == 1);
}

TEST_CASE("http pool: an idempotent GET is retried once on a fresh connection",
          "[transport]") {
    fixture f;
    test::run_test(f.ioc, get_retried(f));
}

// The server closes the kept-alive connection while it is idle (keep-alive timeout). The
// client sees the FIN before sending and opens a new connection: nothing is replayed, so
// even a token POST goes through, exactly once.
asio::awaitable<void> idle_close_detected(fixture& f) {
    auto warm = co_await async_fetch(f.client, make_get(f.server.url("/.well-known/x")));
    REQUIRE_FALSE(warm.ec);
    auto server_idle = [&f] { return f.server.idle_connections() == 1; };
    bool idle = co_await test::async_poll_until(server_idle);
    REQUIRE(idle);
    f.server.close_idle();
    auto out = co_await async_fetch(f.client, token_post(f.server.url("/token")));
    REQUIRE_FALSE(out.ec);
    CHECK(out.response.status == 200);
    REQUIRE(f.server.requests().size() == 2);
    CHECK(f.server.requests()[1].method == "POST");
    CHECK(f.server.requests()[1].connection == 2);
    CHECK(f.client.connections_opened() == 2);
}

TEST_CASE("http pool: a connection the server closed while idle is not used", "[transport]") {
    fixture f;
    test::run_test(f.ioc, idle_close_detected(f));
}

asio::awaitable<void> race_with_timer(fixture& f) {
    f.server.push(reply::hang_up());
    error_code ec;
    diagnostics diag;
    asio::steady_timer timer(f.ioc, milliseconds(50));
    auto start = std::chrono::steady_clock::now();
    auto winner = co_await (f.client.async_send(make_get(f.server.url("/slow")), ec, diag) ||
                            timer.async_wait(asio::use_awaitable));
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(winner.index() == 1);
    CHECK(ec == asio::error::operation_aborted);
    CHECK(diag.client_message == "request to " + f.server.url("/slow") + " cancelled");
    CHECK(elapsed < milliseconds(1000));
    CHECK(f.client.idle_connections() == 0);
    auto server_saw_close = [&f] { return f.server.open_connections() == 0; };
    bool closed = co_await test::async_poll_until(server_saw_close);
    CHECK(closed);

    auto next = co_await async_fetch(f.client, make_get(f.server.url("/again")));
    REQUIRE_FALSE(next.ec);
    CHECK(f.client.connections_opened() == 2);  // the cancelled one was not reused
}

TEST_CASE("http cancel: a request raced with a timer stops promptly, connection closed",
          "[transport]") {
    fixture f;
    test::run_test(f.ioc, race_with_timer(f));
}

// The shape drive.cpp and `latch` use: the session is co_spawned with a bound slot.
asio::awaitable<void> send_and_store(transport::http_client* client, http_request req,
                                     error_code* ec) {
    diagnostics diag;
    co_await client->async_send(std::move(req), *ec, diag);
}

TEST_CASE("http cancel: terminal cancellation through a bound slot", "[transport]") {
    fixture f;
    f.server.push(reply::hang_up());
    asio::cancellation_signal sig;
    error_code ec;
    bool finished = false;
    std::exception_ptr failure;
    auto on_done = [&finished, &failure](std::exception_ptr e) {
        finished = true;
        failure = e;
    };
    asio::co_spawn(f.ioc, send_and_store(&f.client, make_get(f.server.url("/slow")), &ec),
                   asio::bind_cancellation_slot(sig.slot(), on_done));
    asio::steady_timer timer(f.ioc, milliseconds(50));
    auto fire = [&sig](error_code) { sig.emit(asio::cancellation_type::terminal); };
    timer.async_wait(fire);
    auto start = std::chrono::steady_clock::now();
    while (!finished && f.ioc.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    REQUIRE(finished);
    CHECK_FALSE(failure);  // no exception escaped
    CHECK(ec == asio::error::operation_aborted);
    CHECK(std::chrono::steady_clock::now() - start < milliseconds(1000));
    CHECK(f.client.idle_connections() == 0);
}

// A caller that keeps running after a cancellation (as `latch` does to save its cache).
asio::awaitable<void> send_despite_cancel(transport::http_client* client, http_request req,
                                          error_code* ec) {
    co_await asio::this_coro::throw_if_cancelled(false);
    diagnostics diag;
    co_await client->async_send(std::move(req), *ec, diag);
}

TEST_CASE("http cancel: a request whose caller is already cancelled never connects",
          "[transport]") {
    fixture f;
    asio::cancellation_signal sig;
    error_code ec;
    bool finished = false;
    auto on_done = [&finished](std::exception_ptr) { finished = true; };
    asio::co_spawn(f.ioc, send_despite_cancel(&f.client, make_get(f.server.url("/x")), &ec),
                   asio::bind_cancellation_slot(sig.slot(), on_done));
    sig.emit(asio::cancellation_type::terminal);  // before the coroutine first runs
    while (!finished && f.ioc.run_one_for(std::chrono::seconds(5)) > 0) {
    }
    REQUIRE(finished);
    CHECK(ec == asio::error::operation_aborted);
    CHECK(f.client.connections_opened() == 0);
}

}  // namespace

// One timer keeps the deadlines of every exchange (deadline_watch): a connection that
// answered once and then goes silent must still time out at its own request's deadline,
// and the next request must not inherit anything from it.
asio::awaitable<void> silent_after_one(fixture& f) {
    auto first = co_await async_fetch(f.client, make_get(f.server.url("/a")));
    REQUIRE_FALSE(first.ec);
    REQUIRE(f.client.idle_connections() == 1);
    // Later than the first request's deadline would have been, on the pooled connection.
    asio::steady_timer pause(f.ioc, milliseconds(200));
    co_await pause.async_wait(asio::use_awaitable);
    f.server.push(reply::hang_up());
    auto second = co_await async_fetch(f.client, make_get(f.server.url("/slow")));
    CHECK(second.ec == client_errc::timeout);
    CHECK(second.diag.client_message == "request to " + f.server.url("/slow") +
                                            " timed out after 300 ms");
    CHECK(second.elapsed >= milliseconds(290));
    CHECK(f.server.requests().size() == 2);
    CHECK(f.server.requests()[1].connection == 1);  // it went out on the kept-alive one
    auto third = co_await async_fetch(f.client, make_get(f.server.url("/c")));
    CHECK_FALSE(third.ec);
    CHECK(third.response.status == 200);
    CHECK(f.client.connections_opened() == 2);
}

TEST_CASE("http pool: a kept-alive connection that goes silent times out at its request's deadline",
          "[transport]") {
    transport::http_options o;
    o.request_timeout = milliseconds(300);
    fixture f(o);
    test::run_test(f.ioc, silent_after_one(f));
}

asio::awaitable<void> one_request(transport::http_client& client, std::string url,
                                  test::outcome& out) {
    out = co_await async_fetch(client, make_get(std::move(url)));
}

TEST_CASE("http client: io_context::run returns once the last request is done (no deadline "
          "timer left behind)",
          "[transport]") {
    // The server on its own io_context and thread, so the client's io_context has nothing
    // but the client's work: run() must return when the request is done, not when its
    // (one hour) deadline would pass.
    asio::io_context server_ioc;
    auto guard = asio::make_work_guard(server_ioc);
    test::test_server server(server_ioc);
    const std::string url = server.url("/a");
    std::thread server_thread([&server_ioc] { server_ioc.run(); });
    {
        asio::io_context ioc;
        transport::http_options o;
        o.request_timeout = std::chrono::hours(1);
        transport::http_client client(ioc.get_executor(), o);
        test::outcome out;
        asio::co_spawn(ioc, one_request(client, url, out), asio::detached);
        ioc.run_for(std::chrono::seconds(20));
        CHECK(ioc.stopped());  // ran out of work, rather than out of time
        CHECK_FALSE(out.ec);
        CHECK(out.response.status == 200);
        CHECK(client.idle_connections() == 1);
    }
    guard.reset();
    server_ioc.stop();
    server_thread.join();
}
