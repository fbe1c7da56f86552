// transport::web_login / web_sessions: a web server signing its own users in, against a
// scripted IdP (fake_http) on virtual time (fake_clock). What the IdP receives and what
// the server would answer: forged or foreign callbacks are refused before anything is
// sent, pending logins are bounded and expire, a good callback exchanges the code with
// that login's verifier and yields the user from the verified ID token.
#include "support/fakes.hpp"
#include "support/lifecycle_run.hpp"
#include "unit/jose_test_support.hpp"

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/pkce.hpp>
#include <latchkey/transport/web_login.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>

using namespace jose_test;
namespace asio = boost::asio;
using latchkey::test::run_to_end;

namespace {

const std::string issuer = "https://idp.example";

std::string discovery_json(json::array auth_methods = {}) {
    json::object d{{"issuer", issuer},
                   {"authorization_endpoint", issuer + "/auth"},
                   {"token_endpoint", issuer + "/token"},
                   {"jwks_uri", issuer + "/jwks"},
                   {"revocation_endpoint", issuer + "/token/revocation"},
                   {"authorization_response_iss_parameter_supported", true}};
    if (!auth_methods.empty()) d["token_endpoint_auth_methods_supported"] = std::move(auth_methods);
    return json::serialize(d);
}

// A query parameter of an absolute URL, a request target or a form body.
std::string param(const std::string& text, const std::string& name) {
    auto q = text.find('?');
    std::string rel = "?" + (q == std::string::npos ? text : text.substr(q + 1));
    auto u = boost::urls::parse_relative_ref(rel);
    REQUIRE(u);
    for (auto p : u->params(boost::urls::encoding_opts(true)))
        if (p.key == name) return p.value;
    return {};
}

// "latch_login=ID; Path=/callback; ..." -> "latch_login=ID" (what the browser sends back).
std::string cookie_of(const std::string& set_cookie) {
    return set_cookie.substr(0, set_cookie.find(';'));
}

struct rig {
    asio::io_context io;
    latchkey::test::fake_http http{io.get_executor()};
    latchkey::test::fake_clock clock{io.get_executor(), at(t0 + 300)};
    EVP_PKEY* key = shared_key(key_type::ec_p256);
    std::optional<transport::web_login> login;

    explicit rig(std::size_t max_pending = 16, std::string discovery = discovery_json()) {
        transport::web_login_options o;
        o.issuer = issuer;
        o.client_id = "latch-cli";
        o.auth.how = flows::client_auth::method::secret_basic;
        o.auth.client_secret = secret{"s3cret"};
        o.redirect_uri = "https://app.example/callback";
        o.max_pending = max_pending;
        login.emplace(http, clock, std::move(o));
        http.push_json(200, discovery);
        diagnostics diag;
        REQUIRE_FALSE(run_to_end(io, login->async_discover(diag)));
    }

    transport::web_login_start begin(std::string context = {}) {
        diagnostics diag;
        auto s = login->begin(diag, std::move(context));
        REQUIRE(s);
        return *s;
    }

    // The IdP's answers to a genuine exchange: tokens with an ID token for `nonce`, then
    // its JWKS.
    void script_exchange(const std::string& nonce) {
        auto claims = good_claims();
        claims["nonce"] = nonce;
        json::object t{{"access_token", "at-1"}, {"token_type", "Bearer"}, {"expires_in", 3600},
                       {"refresh_token", "rt-1"}, {"id_token", sign(key, "k1", claims)}};
        http.push_json(200, json::serialize(t));
        http.push_json(200, jwks_text({{key, "k1"}}));
    }

    result<transport::web_sign_in> callback(const std::string& target, const std::string& cookie,
                                            diagnostics& diag) {
        return run_to_end(io, login->async_complete(target, cookie, diag));
    }
};

std::string good_target(const transport::web_login_start& s, std::string code = "c-1") {
    return "/callback?code=" + code + "&state=" + param(s.authorize_url, "state") +
           "&iss=" + issuer;
}

}  // namespace

