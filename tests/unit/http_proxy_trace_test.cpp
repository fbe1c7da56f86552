// The HTTP client's proxy choice (NO_PROXY as curl reads it, loopback never proxied, the
// proxy URL's credentials) and the --debug trace's redaction, without sockets.
#include "../../transport/src/http_internal.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace latchkey;
using namespace latchkey::transport;
using namespace latchkey::transport::detail;

namespace {
target https_target(const std::string& url) {
    diagnostics diag;
    auto t = parse_target(url, true, diag);
    REQUIRE(t.has_value());
    return *t;
}
std::string joined(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
}
}  // namespace

TEST_CASE("NO_PROXY: names, suffixes, ports, addresses, CIDR and *", "[unit][http][proxy]") {
    CHECK(no_proxy_matches("example.com", "example.com", "443"));
    CHECK(no_proxy_matches("example.com", "api.example.com", "443"));
    CHECK(no_proxy_matches(".example.com", "api.example.com", "443"));
    CHECK(no_proxy_matches(".example.com", "example.com", "443"));
    CHECK_FALSE(no_proxy_matches("example.com", "badexample.com", "443"));
    CHECK(no_proxy_matches("EXAMPLE.com", "Api.Example.COM", "443"));
    CHECK(no_proxy_matches("a.test, example.com", "example.com", "443"));
    CHECK(no_proxy_matches("a.test example.com", "example.com", "443"));
    CHECK(no_proxy_matches("example.com:443", "example.com", "443"));
    CHECK_FALSE(no_proxy_matches("example.com:8443", "example.com", "443"));
    CHECK(no_proxy_matches("10.1.2.3", "10.1.2.3", "443"));
    CHECK_FALSE(no_proxy_matches("10.1.2.3", "10.1.2.30", "443"));
    CHECK(no_proxy_matches("10.0.0.0/8", "10.200.0.1", "443"));
    CHECK_FALSE(no_proxy_matches("10.0.0.0/8", "11.0.0.1", "443"));
    CHECK(no_proxy_matches("fd00::/8", "fd12::1", "443"));
    CHECK(no_proxy_matches("[2001:db8::1]:443", "2001:db8::1", "443"));
    CHECK(no_proxy_matches("*", "anything.example", "443"));
    CHECK_FALSE(no_proxy_matches("", "example.com", "443"));
}

TEST_CASE("choose_proxy: loopback direct, NO_PROXY direct, credentials from the URL",
          "[unit][http][proxy]") {
    diagnostics diag;
    proxy_config c{"http://bob:s%40cret@proxy.corp:3128", "", "internal.corp"};
    auto r = choose_proxy(https_target("https://idp.example/token"), c, diag);
    REQUIRE(r.has_value());
    REQUIRE(r->has_value());
    CHECK((*r)->proxy.host == "proxy.corp");
    CHECK((*r)->proxy.port == "3128");
    CHECK((*r)->proxy.display == "http://proxy.corp:3128");
    CHECK((*r)->authorization == "Basic Ym9iOnNAY3JldA==");  // bob:s@cret

    for (auto url : {"https://127.0.0.1:8443/x", "https://localhost/x", "https://[::1]/x",
                     "https://a.internal.corp/x"}) {
        auto d = choose_proxy(https_target(url), c, diag);
        REQUIRE(d.has_value());
        CHECK_FALSE(d->has_value());
    }
    proxy_config bare{"proxy.corp", "", ""};
    auto b = choose_proxy(https_target("https://idp.example/"), bare, diag);
    REQUIRE(b.has_value());
    REQUIRE(b->has_value());
    CHECK((*b)->proxy.port == "1080");  // curl's default
    CHECK((*b)->authorization.empty());

    proxy_config socks{"socks5://u:hidden-pw@proxy.corp:1080", "", ""};
    auto s = choose_proxy(https_target("https://idp.example/"), socks, diag);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error() == client_errc::bad_url);
    CHECK(diag.client_message.find("only http:// proxies") != std::string::npos);
    CHECK(diag.client_message.find("hidden-pw") == std::string::npos);
}

TEST_CASE("trace: secrets in headers, form and JSON bodies and queries are redacted",
          "[unit][http][trace]") {
    std::vector<std::string> lines;
    http_options o;
    o.trace = [&](std::string_view l) { lines.emplace_back(l); };
    const std::string code = "SplxlOBeZQQYbYS6WxSbIA-authorization-code";
    const std::string verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const std::string bearer = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz";
    std::string wire = "POST /token?code=" + code + "&x=1 HTTP/1.1\r\nHost: idp\r\n"
                       "Authorization: Bearer " + bearer + "\r\nCookie: sid=abcdefghijklmnopqrstuvwxyz\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                       "grant_type=authorization_code&code=" + code + "&code_verifier=" + verifier +
                       "&password=hunter2hunter2&client_assertion=" + bearer + "&client_id=latch-cli";
    trace_lines(o, '>', wire, {});
    http_response resp;
    resp.status = 200;
    resp.headers = {{"Set-Cookie", "session=0123456789abcdef0123"}, {"Content-Type", "application/json"}};
    resp.body = R"({"access_token":")" + bearer + R"(","token_type":"Bearer","expires_in":3600,)"
                R"("refresh_token":"refresh-0123456789abcdef","id_token":")" + bearer + R"("})";
    trace_response(o, resp, "12 ms");
    auto all = joined(lines);
    for (const auto& s : {code, verifier, bearer, std::string("hunter2hunter2"),
                          std::string("abcdefghijklmnopqrstuvwxyz"), std::string("0123456789abcdef0123"),
                          std::string("refresh-0123456789abcdef")})
        CHECK(all.find(s) == std::string::npos);
    CHECK(all.find("> POST /token?code=SplxlO…code&x=1 HTTP/1.1\n") != std::string::npos);
    CHECK(all.find("> Authorization: Bearer eyJhbG…dGVz\n") != std::string::npos);
    CHECK(all.find("client_id=latch-cli") != std::string::npos);
    CHECK(all.find("grant_type=authorization_code") != std::string::npos);
    CHECK(all.find("< HTTP/1.1 200 (12 ms)\n") != std::string::npos);
    CHECK(all.find(R"("token_type":"Bearer")") != std::string::npos);
    CHECK(all.find(R"("expires_in":3600)") != std::string::npos);
}

TEST_CASE("trace: control characters from the server are escaped; other bodies summarised",
          "[unit][http][trace]") {
    std::vector<std::string> lines;
    http_options o;
    o.trace = [&](std::string_view l) { lines.emplace_back(l); };
    http_response resp;
    resp.status = 500;
    resp.headers = {{"X-Evil", "a\x1b]0;title\x07" "b"}};
    resp.body = "<html>secret page</html>";
    trace_response(o, resp, {});
    auto all = joined(lines);
    CHECK(all.find('\x1b') == std::string::npos);
    CHECK(all.find("\\x1b") != std::string::npos);
    CHECK(all.find("[24 bytes, not shown]") != std::string::npos);
}
