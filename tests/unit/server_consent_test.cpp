// latch-idp: when the consent page is shown, what it lists, and the RP-initiated logout
// decision (RP-Initiated Logout 1.0: refused / confirm first / sign out).
#include <latchkey/flows/server/consent.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace latchkey::flows::server;

namespace {

client_record web(bool skip = false) {
    client_record c;
    c.client_id = "web";
    c.skip_consent = skip;
    c.post_logout_redirect_uris = {"https://app.example/bye"};
    return c;
}

}  // namespace

TEST_CASE("consent: asked the first time, not again for the same or fewer scopes", "[unit][server][consent]") {
    const auto c = web();
    CHECK(needs_consent(c, std::nullopt, "openid profile", ""));
    CHECK_FALSE(needs_consent(c, std::string("openid profile"), "openid profile", ""));
    CHECK_FALSE(needs_consent(c, std::string("openid profile email"), "profile openid", ""));
    CHECK(needs_consent(c, std::string("openid"), "openid email", ""));  // a new scope asks again
}

TEST_CASE("consent: prompt=consent always asks; a --skip-consent client never does", "[unit][server][consent]") {
    CHECK(needs_consent(web(), std::string("openid"), "openid", "consent"));
    CHECK(needs_consent(web(), std::string("openid"), "openid", "login consent"));
    CHECK_FALSE(needs_consent(web(), std::string("openid"), "openid", "consentx"));
    CHECK_FALSE(needs_consent(web(true), std::nullopt, "openid email", "consent"));
}

TEST_CASE("consent: granted scopes accumulate without duplicates", "[unit][server][consent]") {
    CHECK(scope_union("openid profile", "profile email") == "openid profile email");
    CHECK(scope_union("", "  openid  openid ") == "openid");
    CHECK(scopes_covered("a b c", ""));
    CHECK_FALSE(scopes_covered("", "a"));
    CHECK_FALSE(scopes_covered("openid", "open"));
}

TEST_CASE("consent: the page describes each scope once, unknown ones by name", "[unit][server][consent]") {
    auto d = describe_scopes("openid email email api:read");
    REQUIRE(d.size() == 3);
    CHECK(d[0] == "Know who you are (your user id)");
    CHECK(d[1] == "See your email address");
    CHECK(d[2] == "Access \"api:read\" on your behalf");
}

TEST_CASE("logout: a valid hint for the signed-in user signs out at once", "[unit][server][logout]") {
    const auto c = web();
    logout_request r;
    r.hint_present = r.hint_valid = true;
    r.hint_sub = "u1";
    r.hint_aud = "web";
    r.client = &c;
    r.redirect_uri = "https://app.example/bye";
    r.session_user = "u1";
    CHECK(decide_logout(r).action == logout_action::sign_out);
    r.session_user = "";  // nobody signed in: nothing to protect, go back
    CHECK(decide_logout(r).action == logout_action::sign_out);
}

TEST_CASE("logout: no hint, or a hint for another user, asks the user first", "[unit][server][logout]") {
    const auto c = web();
    logout_request r;
    r.session_user = "u1";
    CHECK(decide_logout(r).action == logout_action::confirm);
    r.hint_present = r.hint_valid = true;
    r.hint_sub = "u2";
    r.hint_aud = "web";
    r.client = &c;
    CHECK(decide_logout(r).action == logout_action::confirm);
    r.confirmed = true;
    CHECK(decide_logout(r).action == logout_action::sign_out);
}

TEST_CASE("logout: refused, never redirected: bad hint, unregistered URI, no client", "[unit][server][logout]") {
    const auto c = web();
    logout_request r;
    r.hint_present = true;  // present but not ours
    CHECK(decide_logout(r).action == logout_action::refuse);

    logout_request u;
    u.client = &c;
    u.client_id = "web";
    u.confirmed = true;
    for (const char* uri : {"https://evil.example/bye", "https://app.example/bye/", "https://app.example/bye?x=1"}) {
        u.redirect_uri = uri;
        CHECK(decide_logout(u).action == logout_action::refuse);
    }
    logout_request n;
    n.redirect_uri = "https://app.example/bye";  // which client's?
    CHECK(decide_logout(n).action == logout_action::refuse);

    logout_request m;
    m.hint_present = m.hint_valid = true;
    m.hint_aud = "web";
    m.client_id = "other";
    m.client = &c;
    CHECK(decide_logout(m).message == "client_id is not the audience of id_token_hint");
}

TEST_CASE("discovery: the end_session_endpoint and the published keys' algs, the signing one first",
          "[unit][server][logout]") {
    namespace json = boost::json;
    auto d = json::parse(discovery_document("https://idp.example", {"RS256", "ES256"})).as_object();
    CHECK(d.at("end_session_endpoint") == "https://idp.example/oauth2/logout");
    CHECK(d.at("id_token_signing_alg_values_supported").as_array() == json::array{"RS256", "ES256"});
    auto plain = json::parse(discovery_document("https://idp.example")).as_object();
    CHECK(plain.at("id_token_signing_alg_values_supported").as_array() == json::array{"ES256"});
}