TEST_CASE("web_login: a good callback exchanges the code with that login's verifier",
          "[component][web_login]") {
    rig r;
    auto s = r.begin();
    CHECK(s.authorize_url.rfind(issuer + "/auth?", 0) == 0);
    CHECK(param(s.authorize_url, "code_challenge_method") == "S256");
    CHECK(param(s.authorize_url, "redirect_uri") == "https://app.example/callback");
    CHECK(param(s.authorize_url, "scope") == "openid profile email");
    CHECK(param(s.authorize_url, "prompt").empty());  // consent only with offline_access
    CHECK(s.set_cookie.find("; Path=/callback") != std::string::npos);
    CHECK(s.set_cookie.find("; HttpOnly; SameSite=Lax") != std::string::npos);
    CHECK(r.login->pending() == 1);

    r.script_exchange(param(s.authorize_url, "nonce"));
    diagnostics diag;
    auto in = r.callback(good_target(s), "other=1; " + cookie_of(s.set_cookie), diag);
    REQUIRE(in);
    CHECK(in->user.subject == "alice");
    CHECK(in->user.issuer == issuer);
    CHECK(in->tokens.refresh_token->reveal() == "rt-1");
    CHECK(r.login->pending() == 0);

    REQUIRE(r.http.requests.size() == 3);  // discovery, token, JWKS
    const auto& token = r.http.requests[1];
    CHECK(token.url == issuer + "/token");
    CHECK(param(token.body, "code") == "c-1");
    CHECK(param(token.body, "redirect_uri") == "https://app.example/callback");
    CHECK(pkce_challenge(param(token.body, "code_verifier")) ==
          param(s.authorize_url, "code_challenge"));
    bool basic = false;
    for (auto& [k, v] : token.headers)
        basic = basic || (k == "Authorization" && v == "Basic " + base64_encode("latch-cli:s3cret"));
    CHECK(basic);
    CHECK(token.body.find("s3cret") == std::string::npos);

    // Single use: the same callback again finds no pending login and sends nothing.
    auto again = r.callback(good_target(s), cookie_of(s.set_cookie), diag);
    REQUIRE_FALSE(again);
    CHECK(again.error() == client_errc::state_mismatch);
    CHECK(r.http.requests.size() == 3);
}

TEST_CASE("web_login: begin's context comes back with the sign-in; secret_post when the IdP lists only it",
          "[component][web_login]") {
    rig r(16, discovery_json(json::array{"client_secret_post", "private_key_jwt"}));
    auto s = r.begin("https://idp.example/oauth2/authorize?client_id=web");
    r.script_exchange(param(s.authorize_url, "nonce"));
    diagnostics diag;
    auto in = r.callback(good_target(s), cookie_of(s.set_cookie), diag);
    REQUIRE(in);
    CHECK(in->context == "https://idp.example/oauth2/authorize?client_id=web");
    const auto& token = r.http.requests[1];
    CHECK(param(token.body, "client_secret") == "s3cret");
    for (auto& [k, v] : token.headers) CHECK(k != "Authorization");

    // Listed with basic (or not listed: the default is basic): stays basic.
    rig both(16, discovery_json(json::array{"client_secret_basic", "client_secret_post"}));
    auto s2 = both.begin();
    both.script_exchange(param(s2.authorize_url, "nonce"));
    REQUIRE(both.callback(good_target(s2), cookie_of(s2.set_cookie), diag));
    CHECK(param(both.http.requests[1].body, "client_secret").empty());
}

TEST_CASE("web_login: a forged state gets 400, sends nothing, and the login stays usable",
          "[component][web_login]") {
    rig r;
    auto s = r.begin();
    diagnostics diag;
    auto forged = r.callback("/callback?code=evil&state=forged&iss=" + issuer,
                             cookie_of(s.set_cookie), diag);
    REQUIRE_FALSE(forged);
    CHECK(forged.error() == client_errc::state_mismatch);
    CHECK(transport::web_login_status(forged.error()) == 400);
    auto no_state = r.callback("/callback?code=evil", cookie_of(s.set_cookie), diag);
    REQUIRE_FALSE(no_state);
    CHECK(no_state.error() == client_errc::state_mismatch);
    CHECK(r.http.requests.size() == 1);  // discovery only: no code was exchanged
    CHECK(r.login->pending() == 1);

    r.script_exchange(param(s.authorize_url, "nonce"));
    CHECK(r.callback(good_target(s), cookie_of(s.set_cookie), diag));
}

TEST_CASE("web_login: a callback without this browser's login cookie gets 400",
          "[component][web_login]") {
    rig r;
    auto a = r.begin();
    auto b = r.begin();
    diagnostics diag;
    // A's genuine response delivered to browser B (login CSRF), or to a browser without one.
    for (const std::string& cookie : {cookie_of(b.set_cookie), std::string{},
                                      std::string{"latch_login=made-up"}}) {
        auto res = r.callback(good_target(a), cookie, diag);
        REQUIRE_FALSE(res);
        CHECK(res.error() == client_errc::state_mismatch);
        CHECK(transport::web_login_status(res.error()) == 400);
    }
    CHECK(r.http.requests.size() == 1);
    CHECK(r.login->pending() == 2);
}

