// transport::async_login for device, browser and hybrid logins, with fake HTTP, virtual
// time, a fake browser that comes back to the real loopback listener, and pasted lines.
#include "login_support.hpp"
#include "listener_client.hpp"

#include <boost/url/parse.hpp>

using namespace login_test;
using transport::login_way;

namespace {

unsigned short redirect_port(const std::string& authorize_url) {
    const std::string redirect = query_param(authorize_url, "redirect_uri");
    auto u = boost::urls::parse_uri(redirect);
    REQUIRE(u);
    return static_cast<unsigned short>(std::stoi(std::string(u->port())));
}

// A browser that signs in at once: the IdP redirects back with a code and our state.
void browser_signs_in(rig& r) {
    r.browser.on_open = [&r](const std::string& url) {
        r.nonce_seen = query_param(url, "nonce");
        deliver_callback(r.io, redirect_port(url),
                         "/callback?code=c-1&state=" + query_param(url, "state") + "&iss=" + issuer);
    };
}

bool is_poll(const http_request& q) { return q.body.find("device_code") != std::string::npos; }

}  // namespace

TEST_CASE("login: device flow; the ID token is verified, identity from claims then userinfo", "[component][login]") {
    rig r;
    transport::login_options o;
    o.way = login_way::device;
    diagnostics diag;
    auto got = r.login(o, {r.user}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::device);
    CHECK(got->tokens.access_token.reveal() == "access-1");
    REQUIRE(got->id_claims);
    CHECK(got->who.subject == "alice");
    CHECK(got->who.email == "alice@example.com");  // gap filled from userinfo
    CHECK(r.count(discovery_url(issuer)) == 1);
    CHECK(r.count(issuer + "/jwks") == 1);
    REQUIRE_FALSE(r.user.shown.empty());
    CHECK(r.user.shown.front().user_code == "BCDF-GHJK");
}

TEST_CASE("login: an ID token that fails verification stores nothing and says why", "[component][login]") {
    rig r;
    r.poll = [&r] {
        auto other = jose_test::shared_key(key_type::ed25519);
        auto c = jose_test::good_claims();
        c.erase("nonce");
        return test::json_reply(200, R"({"access_token":"a","token_type":"Bearer","id_token":")" +
                                         jose_test::sign(other, "k1", c) + "\"}");
    };
    transport::login_options o;
    o.way = login_way::device;
    diagnostics diag;
    auto got = r.login(o, {r.user}, diag);
    REQUIRE_FALSE(got);
    CHECK(got.error() == client_errc::id_token_invalid);
    CHECK(diag.client_message.find("nothing was stored") != std::string::npos);
}

TEST_CASE("login: browser; the callback's code is exchanged, the nonce it sent is checked", "[component][login]") {
    rig r;
    browser_signs_in(r);
    transport::login_options o;
    o.way = login_way::browser;
    diagnostics diag;
    auto got = r.login(o, {r.user, &r.browser}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::browser);
    CHECK(r.browser.opened.size() == 1);
    CHECK(got->who.subject == "alice");
}

TEST_CASE("login: hybrid, the browser wins; device polling stops", "[component][login][race]") {
    rig r;
    browser_signs_in(r);
    std::size_t polls_at_win = 0;
    r.poll = [&] { return test::json_reply(400, R"({"error":"authorization_pending"})"); };
    r.on_userinfo = [&] {  // after the race: the loser has been cancelled
        polls_at_win = std::count_if(r.http.requests.begin(), r.http.requests.end(), is_poll);
    };
    diagnostics diag;
    auto got = r.login({}, {r.user, &r.browser}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::browser);
    CHECK(std::count_if(r.http.requests.begin(), r.http.requests.end(), is_poll) == polls_at_win);
}

TEST_CASE("login: hybrid, the device wins; the listener closes", "[component][login][race]") {
    rig r;
    std::string url;
    r.browser.on_open = [&](const std::string& u) { url = u; };  // never comes back
    diagnostics diag;
    auto got = r.login({}, {r.user, &r.browser}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::device);
    REQUIRE_FALSE(url.empty());
    // The listener is gone: a late browser gets no answer.
    asio::io_context io;
    auto resp = test::run_to_end(io, test::async_raw_exchange(redirect_port(url), test::get_request("/callback")));
    CHECK(resp.status == 0);
}

TEST_CASE("login: hybrid, an expired device code lets the browser finish", "[component][login][race]") {
    rig r;
    std::string url;
    r.poll = [] { return test::json_reply(400, R"({"error":"expired_token"})"); };
    r.browser.on_open = [&](const std::string& u) { url = u; r.nonce_seen = query_param(u, "nonce"); };
    r.user.on_warn = [&](const std::string&) {
        deliver_callback(r.io, redirect_port(url),
                         "/callback?code=c-1&state=" + query_param(url, "state") + "&iss=" + issuer);
    };
    diagnostics diag;
    auto got = r.login({}, {r.user, &r.browser}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::browser);
    REQUIRE(r.user.warnings.size() == 1);
    CHECK(r.user.warnings[0].rfind("device login ended (", 0) == 0);
    CHECK(r.user.warnings[0].find("still waiting for the other one") != std::string::npos);
}

