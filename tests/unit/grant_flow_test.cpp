// One-request grants: password, client credentials, token exchange.
#include <latchkey/flows/grant_flow.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows;

namespace {
const time_point t0 = sys_clock::from_time_t(1'790'000'000);
http_reply reply(int status, std::string body) {
    http_reply r{t0, {}, {}};
    r.response.status = status;
    r.response.content_type = "application/json";
    r.response.body = std::move(body);
    return r;
}
std::string header(const http_request& r, std::string_view name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}
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
    CHECK(header(s->request, "Authorization") == "Basic Y2xpOnMzY3IlM0FldA==");

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
