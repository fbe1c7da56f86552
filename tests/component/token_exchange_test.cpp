// RFC 8693 token exchange through the driver (transport::async_exchange_token) against a
// scripted IdP: what the token endpoint received, and what came back.
#include "support/fakes.hpp"
#include "support/test_server.hpp"

#include <latchkey/transport/token_exchange.hpp>

#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
namespace asio = boost::asio;

namespace {

const time_point t0 = sys_clock::from_time_t(1'790'000'000);
const std::string token_url = "https://idp.example/token";

struct exchange_result {
    error_code ec;
    token_set tokens;
    diagnostics diag;
};

asio::awaitable<void> async_exchange_into(transport::client_services* client,
                                          flows::token_exchange_params p, exchange_result* out) {
    auto r = co_await transport::async_exchange_token(*client, std::move(p), out->diag);
    if (r) out->tokens = std::move(*r);
    else out->ec = r.error();
}

struct rig {
    asio::io_context io;
    test::fake_http http{io.get_executor()};
    test::fake_clock clock{io.get_executor(), t0};
    transport::client_services client{http, clock};

    exchange_result exchange(flows::token_exchange_params p) {
        exchange_result out;
        test::run_test(io, async_exchange_into(&client, std::move(p), &out));
        return out;
    }
};

flows::token_exchange_params params() {
    flows::token_exchange_params p;
    p.token_endpoint = token_url;
    p.subject_token = secret{"subject-at"};
    p.audience = "https://api.example.com";
    p.auth.client_id = "latch-cli";
    p.auth.how = flows::client_auth::method::secret_basic;
    p.auth.client_secret = secret{"s3cret"};
    return p;
}

}  // namespace

TEST_CASE("token exchange: one POST with the subject token and Basic auth; the issued token comes back",
          "[component][token_exchange]") {
    rig r;
    r.http.push_json(200, R"({"access_token":"aud-token","token_type":"Bearer","expires_in":600,)"
                          R"("issued_token_type":"urn:ietf:params:oauth:token-type:access_token"})");
    auto out = r.exchange(params());
    REQUIRE_FALSE(out.ec);
    CHECK(out.tokens.access_token.reveal() == "aud-token");
    CHECK(out.tokens.expires_at == t0 + std::chrono::seconds{600});
    REQUIRE(r.http.requests.size() == 1);
    const auto& req = r.http.requests[0];
    CHECK(req.url == token_url);
    CHECK(test::header_of(req, "Authorization") == "Basic bGF0Y2gtY2xpOnMzY3JldA==");  // latch-cli:s3cret
    CHECK(req.body.find("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange") == 0);
    CHECK(req.body.find("&subject_token=subject-at&") != std::string::npos);
    CHECK(req.body.find("&audience=https%3A%2F%2Fapi.example.com") != std::string::npos);
}

TEST_CASE("token exchange: invalid_grant (subject no longer accepted), a transport error (not retried), a refresh token issued",
          "[component][token_exchange]") {
    rig r;
    SECTION("invalid_grant") {
        r.http.push_json(400, R"({"error":"invalid_grant","error_description":"subject expired"})");
        auto out = r.exchange(params());
        CHECK(out.ec == oauth_errc::invalid_grant);
        CHECK(out.diag.server_message == "subject expired");
    }
    SECTION("the connection drops") {
        r.http.push(test::transport_error(client_errc::connection_failed));
        auto out = r.exchange(params());
        CHECK(out.ec == client_errc::connection_failed);
        CHECK(out.diag.client_message.find("not retried") != std::string::npos);
    }
    SECTION("a refresh token instead of an access token") {
        r.http.push_json(200, R"({"access_token":"rt","token_type":"N_A",)"
                              R"("issued_token_type":"urn:ietf:params:oauth:token-type:refresh_token"})");
        auto out = r.exchange(params());
        CHECK(out.ec == client_errc::bad_json);
        CHECK(out.tokens.access_token.empty());
    }
    CHECK(r.http.requests.size() == 1);
}
