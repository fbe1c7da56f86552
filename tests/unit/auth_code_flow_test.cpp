// The authorization code + PKCE machine: the request it builds, the nudge and the timeout,
// and the token exchange. (The checks of the authorization response are in
// auth_code_callback_test.cpp.)
#include "auth_code_script.hpp"

#include <boost/url/parse.hpp>

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows;
using namespace latchkey::test::auth_code;

namespace {

// Decoded query parameters of the authorization URL, in order.
std::vector<std::pair<std::string, std::string>> query_of(const std::string& url) {
    auto u = boost::urls::parse_absolute_uri(url);
    REQUIRE(u.has_value());
    std::vector<std::pair<std::string, std::string>> out;
    for (auto p : u->params()) out.emplace_back(p.key, p.value);
    return out;
}

std::string param(const std::vector<std::pair<std::string, std::string>>& q, std::string_view k) {
    for (auto& [key, v] : q)
        if (key == k) return v;
    return "<absent>";
}

}  // namespace

TEST_CASE("auth_code: the authorization URL carries PKCE S256, state, nonce and the redirect",
          "[unit][auth_code]") {
    auto p = params();
    p.authorization_endpoint = "https://idp.example/auth?tenant=a%20b";
    p.prompt = "consent";
    p.extra_auth_params = {{"audience", "https://api.example"}, {"state", "evil"}};
    auth_code_flow f{p, secrets()};
    auto a = f.next(started{t0});
    auto* s = std::get_if<show_user>(&a);
    REQUIRE(s);
    CHECK(s->what == show_user::kind::browser_url);
    CHECK(s->redirect_uri == "http://127.0.0.1:53682/callback");
    CHECK(s->expires_at == t0 + seconds{300});
    CHECK(s->authorize_url == f.authorize_url());
    CHECK(s->authorize_url.starts_with("https://idp.example/auth?tenant=a%20b&response_type=code&"));

    auto q = query_of(s->authorize_url);
    CHECK(param(q, "tenant") == "a b");  // the endpoint's own query is kept
    CHECK(param(q, "response_type") == "code");
    CHECK(param(q, "client_id") == "latch-cli");
    CHECK(param(q, "redirect_uri") == "http://127.0.0.1:53682/callback");
    CHECK(param(q, "scope") == "openid profile email offline_access");
    CHECK(param(q, "state") == "st-123");  // an extra `state` cannot override ours
    CHECK(param(q, "nonce") == "n-456");
    CHECK(param(q, "code_challenge_method") == "S256");
    CHECK(param(q, "prompt") == "consent");
    CHECK(param(q, "audience") == "https://api.example");
    CHECK(std::count_if(q.begin(), q.end(), [](auto& kv) { return kv.first == "state"; }) == 1);
    // The verifier itself never goes to the browser.
    CHECK(s->authorize_url.find(secrets().code_verifier.reveal()) == std::string::npos);
}