TEST_CASE("login: hybrid, access_denied on one side ends both", "[component][login][race]") {
    rig r;
    r.poll = [] { return test::json_reply(400, R"({"error":"access_denied"})"); };
    diagnostics diag;
    auto got = r.login({}, {r.user, &r.browser}, diag);
    REQUIRE_FALSE(got);
    CHECK(got.error() == oauth_errc::access_denied);
    CHECK(r.user.warnings.empty());
}

TEST_CASE("login: a pasted ?code= URL wins over the listener", "[component][login][paste]") {
    rig r;
    fake_lines lines;
    r.browser.on_open = [&](const std::string& url) {
        r.nonce_seen = query_param(url, "nonce");
        lines.lines = {"garbage that is no URL",
                       "http://127.0.0.1:1/callback?code=x&state=forged",
                       "http://127.0.0.1:1/callback?code=c-2&state=" + query_param(url, "state") + "&iss=" + issuer};
    };
    transport::login_options o;
    o.way = login_way::browser;
    diagnostics diag;
    auto got = r.login(o, {r.user, &r.browser, &lines}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::browser_pasted);
    REQUIRE(r.user.warnings.size() == 2);  // the garbage and the forged state kept it waiting
    CHECK(r.user.warnings[0].rfind("ignoring the pasted line", 0) == 0);
    CHECK(r.user.warnings[1].find("state does not match") != std::string::npos);
    bool exchanged = false;
    for (const auto& q : r.http.requests) exchanged = exchanged || q.body.find("code=c-2") != std::string::npos;
    CHECK(exchanged);
}

TEST_CASE("login: a pasted, verified #id_token= with this login's nonce wins", "[component][login][paste]") {
    rig r;
    fake_lines lines;
    r.browser.on_open = [&](const std::string& url) {
        lines.lines = {"https://app.example/#id_token=" + r.id_token("wrong-nonce"),
                       "https://app.example/#id_token=" + r.id_token(query_param(url, "nonce"))};
    };
    transport::login_options o;
    o.way = login_way::browser;
    diagnostics diag;
    auto got = r.login(o, {r.user, &r.browser, &lines}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::callback_url);
    CHECK(got->who.subject == "alice");
    REQUIRE(r.user.warnings.size() == 1);
    CHECK(r.user.warnings[0].rfind("ignoring the pasted ID token", 0) == 0);
}

TEST_CASE("login: --callback-url with an ID token is verified; with ?code= refused", "[component][login]") {
    rig r;
    transport::login_options o;
    o.way = login_way::callback_url;
    o.callback_url = "https://app.example/#id_token=" + r.id_token();
    diagnostics diag;
    auto got = r.login(o, {r.user}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::callback_url);
    CHECK(got->tokens.access_token.reveal() == got->tokens.id_token->reveal());
    o.callback_url = "http://127.0.0.1:1/callback?code=abc&state=s";
    auto refused = r.login(o, {r.user}, diag);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == client_errc::bad_input);
}

// Issue 17 #5: a hybrid login prints one instruction block (the device prompt carries the
// browser's URL as its alternative), and no "Opening this URL" beside it.
TEST_CASE("login: hybrid shows one block, the device prompt carrying the browser's URL", "[component][login][race]") {
    rig r;
    std::string url;
    r.browser.on_open = [&](const std::string& u) { url = u; };  // never comes back
    diagnostics diag;
    auto got = r.login({}, {r.user, &r.browser}, diag);
    REQUIRE(got);
    REQUIRE_FALSE(url.empty());
    auto code = std::find_if(r.user.shown.begin(), r.user.shown.end(), [](const flows::show_user& s) {
        return s.what == flows::show_user::kind::device_code;
    });
    REQUIRE(code != r.user.shown.end());
    CHECK(code->browser_alternative == url);
    for (const auto& s : r.user.shown) CHECK(s.message.find("Opening this URL") == std::string::npos);
}

// Issue 17 #10: --audience reaches the device authorization request.
TEST_CASE("login: the audience goes on the device authorization request", "[component][login]") {
    rig r;
    transport::login_options o;
    o.way = login_way::device;
    o.audience = "https://api.example";
    diagnostics diag;
    REQUIRE(r.login(o, {r.user}, diag));
    auto first = std::find_if(r.http.requests.begin(), r.http.requests.end(), [](const http_request& q) {
        return q.body.find("client_id") != std::string::npos && !is_poll(q);
    });
    REQUIRE(first != r.http.requests.end());
    CHECK(first->body.find("audience=https") != std::string::npos);
    CHECK(first->body.find("api.example") != std::string::npos);
}
