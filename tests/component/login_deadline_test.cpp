// Issue 18 #13 (and #2): login_options::timeout is a hard bound on the whole login, also
// on the ID-token check of tokens already held (a JWKS that never finishes arriving).
// The bound is wall-clock time, so these cases take ~3 s of real time each.
#include "login_support.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>

using namespace login_test;
using transport::login_way;

namespace {

// The rig's IdP, except that one URL never finishes answering (a dripping server): the
// request waits until it is cancelled.
class stalling_http final : public transport::http_port {
public:
    stalling_http(test::fake_http& inner, std::string url) : inner_(inner), url_(std::move(url)) {}
    asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                              diagnostics& diag) override {
        if (req.url != url_) co_return co_await inner_.async_send(std::move(req), ec, diag);
        ++stalled;
        const auto ex = co_await asio::this_coro::executor;
        asio::steady_timer forever(ex, std::chrono::hours{1});
        auto [wait_ec] = co_await forever.async_wait(asio::as_tuple(asio::use_awaitable));
        ec = wait_ec ? error_code(asio::error::operation_aborted) : error_code(client_errc::timeout);
        diag.client_message = "request to " + url_ + " cancelled";
        co_return http_response{};
    }
    int stalled = 0;

private:
    test::fake_http& inner_;
    std::string url_;
};

struct timed_login {
    result<transport::login_result> got = client_errc::cancelled;
    double seconds = 0;
};

timed_login password_login(rig& r, const std::string& stalled_url, diagnostics& diag,
                           int& stalled) {
    stalling_http http{r.http, stalled_url};
    transport::client_services client{http, r.clock};
    transport::login_options o;
    o.way = login_way::password;
    o.username = "alice";
    o.password = secret{"correct horse"};
    o.timeout = std::chrono::seconds{1};
    const auto started = std::chrono::steady_clock::now();
    timed_login out;
    out.got = test::run_to_end(r.io, transport::async_login(client, r.cfg, o, {r.user}, diag));
    out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    stalled = http.stalled;
    return out;
}

}  // namespace

TEST_CASE("login: a JWKS that never finishes arriving cannot hold the login past its timeout",
          "[component][login][hardening]") {
    rig r;
    r.http.fallback = [&r](const http_request& q) {
        if (q.url == issuer + "/token")  // the password grant's answer carries an ID token
            return test::json_reply(200, r.token_body());
        return r.route(q);
    };
    diagnostics diag;
    int stalled = 0;
    auto t = password_login(r, issuer + "/jwks", diag, stalled);
    CHECK(stalled == 1);
    REQUIRE_FALSE(t.got.has_value());
    CHECK(t.got.error() == client_errc::timeout);
    CHECK(diag.client_message ==
          "login timed out after 1 s: the identity provider at https://idp.example did not "
          "finish answering (--timeout SECONDS changes the bound)");
    // 1 s + the 2 s grace the flows' own deadlines get; a bound, not a benchmark.
    CHECK(t.seconds >= 2.5);
    CHECK(t.seconds < 6);
}

TEST_CASE("login: a token endpoint that never finishes answering times out the same way",
          "[component][login][hardening]") {
    rig r;
    diagnostics diag;
    int stalled = 0;
    auto t = password_login(r, issuer + "/token", diag, stalled);
    CHECK(stalled == 1);
    REQUIRE_FALSE(t.got.has_value());
    CHECK(t.got.error() == client_errc::timeout);
    CHECK(t.seconds < 6);
    CHECK(r.count(issuer + "/jwks") == 0);
}