TEST_CASE("auth_code: RFC 7636 Appendix B verifier gives its challenge in the URL",
          "[unit][auth_code]") {
    auto sec = secrets();
    sec.code_verifier = secret{"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"};
    auth_code_flow f{params(), sec};
    f.next(started{t0});
    CHECK(param(query_of(f.authorize_url()), "code_challenge") ==
          "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST_CASE("auth_code: make_auth_code_secrets draws fresh values of the right shape",
          "[unit][auth_code]") {
    auto a = make_auth_code_secrets();
    auto b = make_auth_code_secrets();
    CHECK(a.state.size() >= 43);
    CHECK(a.nonce.size() >= 43);
    CHECK(a.code_verifier.reveal().size() >= 43);
    CHECK(a.code_verifier.reveal().size() <= 128);
    CHECK(a.state != b.state);
    CHECK(a.nonce != b.nonce);
    CHECK(a.state != a.nonce);
    CHECK(a.code_verifier.reveal() != b.code_verifier.reveal());
    auth_code_flow f{params(), a};
    CHECK(std::holds_alternative<show_user>(f.next(started{t0})));
}

TEST_CASE("auth_code: bad inputs fail before anything is shown", "[unit][auth_code]") {
    auto sec = secrets();
    sec.code_verifier = secret{"too-short"};
    auth_code_flow short_verifier{params(), sec};
    CHECK(std::get<failed>(short_verifier.next(started{t0})).ec == client_errc::bad_input);

    auto p = params();
    p.authorization_endpoint = "not a url";
    auth_code_flow bad_url{p, secrets()};
    CHECK(std::get<failed>(bad_url.next(started{t0})).ec == client_errc::bad_url);
}

TEST_CASE("auth_code: after 30 s without a callback the URL is shown again, then it times out",
          "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    REQUIRE(std::holds_alternative<show_user>(f.next(started{t0})));
    auto a = f.next(user_shown{t0 + seconds{1}});
    REQUIRE(std::holds_alternative<await_callback>(a));
    CHECK(std::get<await_callback>(a).deadline == t0 + seconds{31});

    a = f.next(timer_fired{t0 + seconds{31}});
    auto* nudge = std::get_if<show_user>(&a);
    REQUIRE(nudge);
    CHECK(nudge->what == show_user::kind::notice);
    CHECK(nudge->message.starts_with("No callback yet; did you allow-list the redirect URI "
                                     "http://127.0.0.1:53682/callback"));
    CHECK(nudge->message.find("Open this URL: " + f.authorize_url()) != std::string::npos);
    CHECK(f.nudged());

    a = f.next(user_shown{t0 + seconds{31}});
    REQUIRE(std::holds_alternative<await_callback>(a));
    CHECK(std::get<await_callback>(a).deadline == t0 + seconds{300});  // once only

    a = f.next(timer_fired{t0 + seconds{300}});
    auto* fl = std::get_if<failed>(&a);
    REQUIRE(fl);
    CHECK(fl->ec == client_errc::timeout);
    CHECK(fl->diag.client_message.find("http://127.0.0.1:53682/callback") != std::string::npos);
    CHECK(fl->diag.client_message.find("5:00") != std::string::npos);
    CHECK(std::get<failed>(f.next(timer_fired{t0 + seconds{301}})).ec == client_errc::flow_finished);
}

TEST_CASE("auth_code: an OS-chosen port: the nudge and the timeout say it changes, and --port N",
          "[unit][auth_code][hardening]") {
    for (bool ephemeral : {false, true}) {
        auto p = params();
        p.ephemeral_port = ephemeral;
        auth_code_flow f{p, secrets()};
        f.next(started{t0});
        f.next(user_shown{t0});
        auto nudge = std::get<show_user>(f.next(timer_fired{t0 + seconds{30}}));
        f.next(user_shown{t0 + seconds{30}});
        auto fl = std::get<failed>(f.next(timer_fired{t0 + seconds{300}}));
        const std::string hint = "its port changes every run: if the identity provider compares "
                                 "redirect URIs exactly, port included, allow-list "
                                 "http://127.0.0.1:N/callback for a free port N and log in with "
                                 "--port N";
        INFO(nudge.message << "\n" << fl.diag.client_message);
        CHECK((nudge.message.find("Note that " + hint) != std::string::npos) == ephemeral);
        CHECK((fl.diag.client_message.find("about the redirect URI, " + hint) != std::string::npos) ==
              ephemeral);
        CHECK((fl.diag.client_message.find("allow-list it at the identity provider and try again") !=
               std::string::npos) == !ephemeral);
    }
}

TEST_CASE("auth_code: a timeout shorter than the nudge delay never nudges", "[unit][auth_code]") {
    auto p = params();
    p.timeout = seconds{20};
    auth_code_flow f{p, secrets()};
    f.next(started{t0});
    auto a = f.next(user_shown{t0});
    CHECK(std::get<await_callback>(a).deadline == t0 + seconds{20});
    CHECK(std::get<failed>(f.next(timer_fired{t0 + seconds{20}})).ec == client_errc::timeout);
    CHECK_FALSE(f.nudged());
}

TEST_CASE("auth_code: a callback after the nudge still completes the login", "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    f.next(started{t0});
    f.next(user_shown{t0});
    f.next(timer_fired{t0 + seconds{30}});
    f.next(user_shown{t0 + seconds{30}});
    auto a = f.next(callback_received{t0 + seconds{40}, "/callback?code=c1&state=st-123"});
    REQUIRE(std::holds_alternative<send_request>(a));
}

TEST_CASE("auth_code: the code is exchanged with the verifier, once", "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    auto a = to_callback(f, "http://127.0.0.1:53682/callback?code=SplxlOBeZQQYbYS6WxSbIA&state=st-123");
    auto* s = std::get_if<send_request>(&a);
    REQUIRE(s);
    CHECK(s->request.method == http_method::post);
    CHECK(s->request.url == "https://idp.example/token");
    CHECK_FALSE(s->request.idempotent);
    CHECK(s->request.body ==
          "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA"
          "&redirect_uri=http%3A%2F%2F127.0.0.1%3A53682%2Fcallback&client_id=latch-cli"
          "&code_verifier=" + secrets().code_verifier.reveal());

    auto d = f.next(token_reply(200, token_body(id_token_with_nonce("n-456"))));
    auto* dn = std::get_if<done>(&d);
    REQUIRE(dn);
    CHECK(dn->tokens.access_token.reveal() == "at-1");
    CHECK(dn->tokens.refresh_token->reveal() == "rt-1");
    CHECK(dn->tokens.expires_at == t0 + seconds{3600});
    CHECK(std::get<failed>(f.next(token_reply(200, "{}"))).ec == client_errc::flow_finished);
}

TEST_CASE("auth_code: token endpoint errors and transport failures end the login",
          "[unit][auth_code]") {
    {
        auth_code_flow f{params(), secrets()};
        to_callback(f, "/callback?code=c&state=st-123");
        auto a = f.next(token_reply(400, R"({"error":"invalid_grant","error_description":"code expired"})"));
        auto& fl = std::get<failed>(a);
        CHECK(fl.ec == oauth_errc::invalid_grant);
        CHECK(fl.diag.server_message == "code expired");
    }
    {
        auth_code_flow f{params(), secrets()};
        to_callback(f, "/callback?code=c&state=st-123");
        auto a = f.next(http_reply{t0, make_error_code(client_errc::connection_failed), {}});
        auto& fl = std::get<failed>(a);
        CHECK(fl.ec == client_errc::connection_failed);
        CHECK(fl.diag.client_message.find("not retried") != std::string::npos);
    }
}
