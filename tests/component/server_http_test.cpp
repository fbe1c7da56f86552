// latch-idp's HTTP server (transport/server/http_server.hpp) against latchkey's own HTTP
// client: requests reach the handler as plain values, keep-alive, the body limit, and
// draining (an in-flight request finishes, nothing new is accepted, the loop runs out).
#include "support/transport_helpers.hpp"

#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/server/http_server.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <vector>

namespace asio = boost::asio;
using namespace latchkey;
using namespace latchkey::transport::server;
using namespace std::chrono_literals;

namespace {

// Echoes what it received; /slow answers after 300 ms.
asio::awaitable<http_response> echo(server_request req) {
    if (req.path() == "/slow") {
        asio::steady_timer t(co_await asio::this_coro::executor, 300ms);
        co_await t.async_wait(asio::use_awaitable);
    }
    http_response r;
    r.status = req.path() == "/missing" ? 404 : 200;
    r.content_type = "text/plain";
    r.body = req.method_name + " " + std::string(req.path()) + " q=" + std::string(req.query()) + " peer=" +
             req.peer_ip + " ua=" + req.header("user-agent") + " body=" + req.body;
    co_return r;
}

struct served {
    asio::io_context io;
    http_server server{io.get_executor(), echo, server_options{.max_body = 1024}};
    std::string base;
    served() {
        diagnostics diag;
        auto port = server.listen("127.0.0.1", 0, diag);
        REQUIRE(port.has_value());
        base = "http://127.0.0.1:" + std::to_string(*port);
        server.start();
    }
};

}  // namespace

TEST_CASE("http_server: requests as values, keep-alive, 404 from the handler, 413 over the body limit",
          "[component][server][http]") {
    served s;
    transport::http_client client(s.io.get_executor());
    std::vector<test::outcome> got;
    std::size_t open_after_two = 0;
    // Built outside the coroutine: GCC 12 trips on initializer lists inside one.
    std::vector<http_request> reqs = {make_get(s.base + "/a?x=1"), make_form_post(s.base + "/b", {{"k", "v w"}}),
                                      make_get(s.base + "/missing"),
                                      make_form_post(s.base + "/big", {{"k", std::string(2000, 'x')}})};
    asio::co_spawn(s.io, [&]() -> asio::awaitable<void> {
        for (auto& r : reqs) {
            auto out = co_await test::async_fetch(client, std::move(r));
            got.push_back(std::move(out));
            if (got.size() == 2) open_after_two = s.server.open_connections();
        }
        s.server.drain(1s);
    }, asio::detached);
    s.io.run_for(10s);
    REQUIRE(got.size() == 4);
    CHECK(got[0].response.status == 200);
    CHECK(got[0].response.body == "GET /a q=x=1 peer=127.0.0.1 ua=latchkey/0.1 body=");
    CHECK(got[1].response.body == "POST /b q= peer=127.0.0.1 ua=latchkey/0.1 body=k=v%20w");
    CHECK(open_after_two == 1);  // the second request reused the connection
    CHECK(got[2].response.status == 404);
    CHECK(got[3].response.status == 413);
}

TEST_CASE("http_server: drain finishes the request in flight, refuses new ones, and lets the loop end",
          "[component][server][http]") {
    served s;
    transport::http_client client(s.io.get_executor());
    transport::http_client late_client(s.io.get_executor());
    test::outcome slow, late;
    asio::co_spawn(s.io, [&]() -> asio::awaitable<void> {
        auto req = make_get(s.base + "/slow");
        slow = co_await test::async_fetch(client, std::move(req));
    }, asio::detached);
    asio::co_spawn(s.io, [&]() -> asio::awaitable<void> {
        asio::steady_timer t(s.io, 100ms);  // the slow request is in the handler by now
        co_await t.async_wait(asio::use_awaitable);
        CHECK(s.server.open_connections() == 1);
        s.server.drain(5s);
        auto req = make_get(s.base + "/a");
        late = co_await test::async_fetch(late_client, std::move(req));
    }, asio::detached);
    const auto t0 = std::chrono::steady_clock::now();
    s.io.run_for(10s);
    const auto elapsed = std::chrono::steady_clock::now() - t0;
    CHECK(slow.response.status == 200);
    CHECK(slow.response.body.rfind("GET /slow", 0) == 0);
    CHECK(slow.response.header("Connection") == "close");
    CHECK(late.ec == client_errc::connection_failed);
    CHECK(s.server.open_connections() == 0);
    CHECK(elapsed < 3s);  // ended when the work did, not at the 5 s grace or the 10 s bound
}
