// One-request grants: password, client credentials, token exchange.
#include "test_support.hpp"

#include <latchkey/core/base64url.hpp>
#include <latchkey/flows/grant_flow.hpp>
#include <latchkey/flows/token_exchange.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows;
using unit_test::header_of;

namespace {
const time_point t0 = sys_clock::from_time_t(1'790'000'000);
http_reply reply(int status, std::string body) {
    return http_reply{t0, {}, unit_test::json_reply(status, std::move(body))};
}
token_exchange_params params() {
    token_exchange_params p;
    p.token_endpoint = "https://idp.example/token";
    p.subject_token = secret{"subject-at"};
    p.audience = "https://api.example.com";
    p.scopes = {"openid", "email"};
    p.auth.client_id = "latch-cli";
    return p;
}
const char* issued =
    R"({"access_token":"aud-token","token_type":"Bearer","expires_in":300,)"
    R"("issued_token_type":"urn:ietf:params:oauth:token-type:access_token"})";
}  // namespace

TEST_CASE("password grant posts credentials with client_secret_basic", "[unit][grant]") {
    grant_params p;
    p.token_endpoint = "https://idp.example/token";
    p.grant_type = "password";
    p.fields = {{"username", "alice"}, {"password", "p@ss word"}, {"scope", "openid"}};
    p.auth.how = client_auth::method::secret_basic;
    p.auth.client_id = "cli";
    p.auth.client_secret = secret{"s3cr:et"};
    grant_flow f{p};
    auto a = f.next(started{t0});
    auto* s = std::get_if<send_request>(&a);
    REQUIRE(s);
    CHECK(s->request.url == "https://idp.example/token");
    CHECK_FALSE(s->request.idempotent);
    CHECK(s->request.body == "grant_type=password&username=alice&password=p%40ss%20word&scope=openid");
    // base64("cli:s3cr%3Aet")
    CHECK(header_of(s->request, "Authorization") == "Basic Y2xpOnMzY3IlM0FldA==");

    auto d = f.next(reply(200, R"({"access_token":"at","expires_in":60})"));
    REQUIRE(std::holds_alternative<done>(d));
    CHECK(std::get<done>(d).tokens.expires_at == t0 + seconds{60});
    CHECK(std::get<failed>(f.next(timer_fired{t0})).ec == client_errc::flow_finished);
}

TEST_CASE("client credentials with private_key_jwt sends the assertion", "[unit][grant]") {
    grant_params p;
    p.token_endpoint = "https://idp.example/token";
    p.grant_type = "client_credentials";
    p.auth.how = client_auth::method::private_key_jwt;
    p.auth.client_id = "machine-1";
    p.auth.client_assertion = secret{"eyJ.a.b"};
    grant_flow f{p};
    auto a = f.next(started{t0});
    auto* s = std::get_if<send_request>(&a);
    REQUIRE(s);
    CHECK(s->request.body.find("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer") != std::string::npos);
    CHECK(s->request.body.find("client_assertion=eyJ.a.b") != std::string::npos);
    CHECK(s->request.body.find("client_secret") == std::string::npos);
}

TEST_CASE("grant errors and transport failures are not retried", "[unit][grant]") {
    grant_params p;
    p.token_endpoint = "https://idp.example/token";
    p.grant_type = "password";
    p.auth.client_id = "cli";
    {
        grant_flow f{p};
        f.next(started{t0});
        auto a = f.next(reply(400, R"({"error":"invalid_grant","error_description":"wrong password"})"));
        auto& fl = std::get<failed>(a);
        CHECK(fl.ec == oauth_errc::invalid_grant);
        CHECK(fl.diag.server_message == "wrong password");
    }
    {
        grant_flow f{p};
        f.next(started{t0});
        http_reply r{t0, make_error_code(client_errc::timeout), {}};
        auto a = f.next(r);
        auto& fl = std::get<failed>(a);
        CHECK(fl.ec == client_errc::timeout);
        CHECK(fl.diag.client_message.find("not retried") != std::string::npos);
    }
}

// RFC 8693 token exchange: the request's parameters and the checks on the answer.
TEST_CASE("token exchange request: subject, types, audience and scope (RFC 8693 §2.1); a public client sends its id",
          "[unit][token_exchange]") {
    token_exchange_flow f{params()};
    auto a = f.next(started{t0});
    auto* s = std::get_if<send_request>(&a);
    REQUIRE(s);
    CHECK(s->request.method == http_method::post);
    CHECK(s->request.url == "https://idp.example/token");
    CHECK_FALSE(s->request.idempotent);
    CHECK(s->request.body ==
          "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange"
          "&subject_token=subject-at"
          "&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
          "&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token"
          "&audience=https%3A%2F%2Fapi.example.com&scope=openid%20email&client_id=latch-cli");
    CHECK(header_of(s->request, "Authorization").empty());
}

TEST_CASE("token exchange request: no audience or scope given, none sent; a confidential client uses HTTP Basic",
          "[unit][token_exchange]") {
    auto p = params();
    p.audience.clear();
    p.scopes.clear();
    p.auth.how = client_auth::method::secret_basic;
    p.auth.client_secret = secret{"s3cret"};
    auto g = token_exchange_request(p);
    CHECK(g.grant_type == token_exchange_grant);
    for (const auto& [k, v] : g.fields) {
        CHECK(k != "audience");
        CHECK(k != "scope");
    }
    token_exchange_flow f{p};
    auto a = f.next(started{t0});
    auto& req = std::get<send_request>(a).request;
    CHECK(header_of(req, "Authorization") == "Basic " + base64_encode("latch-cli:s3cret"));
    CHECK(req.body.find("client_id=") == std::string::npos);
    CHECK(req.body.find("s3cret") == std::string::npos);
}

TEST_CASE("token exchange answer: the issued access token is done's access token", "[unit][token_exchange]") {
    token_exchange_flow f{params()};
    f.next(started{t0});
    auto a = f.next(reply(200, issued));
    auto* d = std::get_if<done>(&a);
    REQUIRE(d);
    CHECK(d->tokens.access_token.reveal() == "aud-token");
    CHECK(d->tokens.expires_at == t0 + std::chrono::seconds{300});
    CHECK(std::holds_alternative<failed>(f.next(reply(200, issued))));  // finished
}

TEST_CASE("token exchange answer: no issued_token_type or a JWT is accepted; another type or N_A is refused",
          "[unit][token_exchange]") {
    diagnostics d;
    auto resp = [](std::string body) { return reply(200, std::move(body)).response; };
    CHECK_FALSE(check_exchange_response(resp(R"({"access_token":"x","token_type":"Bearer"})"), d));
    CHECK_FALSE(check_exchange_response(
        resp(R"({"access_token":"x","token_type":"Bearer","issued_token_type":"urn:ietf:params:oauth:token-type:jwt"})"), d));
    CHECK(check_exchange_response(
              resp(R"({"access_token":"x","token_type":"Bearer","issued_token_type":"urn:ietf:params:oauth:token-type:refresh_token"})"),
              d) == client_errc::bad_json);
    CHECK(d.client_message.find("refresh_token, not an access token") != std::string::npos);
    d.clear();
    CHECK(check_exchange_response(resp(R"({"access_token":"x","token_type":"N_A"})"), d) == client_errc::bad_json);
    CHECK(d.client_message.find("N_A") != std::string::npos);

    token_exchange_flow f{params()};
    f.next(started{t0});
    auto a = f.next(reply(200, R"({"access_token":"x","token_type":"N_A","issued_token_type":"urn:ietf:params:oauth:token-type:id_token"})"));
    auto* fail = std::get_if<failed>(&a);
    REQUIRE(fail);
    CHECK(fail->ec == client_errc::bad_json);
}

TEST_CASE("token exchange answer: the IdP's error passes through (invalid_grant: log in again)", "[unit][token_exchange]") {
    token_exchange_flow f{params()};
    f.next(started{t0});
    auto a = f.next(reply(400, R"({"error":"invalid_grant","error_description":"subject token expired"})"));
    auto* fail = std::get_if<failed>(&a);
    REQUIRE(fail);
    CHECK(fail->ec == oauth_errc::invalid_grant);
    CHECK(fail->diag.server_message == "subject token expired");
    CHECK(needs_login(fail->ec));
}
