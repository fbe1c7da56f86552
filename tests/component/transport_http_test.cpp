// The real HTTP client against an in-test server on 127.0.0.1: what goes on the wire, what
// comes back, and the errors a user sees (limits, deadlines, refused connections, URLs).
#include <latchkey/transport/http_client.hpp>

#include "support/test_server.hpp"
#include "support/transport_helpers.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <catch2/catch.hpp>

namespace {
namespace asio = boost::asio;
using namespace latchkey;
using latchkey::test::async_fetch;
using latchkey::test::reply;
using std::chrono::milliseconds;

// Declared in this order so the client and server go before the io_context. Test
// coroutines take a fixture& because run_test finishes before the fixture dies.
struct fixture {
    asio::io_context ioc;
    test::test_server server{ioc};
    transport::http_client client;
    explicit fixture(transport::http_options o = {}) : client(ioc.get_executor(), std::move(o)) {}
};

// Requests are built outside coroutines: GCC 12 rejects braced lists of string literals
// in coroutine bodies ("array used as initializer").
http_request token_post(std::string url) {
    return make_form_post(std::move(url), {{"grant_type", "refresh_token"}, {"refresh_token", "r1"}});
}

std::string device_form() {
    return form_encode({{"grant_type", "urn:ietf:params:oauth:grant-type:device_code"},
                        {"device_code", "a b&c"}});
}

asio::awaitable<void> get_json(fixture& f) {
    f.server.push(reply::answer(200, R"({"issuer":"http://127.0.0.1"})"));
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/.well-known/openid-configuration?x=1")));
    REQUIRE_FALSE(out.ec);
    CHECK(out.response.status == 200);
    CHECK(out.response.content_type == "application/json");
    CHECK(out.response.body == R"({"issuer":"http://127.0.0.1"})");
    CHECK(out.response.header("content-length") == "29");

    REQUIRE(f.server.requests().size() == 1);
    const auto& got = f.server.requests()[0];
    CHECK(got.method == "GET");
    CHECK(got.target == "/.well-known/openid-configuration?x=1");
    CHECK(got.header("Accept") == "application/json");
    CHECK(got.header("User-Agent") == "latchkey/0.1");
    CHECK(got.header("Host") == "127.0.0.1:" + std::to_string(f.server.port()));
    CHECK(got.body.empty());
}

TEST_CASE("http client: GET JSON sends Accept, User-Agent and Host", "[transport]") {
    fixture f;
    test::run_test(f.ioc, get_json(f));
}

asio::awaitable<void> post_form(fixture& f) {
    http_request req;  // no headers: the client adds Content-Type and Accept
    req.method = http_method::post;
    req.url = f.server.url("/token");
    req.body = device_form();
    auto out = co_await async_fetch(f.client, req);
    REQUIRE_FALSE(out.ec);
    CHECK(out.response.status == 200);

    REQUIRE(f.server.requests().size() == 1);
    const auto& got = f.server.requests()[0];
    CHECK(got.method == "POST");
    CHECK(got.target == "/token");
    CHECK(got.header("Content-Type") == "application/x-www-form-urlencoded");
    CHECK(got.header("Accept") == "application/json");
    CHECK(got.header("Content-Length") == std::to_string(req.body.size()));
    CHECK(got.body ==
          "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&device_code=a%20b%26c");
}

TEST_CASE("http client: POST form adds the form Content-Type and sends the body", "[transport]") {
    fixture f;
    test::run_test(f.ioc, post_form(f));
}

asio::awaitable<void> error_status(fixture& f) {
    f.server.push(reply::answer(400, R"({"error":"invalid_grant"})"));
    f.server.push(reply::answer(502, "<h1>Bad gateway</h1>", "text/html"));
    auto oauth = co_await async_fetch(f.client, token_post(f.server.url("/token")));
    REQUIRE_FALSE(oauth.ec);  // flows read the OAuth error body
    CHECK(oauth.response.status == 400);
    CHECK(oauth.response.body == R"({"error":"invalid_grant"})");
    auto html = co_await async_fetch(f.client, make_get(f.server.url("/")));
    REQUIRE_FALSE(html.ec);  // the flow reports bad_json, not the transport
    CHECK(html.response.status == 502);
    CHECK(html.response.content_type == "text/html");
    CHECK(html.response.body == "<h1>Bad gateway</h1>");
}

TEST_CASE("http client: 4xx/5xx and non-JSON bodies are responses, not errors", "[transport]") {
    fixture f;
    test::run_test(f.ioc, error_status(f));
}

asio::awaitable<void> interim(fixture& f) {
    auto r = reply::answer(200, R"({"ok":true})");
    r.early_hints = true;
    f.server.push(r);
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/hints")));
    REQUIRE_FALSE(out.ec);
    CHECK(out.response.status == 200);
    CHECK(out.response.body == R"({"ok":true})");
    CHECK(f.client.idle_connections() == 1);
}

TEST_CASE("http client: an interim 103 response is skipped", "[transport]") {
    fixture f;
    test::run_test(f.ioc, interim(f));
}

asio::awaitable<void> too_large(fixture& f) {
    f.server.push(reply::answer(200, std::string(2000, 'x')));
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/big?secret=1")));
    CHECK(out.ec == client_errc::response_too_large);
    CHECK(out.diag.client_message ==
          "response from http://127.0.0.1:" + std::to_string(f.server.port()) +
              "/big is larger than the 1 KiB limit");
    CHECK(f.client.idle_connections() == 0);
}

TEST_CASE("http client: a body over the limit is response_too_large", "[transport]") {
    transport::http_options o;
    o.max_body_size = 1024;
    fixture f(o);
    test::run_test(f.ioc, too_large(f));
}

asio::awaitable<void> never_answers(fixture& f) {
    f.server.push(reply::hang_up());
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/slow")));
    CHECK(out.ec == client_errc::timeout);
    CHECK(out.diag.client_message == "request to " + f.server.url("/slow") +
                                         " timed out after 300 ms");
    CHECK(out.elapsed >= milliseconds(290));
    CHECK(out.elapsed < milliseconds(1500));
    CHECK(f.client.idle_connections() == 0);
    // The client closed its end: the server's session sees it.
    auto server_saw_close = [&f] { return f.server.open_connections() == 0; };
    bool closed = co_await test::async_poll_until(server_saw_close);
    CHECK(closed);
}

TEST_CASE("http client: a server that never answers times out at the deadline", "[transport]") {
    transport::http_options o;
    o.request_timeout = milliseconds(300);
    fixture f(o);
    test::run_test(f.ioc, never_answers(f));
}

asio::awaitable<void> refused(fixture& f, unsigned short port) {
    auto base = "http://127.0.0.1:" + std::to_string(port) + "/token";
    auto out = co_await async_fetch(f.client, token_post(base + "?code=s3cret"));
    CHECK(out.ec == client_errc::connection_failed);
    CHECK(out.diag.client_message == "cannot connect to " + base + ": Connection refused");
    CHECK(out.diag.client_message.find("s3cret") == std::string::npos);
    CHECK(f.client.connections_opened() == 0);
}

TEST_CASE("http client: a refused connection is connection_failed naming the URL",
          "[transport]") {
    fixture f;
    unsigned short port = 0;
    {
        asio::ip::tcp::acceptor a(f.ioc, {asio::ip::make_address("127.0.0.1"), 0});
        port = a.local_endpoint().port();
    }  // closed: nothing listens there now
    test::run_test(f.ioc, refused(f, port));
}

asio::awaitable<void> bad_urls(fixture& f) {
    auto plain = co_await async_fetch(f.client, make_get("http://idp.example.com/token?x=1"));
    CHECK(plain.ec == client_errc::insecure_url);
    CHECK(plain.diag.client_message ==
          "refusing insecure URL http://idp.example.com/token: plain http is only allowed "
          "to loopback hosts; use https://");

    auto junk = co_await async_fetch(f.client, make_get("not a url"));
    CHECK(junk.ec == client_errc::bad_url);
    CHECK(junk.diag.client_message.find("not a url") != std::string::npos);

    auto ftp = co_await async_fetch(f.client, make_get("ftp://idp.example.com/x"));
    CHECK(ftp.ec == client_errc::bad_url);

    auto port = co_await async_fetch(f.client, make_get("https://idp.example.com:99999/x"));
    CHECK(port.ec == client_errc::bad_url);

    // IPv6 loopback is loopback; nothing listens on port 1, whatever the host's IPv6 state.
    auto v6 = co_await async_fetch(f.client, make_get("http://[::1]:1/x?y"));
    CHECK(v6.ec == client_errc::connection_failed);
    CHECK(v6.diag.client_message.find("cannot connect to http://[::1]:1/x: ") == 0);

    http_request evil = make_get(f.server.url("/"));
    evil.headers.emplace_back("X-Evil", "a\r\nInjected: yes");
    auto injected = co_await async_fetch(f.client, evil);
    CHECK(injected.ec == client_errc::bad_input);
    CHECK(f.server.accepts() == 0);  // none of these reached the server
}

TEST_CASE("http client: bad and insecure URLs fail before any I/O", "[transport]") {
    fixture f;
    test::run_test(f.ioc, bad_urls(f));
}

asio::awaitable<void> loopback_only(fixture& f) {
    auto out = co_await async_fetch(f.client, make_get(f.server.url("/")));
    CHECK(out.ec == client_errc::insecure_url);
    CHECK(out.diag.client_message.find("use https://") != std::string::npos);
    CHECK(f.server.accepts() == 0);
}

TEST_CASE("http client: plain http to loopback can be switched off", "[transport]") {
    transport::http_options o;
    o.allow_insecure_loopback = false;
    fixture f(o);
    test::run_test(f.ioc, loopback_only(f));
}

}  // namespace
