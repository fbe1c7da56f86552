// Issue 18 #11: the loopback port of a browser login. An OS-chosen port changes every run,
// and the pre-flight notice says so and what to do (--port N); a login on a chosen port
// reports the port it worked on (the CLI remembers it); a remembered port that is busy
// is an error naming the fix.
#include "login_support.hpp"

#include <boost/asio/ip/tcp.hpp>

using namespace login_test;
using transport::login_way;

namespace {

unsigned short redirect_port(const std::string& authorize_url) {
    const std::string redirect = query_param(authorize_url, "redirect_uri");
    const auto colon = redirect.rfind(':');
    return static_cast<unsigned short>(std::stoi(redirect.substr(colon + 1)));
}

void browser_signs_in(rig& r) {
    r.browser.on_open = [&r](const std::string& url) {
        r.nonce_seen = query_param(url, "nonce");
        deliver_callback(r.io, redirect_port(url),
                         "/callback?code=c-1&state=" + query_param(url, "state") + "&iss=" + issuer);
    };
}

std::string notice_of(const rig& r) {
    for (const auto& s : r.user.shown)
        if (s.message.starts_with("Browser login: redirect URI")) return s.message;
    return {};
}

const std::string hint = "Note: its port changes every run: if the identity provider compares "
                         "redirect URIs exactly, port included, allow-list "
                         "http://127.0.0.1:N/callback for a free port N and log in with --port N";

}  // namespace

TEST_CASE("login: an OS-chosen port is announced as changing, with the --port N fix",
          "[component][login][hardening]") {
    rig r;
    browser_signs_in(r);
    transport::login_options o;
    o.way = login_way::browser;
    diagnostics diag;
    auto got = r.login(o, {r.user, &r.browser}, diag);
    REQUIRE(got);
    CHECK(notice_of(r).find(hint) != std::string::npos);
    REQUIRE(r.browser.opened.size() == 1);
    CHECK(got->loopback_port == redirect_port(r.browser.opened[0]));
}

TEST_CASE("login: a chosen port is not called changing, and is reported once it worked",
          "[component][login][hardening]") {
    rig r;
    asio::ip::tcp::acceptor probe(r.io, {asio::ip::address_v4::loopback(), 0});
    const auto port = probe.local_endpoint().port();
    probe.close();
    browser_signs_in(r);
    transport::login_options o;
    o.way = login_way::browser;
    o.port = port;
    diagnostics diag;
    auto got = r.login(o, {r.user, &r.browser}, diag);
    REQUIRE(got);
    INFO(notice_of(r));
    CHECK(notice_of(r).find("http://127.0.0.1:" + std::to_string(port) + "/callback") !=
          std::string::npos);
    CHECK(notice_of(r).find("changes every run") == std::string::npos);
    CHECK(got->loopback_port == port);
}

TEST_CASE("login: a remembered port that is busy is an error naming the fix",
          "[component][login][hardening]") {
    rig r;
    asio::ip::tcp::acceptor squatter(r.io, {asio::ip::address_v4::loopback(), 0});
    const auto port = squatter.local_endpoint().port();
    transport::login_options o;
    o.way = login_way::browser;
    o.port = port;
    o.port_remembered = true;
    diagnostics diag;
    auto got = r.login(o, {r.user, &r.browser}, diag);
    REQUIRE_FALSE(got);
    CHECK(got.error() == client_errc::port_in_use);
    const auto n = std::to_string(port);
    CHECK(diag.client_message ==
          "port " + n + " on 127.0.0.1 is already in use; this context remembers it from a login "
          "that worked (the identity provider may accept only http://127.0.0.1:" + n +
          "/callback): free it, or log in with --port N for another port the identity provider "
          "allows");
    CHECK(r.browser.opened.empty());
}
