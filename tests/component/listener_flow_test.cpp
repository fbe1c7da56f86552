// The browser login end to end inside one process: auth_code_flow driven by async_drive
// with the real HTTP client, the real clock and the loopback listener as callback port; a
// scripted "browser" follows the authorization URL's redirect to the listener, and the
// in-test server plays the token endpoint.
#include "listener_client.hpp"
#include "support/fakes.hpp"
#include "support/test_server.hpp"

#include <latchkey/flows/auth_code_flow.hpp>
#include <latchkey/transport/drive.hpp>
#include <latchkey/transport/http_client.hpp>
#include <latchkey/transport/loopback_listener.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>

#include <catch2/catch.hpp>

namespace {
namespace asio = boost::asio;
using namespace latchkey;

std::string query_param(const std::string& url, std::string_view key) {
    auto u = boost::urls::parse_uri_reference(url);
    if (!u) return {};
    for (auto p : u->params())
        if (p.key == key) return p.value;
    return {};
}

// The "browser": what the IdP would do after the user consents, i.e. redirect to our
// redirect_uri with a code and the state (and a forged tab first, to be rejected).
asio::awaitable<void> browser(std::string authorize_url, std::vector<int>* statuses) {
    auto redirect = query_param(authorize_url, "redirect_uri");
    auto state = query_param(authorize_url, "state");
    auto port = static_cast<unsigned short>(boost::urls::parse_uri(redirect)->port_number());
    auto forged = co_await test::async_raw_exchange(port, test::get_request("/callback?code=forged&state=guess"));
    statuses->push_back(forged.status);
    auto real = co_await test::async_raw_exchange(
        port, test::get_request("/callback?code=the-code&state=" + state + "&iss=http%3A%2F%2Fidp"));
    statuses->push_back(real.status);
}

struct scripted_user final : transport::user_port {
    asio::any_io_executor ex;
    std::vector<flows::show_user> shown;
    std::vector<int> statuses;
    void show(const flows::show_user& what) override {
        shown.push_back(what);
        if (what.what == flows::show_user::kind::browser_url)
            asio::co_spawn(ex, browser(what.authorize_url, &statuses), asio::detached);
    }
};

struct drive_outcome {
    result<token_set> r = make_error_code(client_errc::cancelled);
    diagnostics diag;
};

asio::awaitable<void> run_login(flows::auth_code_flow* flow, transport::ports p,
                                drive_outcome* out) {
    out->r = co_await transport::async_drive(*flow, p, out->diag);
}

TEST_CASE("listener: a browser login completes through async_drive with the listener",
          "[listener]") {
    asio::io_context ioc;
    test::test_server idp(ioc);
    idp.push(test::reply::answer(200, R"({"access_token":"at-1","token_type":"Bearer",)"
                                      R"("expires_in":3600,"refresh_token":"rt-1"})"));
    diagnostics diag;
    auto listener = transport::loopback_listener::open(ioc.get_executor(), 0, "/callback", diag);
    REQUIRE(listener.has_value());

    auto secrets = flows::make_auth_code_secrets();
    flows::auth_code_params p;
    p.authorization_endpoint = idp.url("/auth");
    p.token_endpoint = idp.url("/token");
    p.client_id = "latch-cli";
    p.scope = "openid";
    p.issuer = "http://idp";
    p.iss_parameter_supported = true;
    p.redirect_uri = listener->redirect_uri();
    p.timeout = std::chrono::seconds(10);
    listener->set_expected_state(secrets.state);
    auto verifier = secrets.code_verifier.reveal();
    flows::auth_code_flow flow{p, std::move(secrets)};

    transport::http_client http(ioc.get_executor());
    transport::real_clock clock(ioc.get_executor());
    scripted_user user;
    user.ex = ioc.get_executor();
    drive_outcome out;
    test::run_test(ioc, run_login(&flow, transport::ports{http, clock, user, &*listener}, &out));

    REQUIRE(out.r.has_value());
    CHECK(out.r->access_token.reveal() == "at-1");
    CHECK(user.statuses == std::vector<int>{400, 200});  // forged tab refused, real accepted
    REQUIRE(user.shown.size() == 1);
    CHECK(user.shown[0].redirect_uri == listener->redirect_uri());
    REQUIRE(idp.requests().size() == 1);
    const auto& body = idp.requests()[0].body;
    CHECK(body.find("grant_type=authorization_code") != std::string::npos);
    CHECK(body.find("code=the-code") != std::string::npos);
    CHECK(body.find("code_verifier=" + verifier) != std::string::npos);
    CHECK_FALSE(listener->is_open());
}

// A callback port on virtual time: the first `timeouts` waits run to their deadline (the
// clock jumps there), then the scripted URL arrives.
struct scripted_callbacks final : transport::callback_port {
    test::fake_clock* clock = nullptr;
    int timeouts = 0;
    std::string url;
    std::vector<time_point> deadlines;
    asio::awaitable<std::string> async_wait_callback(time_point deadline, error_code& ec) override {
        deadlines.push_back(deadline);
        if (timeouts-- > 0) {
            clock->advance(std::chrono::duration_cast<std::chrono::seconds>(deadline - clock->now()));
            ec = client_errc::timeout;
            co_return std::string();
        }
        ec = {};
        co_return url;
    }
};

TEST_CASE("listener: through async_drive the URL is shown again after 30 s, once",
          "[listener][auth_code]") {
    const time_point t0 = sys_clock::from_time_t(1'790'000'000);
    for (int timeouts : {1, 2}) {  // the callback arrives after the nudge / never
        CAPTURE(timeouts);
        asio::io_context ioc;
        test::fake_clock clock(ioc.get_executor(), t0);
        test::fake_http http(ioc.get_executor());
        http.push_json(200, R"({"access_token":"at-2","token_type":"Bearer","expires_in":60})");
        test::fake_user user;
        auto secrets = flows::make_auth_code_secrets();
        scripted_callbacks callbacks;
        callbacks.clock = &clock;
        callbacks.timeouts = timeouts;
        callbacks.url = "/callback?code=late&state=" + secrets.state;
        flows::auth_code_params p;
        p.authorization_endpoint = "https://idp.example/auth";
        p.token_endpoint = "https://idp.example/token";
        p.client_id = "latch-cli";
        p.redirect_uri = "http://127.0.0.1:40000/callback";
        p.timeout = std::chrono::seconds(300);
        flows::auth_code_flow flow{p, std::move(secrets)};
        drive_outcome out;
        test::run_test(ioc, run_login(&flow, transport::ports{http, clock, user, &callbacks}, &out));

        REQUIRE(user.shown.size() == 2);
        CHECK(user.shown[0].what == flows::show_user::kind::browser_url);
        CHECK(user.shown[1].what == flows::show_user::kind::notice);
        CHECK(user.shown[1].message.find("http://127.0.0.1:40000/callback") != std::string::npos);
        std::vector<time_point> expected{t0 + std::chrono::seconds(30), t0 + std::chrono::seconds(300)};
        CHECK(callbacks.deadlines == expected);
        if (timeouts == 1) {
            REQUIRE(out.r.has_value());
            CHECK(out.r->access_token.reveal() == "at-2");
            REQUIRE(http.requests.size() == 1);
            CHECK(http.requests[0].body.find("code=late") != std::string::npos);
        } else {
            REQUIRE_FALSE(out.r.has_value());
            CHECK(out.r.error() == client_errc::timeout);
            CHECK(http.requests.empty());
        }
    }
}

}  // namespace
