// Refresh (RFC 6749 §6): one POST, merged reply, never retried.
#include <latchkey/flows/refresh_flow.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows;

namespace {

const time_point t0 = sys_clock::from_time_t(1'790'000'000);

http_reply reply(int status, std::string body, std::string content_type = "application/json") {
    http_reply r{t0 + seconds{1}, {}, {}};
    r.response.status = status;
    r.response.content_type = std::move(content_type);
    r.response.body = std::move(body);
    return r;
}

token_set old_tokens() {
    token_set t;
    t.access_token = secret{"old-access-0123456789"};
    t.refresh_token = secret{"old-refresh-0123456789"};
    t.id_token = secret{"old.id.token"};
    t.scope = "openid profile offline_access";
    t.expires_at = t0 - seconds{5};
    return t;
}

refresh_params params() {
    refresh_params p;
    p.token_endpoint = "http://127.0.0.1:4000/token";
    p.client_id = "latch-cli";
    p.current = old_tokens();
    return p;
}

// Starts the flow and returns the request it sends.
http_request start(refresh_flow& f) {
    auto a = f.next(started{t0});
    auto* s = std::get_if<send_request>(&a);
    REQUIRE(s);
    return s->request;
}

}  // namespace

TEST_CASE("refresh posts grant_type=refresh_token, the token and client_id, no scope",
          "[unit][refresh]") {
    refresh_flow f{params()};
    CHECK_FALSE(f.request_sent());
    auto req = start(f);
    CHECK(f.request_sent());
    CHECK(req.method == http_method::post);
    CHECK(req.url == "http://127.0.0.1:4000/token");
    CHECK_FALSE(req.idempotent);  // never retried by transport
    CHECK(req.body ==
          "grant_type=refresh_token&refresh_token=old-refresh-0123456789&client_id=latch-cli");
    bool form = false;
    for (const auto& [k, v] : req.headers)
        if (k == "Content-Type" && v.find("application/x-www-form-urlencoded") == 0) form = true;
    CHECK(form);
}

TEST_CASE("refresh sends scope only when asked", "[unit][refresh]") {
    auto p = params();
    p.scope = "openid email";
    refresh_flow f{p};
    CHECK(start(f).body ==
          "grant_type=refresh_token&refresh_token=old-refresh-0123456789&scope=openid%20email"
          "&client_id=latch-cli");
}

TEST_CASE("refresh stores a rotated refresh token", "[unit][refresh]") {
    refresh_flow f{params()};
    start(f);
    auto a = f.next(reply(200, R"({"access_token":"new-access","refresh_token":"new-refresh",)"
                               R"("id_token":"new.id.token","token_type":"Bearer",)"
                               R"("expires_in":3600,"scope":"openid"})"));
    auto* d = std::get_if<done>(&a);
    REQUIRE(d);
    CHECK(d->tokens.access_token.reveal() == "new-access");
    REQUIRE(d->tokens.refresh_token);
    CHECK(d->tokens.refresh_token->reveal() == "new-refresh");
    CHECK(d->tokens.id_token->reveal() == "new.id.token");
    CHECK(d->tokens.scope == "openid");
    CHECK(d->tokens.expires_at == t0 + seconds{1} + seconds{3600});
    // A flow is one-shot.
    CHECK(std::get<failed>(f.next(reply(200, "{}"))).ec == client_errc::flow_finished);
}

TEST_CASE("refresh without rotation keeps the old refresh token, id token and scope",
          "[unit][refresh]") {
    refresh_flow f{params()};
    start(f);
    auto a = f.next(reply(200, R"({"access_token":"new-access","expires_in":600})"));
    auto* d = std::get_if<done>(&a);
    REQUIRE(d);
    CHECK(d->tokens.access_token.reveal() == "new-access");
    REQUIRE(d->tokens.refresh_token);
    CHECK(d->tokens.refresh_token->reveal() == "old-refresh-0123456789");
    REQUIRE(d->tokens.id_token);
    CHECK(d->tokens.id_token->reveal() == "old.id.token");
    CHECK(d->tokens.scope == "openid profile offline_access");
}

TEST_CASE("refresh invalid_grant ends the session", "[unit][refresh]") {
    refresh_flow f{params()};
    start(f);
    auto a = f.next(reply(400, R"({"error":"invalid_grant","error_description":"grant request is invalid"})"));
    auto* e = std::get_if<failed>(&a);
    REQUIRE(e);
    CHECK(e->ec == oauth_errc::invalid_grant);
    CHECK(needs_login(e->ec));
    CHECK(e->diag.server_message == "grant request is invalid");
    CHECK(e->diag.client_message.find("session is over") != std::string::npos);
}

TEST_CASE("refresh refused with 400 or 401 and no OAuth error body ends the session",
          "[unit][refresh]") {
    // Some IdPs answer a dead refresh token so (issue 18 #10); RFC 6749 §5.2 wants
    // invalid_grant, and that is what it means.
    const int status = GENERATE(400, 401);
    const std::string body = GENERATE(std::string(), std::string("<html>Bad Request</html>"));
    refresh_flow f{params()};
    start(f);
    auto a = f.next(reply(status, body, body.empty() ? "" : "text/html"));
    auto* e = std::get_if<failed>(&a);
    REQUIRE(e);
    CHECK(e->ec == oauth_errc::invalid_grant);
    CHECK(needs_login(e->ec));
    CHECK(e->diag.client_message.find("HTTP " + std::to_string(status)) != std::string::npos);
    CHECK(e->diag.client_message.find("session is over") != std::string::npos);
}

TEST_CASE("refresh with a confidential client authenticates with HTTP Basic", "[unit][refresh]") {
    auto p = params();
    p.auth.how = client_auth::method::secret_basic;
    p.auth.client_secret = secret{"s3cret"};
    refresh_flow f{std::move(p)};
    auto req = start(f);
    bool basic = false;
    for (const auto& [k, v] : req.headers) basic = basic || (k == "Authorization" && v.rfind("Basic ", 0) == 0);
    CHECK(basic);
    CHECK(req.body.find("s3cret") == std::string::npos);
}

TEST_CASE("refresh answered by an HTML 500 fails without retrying", "[unit][refresh]") {
    refresh_flow f{params()};
    start(f);
    auto a = f.next(reply(500, "<html><body>Internal Server Error</body></html>", "text/html"));
    auto* e = std::get_if<failed>(&a);
    REQUIRE(e);
    CHECK(e->ec == client_errc::bad_http_status);
    CHECK(e->diag.client_message.find("500") != std::string::npos);
    CHECK_FALSE(needs_login(e->ec));
}

TEST_CASE("refresh network error is reported and never retried", "[unit][refresh]") {
    refresh_flow f{params()};
    start(f);
    http_reply r{t0, make_error_code(client_errc::connection_failed), {}};
    auto a = f.next(r);
    auto* e = std::get_if<failed>(&a);
    REQUIRE(e);
    CHECK(e->ec == client_errc::connection_failed);
    CHECK(e->diag.client_message.find("not retried") != std::string::npos);
    CHECK(e->diag.client_message.find("http://127.0.0.1:4000/token") != std::string::npos);
    // Whatever comes next, no second POST.
    CHECK_FALSE(std::holds_alternative<send_request>(f.next(timer_fired{t0 + seconds{10}})));
}

TEST_CASE("refresh without a refresh token fails before sending", "[unit][refresh]") {
    auto p = params();
    p.current.refresh_token.reset();
    refresh_flow f{p};
    auto a = f.next(started{t0});
    REQUIRE(std::holds_alternative<failed>(a));
    CHECK(std::get<failed>(a).ec == client_errc::bad_input);
    CHECK_FALSE(f.request_sent());
}

TEST_CASE("refresh reply without access_token is an error", "[unit][refresh]") {
    refresh_flow f{params()};
    start(f);
    auto a = f.next(reply(200, R"({"token_type":"Bearer"})"));
    REQUIRE(std::holds_alternative<failed>(a));
    CHECK(std::get<failed>(a).ec == client_errc::missing_field);
}

TEST_CASE("merge_refreshed prefers what the reply carries", "[unit][refresh]") {
    token_set fresh;
    fresh.access_token = secret{"a2"};
    fresh.refresh_token = secret{"r2"};
    auto m = merge_refreshed(old_tokens(), fresh);
    CHECK(m.refresh_token->reveal() == "r2");
    CHECK(m.id_token->reveal() == "old.id.token");
    CHECK(m.scope == "openid profile offline_access");
}