TEST_CASE("web_login: pending logins expire and are bounded", "[component][web_login]") {
    rig r(3);
    std::vector<transport::web_login_start> starts;
    for (int i = 0; i < 5; ++i) starts.push_back(r.begin());
    CHECK(r.login->pending() == 3);
    CHECK(r.login->dropped() == 2);
    diagnostics diag;
    auto evicted = r.callback(good_target(starts[0]), cookie_of(starts[0].set_cookie), diag);
    REQUIRE_FALSE(evicted);
    CHECK(evicted.error() == client_errc::state_mismatch);

    r.clock.advance(std::chrono::seconds(600));  // pending_ttl
    auto expired = r.callback(good_target(starts[4]), cookie_of(starts[4].set_cookie), diag);
    REQUIRE_FALSE(expired);
    CHECK(expired.error() == client_errc::state_mismatch);
    CHECK(r.login->pending() == 0);
    CHECK(r.http.requests.size() == 1);
}

TEST_CASE("web_login: the flow decides on the IdP's error and on a mixed-up issuer",
          "[component][web_login]") {
    rig r;
    auto s = r.begin();
    const auto state = param(s.authorize_url, "state");
    diagnostics diag;
    auto denied = r.callback("/callback?error=access_denied&error_description=%3Cb%3Eno&state=" +
                                 state + "&iss=" + issuer,
                             cookie_of(s.set_cookie), diag);
    REQUIRE_FALSE(denied);
    CHECK(denied.error() == oauth_errc::access_denied);
    CHECK(transport::web_login_status(denied.error()) == 403);
    CHECK(diag.server_message == "<b>no");  // untrusted: kept apart from our message
    CHECK(r.login->pending() == 0);         // the login was used up

    auto s2 = r.begin();
    auto mixed = r.callback("/callback?code=c&state=" + param(s2.authorize_url, "state") +
                                "&iss=https://evil.example",
                            cookie_of(s2.set_cookie), diag);
    REQUIRE_FALSE(mixed);
    CHECK(mixed.error() == client_errc::issuer_mismatch);
    CHECK(transport::web_login_status(mixed.error()) == 400);
    CHECK(r.http.requests.size() == 1);
}

TEST_CASE("web_login: an ID token for another login's nonce signs nobody in",
          "[component][web_login]") {
    rig r;
    auto s = r.begin();
    r.script_exchange("someone-elses-nonce");
    diagnostics diag;
    auto res = r.callback(good_target(s), cookie_of(s.set_cookie), diag);
    REQUIRE_FALSE(res);
    CHECK(res.error() == client_errc::nonce_mismatch);
    CHECK(transport::web_login_status(res.error()) == 502);
}

TEST_CASE("web_login: logout revokes the refresh token with the client's credentials",
          "[component][web_login]") {
    rig r;
    token_set t;
    t.access_token = secret{"at-1"};
    t.refresh_token = secret{"rt-1"};
    r.http.push(latchkey::test::body_reply(200, "", "text/plain"));
    diagnostics diag;
    CHECK_FALSE(run_to_end(r.io, r.login->async_revoke(t, diag)));
    REQUIRE(r.http.requests.size() == 2);
    const auto& rev = r.http.requests[1];
    CHECK(rev.url == issuer + "/token/revocation");
    CHECK(param(rev.body, "token") == "rt-1");
    CHECK(param(rev.body, "token_type_hint") == "refresh_token");
}

TEST_CASE("web_sessions: a fresh id per sign-in, found by cookie, expired, taken",
          "[component][web_login]") {
    asio::io_context io;
    latchkey::test::fake_clock clock{io.get_executor(), at(t0)};
    transport::web_session_options o;
    o.ttl = std::chrono::seconds(60);
    transport::web_sessions sessions(clock, o);
    transport::web_sign_in alice, bob;
    alice.user.subject = "alice";
    bob.user.subject = "bob";
    auto ca = cookie_of(sessions.create(alice));
    auto cb = cookie_of(sessions.create(bob));
    CHECK(ca != cb);
    REQUIRE(sessions.find(ca));
    CHECK(sessions.find(ca)->user.subject == "alice");
    CHECK(sessions.find("a=b; " + cb + "; c=d")->user.subject == "bob");
    CHECK_FALSE(sessions.find("latch_session=guess"));
    CHECK_FALSE(sessions.find(""));
    auto taken = sessions.take(ca);
    REQUIRE(taken);
    CHECK(taken->user.subject == "alice");
    CHECK_FALSE(sessions.find(ca));
    clock.advance(std::chrono::seconds(60));
    CHECK_FALSE(sessions.find(cb));
    CHECK(sessions.size() == 0);
    CHECK(sessions.clear_cookie().find("latch_session=; Path=/; Max-Age=0") == 0);
}

TEST_CASE("cookie_value reads one cookie of a Cookie header", "[component][web_login]") {
    CHECK(transport::cookie_value("a=1; b=2", "b") == "2");
    CHECK(transport::cookie_value("a=1;b=\"2\"", "b") == "2");
    CHECK(transport::cookie_value("ab=1; a=3", "a") == "3");
    CHECK_FALSE(transport::cookie_value("a=1", "b"));
    CHECK_FALSE(transport::cookie_value("", "b"));
}
