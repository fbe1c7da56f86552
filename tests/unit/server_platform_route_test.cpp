// latch-idp platforms: names, --host values, and which platform a request target + Host
// header reaches (flows/server/platform_route.hpp), hostile inputs included; the cookies of
// a platform under a path prefix.
#include <latchkey/flows/server/ops_text.hpp>
#include <latchkey/flows/server/platform_route.hpp>
#include <latchkey/flows/server/session.hpp>

#include <catch2/catch.hpp>

using namespace latchkey::flows::server;

namespace {

const std::vector<platform_entry> table{{"acme", ""}, {"beta", ""}, {"gamma", "auth.gamma.example"}};

// "NAME TARGET" of the match, or "none".
std::string routed(std::string_view target, std::string_view host = "127.0.0.1:8080") {
    auto m = route_platform(target, host, table);
    return m ? table[m->index].name + " " + m->target : "none";
}

}  // namespace

TEST_CASE("platform names: 1-32 of [a-z0-9-], no '-' at either end", "[unit][server][platforms]") {
    CHECK(valid_platform_name("acme"));
    CHECK(valid_platform_name("k3m9p2xw7q"));
    CHECK(valid_platform_name("a-b"));
    CHECK(valid_platform_name(std::string(32, 'a')));
    CHECK_FALSE(valid_platform_name(std::string(33, 'a')));
    CHECK_FALSE(valid_platform_name(""));
    CHECK_FALSE(valid_platform_name("Acme"));
    CHECK_FALSE(valid_platform_name("-acme"));
    CHECK_FALSE(valid_platform_name("acme-"));
    CHECK_FALSE(valid_platform_name(".."));
    CHECK_FALSE(valid_platform_name("a.b"));
    CHECK_FALSE(valid_platform_name("a/b"));
    CHECK_FALSE(valid_platform_name("a_b"));
    CHECK_FALSE(valid_platform_name("a%2F"));
}

TEST_CASE("platform hosts: DNS names, lowercased, optional port", "[unit][server][platforms]") {
    CHECK(canonical_platform_host("Auth.Acme.Example") == "auth.acme.example");
    CHECK(canonical_platform_host("auth.acme.example:8443") == "auth.acme.example:8443");
    CHECK(canonical_platform_host("localhost") == "localhost");
    CHECK_FALSE(canonical_platform_host(""));
    CHECK_FALSE(canonical_platform_host("auth..example"));
    CHECK_FALSE(canonical_platform_host("-auth.example"));
    CHECK_FALSE(canonical_platform_host("auth.example:"));
    CHECK_FALSE(canonical_platform_host("auth.example:x"));
    CHECK_FALSE(canonical_platform_host("auth example"));
    CHECK_FALSE(canonical_platform_host("auth.example/p"));
    CHECK_FALSE(canonical_platform_host("user@auth.example"));
    CHECK(host_name_of("AUTH.Gamma.example:8080") == "auth.gamma.example");
    CHECK(host_name_of("auth.gamma.example.") == "auth.gamma.example");
    CHECK(host_name_of("[::1]:8080") == "[::1]");
    CHECK(host_name_of("[::1]x").empty());
    CHECK(host_name_of("a:b").empty());
    CHECK(host_name_of("").empty());
}

TEST_CASE("route: /p/NAME/ reaches the platform with the rest of the target", "[unit][server][platforms]") {
    CHECK(routed("/p/acme/oauth2/token") == "acme /oauth2/token");
    CHECK(routed("/p/beta/.well-known/openid-configuration") == "beta /.well-known/openid-configuration");
    CHECK(routed("/p/acme/device?user_code=ABCD-EFGH") == "acme /device?user_code=ABCD-EFGH");
    CHECK(routed("/p/acme/api/auth/get-session") == "acme /api/auth/get-session");
    CHECK(routed("/p/acme") == "acme /");
    CHECK(routed("/p/acme?x=1") == "acme /?x=1");
    CHECK(routed("/p/acme/") == "acme /");
    // A query may hold anything: it is the platform's to parse.
    CHECK(routed("/p/acme/oauth2/authorize?redirect_uri=http://x/../y") ==
          "acme /oauth2/authorize?redirect_uri=http://x/../y");
}

TEST_CASE("route: unknown or hostile prefixes reach nothing", "[unit][server][platforms]") {
    CHECK(routed("/p/nope/oauth2/token") == "none");
    CHECK(routed("/p/ACME/oauth2/token") == "none");  // names are lowercase; paths are case-sensitive
    CHECK(routed("/P/acme/oauth2/token") == "none");
    CHECK(routed("/p/../oauth2/token") == "none");
    CHECK(routed("/p/./acme/oauth2/token") == "none");
    CHECK(routed("/p/acme%2F..") == "none");
    CHECK(routed("/p/acme%2F../beta/oauth2/token") == "none");
    CHECK(routed("/p/acme/../beta/oauth2/token") == "none");
    CHECK(routed("/p/acme/%2e%2e/beta/oauth2/token") == "none");
    CHECK(routed("/p/acme/.%2E/beta/oauth2/token") == "none");
    CHECK(routed("/p/acme/./oauth2/token") == "none");
    CHECK(routed("/p/acme/oauth2/..") == "none");
    CHECK(routed("/p/acme//oauth2/token") == "none");
    CHECK(routed("/p/acme/oauth2//token") == "none");
    CHECK(routed("//p/acme/oauth2/token") == "none");
    CHECK(routed("/p//acme/oauth2/token") == "none");
    CHECK(routed("/p/acme\\..\\beta/oauth2/token") == "none");
    CHECK(routed("/p/acme/oauth2\\token") == "none");
    CHECK(routed("/p/gamma/oauth2/token") == "none");  // a platform with a host is reached by it only
    CHECK(routed("/oauth2/token") == "none");
    CHECK(routed("/") == "none");
    CHECK(routed("/p/") == "none");
    CHECK(routed("/p") == "none");
    CHECK(routed("") == "none");
    CHECK(routed("*") == "none");
    CHECK(routed("http://127.0.0.1/p/acme/oauth2/token") == "none");
    CHECK(routed("/p/acme-/oauth2/token") == "none");
    CHECK(routed("/p/" + std::string(33, 'a') + "/oauth2/token") == "none");
}

TEST_CASE("route: a platform's host reaches it, with any port and case", "[unit][server][platforms]") {
    CHECK(routed("/oauth2/token", "auth.gamma.example") == "gamma /oauth2/token");
    CHECK(routed("/oauth2/token", "AUTH.GAMMA.EXAMPLE:8443") == "gamma /oauth2/token");
    CHECK(routed("/oauth2/token", "auth.gamma.example.") == "gamma /oauth2/token");
    // The host decides: under it, /p/acme/ is gamma's own path (which gamma does not have).
    CHECK(routed("/p/acme/oauth2/token", "auth.gamma.example") == "gamma /p/acme/oauth2/token");
    CHECK(routed("/oauth2/token", "evil.gamma.example") == "none");
    CHECK(routed("/oauth2/token", "auth.gamma.example.evil") == "none");
    CHECK(routed("/oauth2/token", "auth.gamma.example:x") == "none");
    CHECK(routed("/oauth2/token", "") == "none");
    CHECK(routed("//oauth2/token", "auth.gamma.example") == "none");
    CHECK(routed("/oauth2/../token", "auth.gamma.example") == "none");
    // An unknown host falls back to the path prefixes (a loopback listener's address).
    CHECK(routed("/p/acme/oauth2/token", "localhost:8080") == "acme /oauth2/token");
}

TEST_CASE("platform issuers: configured, by host, or the listener's URL + /p/NAME", "[unit][server][platforms]") {
    const platform_entry acme{"acme", ""}, gamma{"gamma", "auth.gamma.example"}, g2{"g2", "auth.g2.example:8443"};
    CHECK(platform_issuer(acme, "", "http://127.0.0.1:8080", false, 8080) == "http://127.0.0.1:8080/p/acme");
    CHECK(platform_issuer(gamma, "", "https://0.0.0.0:443", true, 443) == "https://auth.gamma.example");
    CHECK(platform_issuer(gamma, "", "http://127.0.0.1:8080", false, 8080) == "http://auth.gamma.example:8080");
    CHECK(platform_issuer(g2, "", "https://0.0.0.0:9443", true, 9443) == "https://auth.g2.example:8443");
    CHECK(platform_issuer(acme, "https://id.acme.example/", "http://127.0.0.1:8080", false, 8080) ==
          "https://id.acme.example");
}

TEST_CASE("cookies of a platform under /p/NAME/: own names and Path", "[unit][server][platforms]") {
    const cookie_scope plain{};
    CHECK(session_cookie_name(plain) == session_cookie_name(false));
    CHECK(session_set_cookie(plain, "t", 60) == session_set_cookie(false, "t", 60));
    CHECK(auth_set_cookie(cookie_scope{true}, "two_factor", "v", 5) == auth_set_cookie(true, "two_factor", "v", 5));
    const cookie_scope acme{false, "p-acme", "/p/acme/"};
    CHECK(session_cookie_name(acme) == "p-acme.session_token");
    CHECK(session_set_cookie(acme, "t", std::nullopt) == "p-acme.session_token=t; Path=/p/acme/; HttpOnly; SameSite=Lax");
    CHECK(session_clear_cookie(acme) == "p-acme.session_token=; Max-Age=0; Path=/p/acme/; HttpOnly; SameSite=Lax");
    const cookie_scope secure{true, "p-acme", "/p/acme/"};
    CHECK(auth_set_cookie(secure, "trust_device", "v", 9) ==
          "__Secure-p-acme.trust_device=v; Max-Age=9; Path=/p/acme/; HttpOnly; SameSite=Lax; Secure");
}

TEST_CASE("metrics: a common label goes first on every sample", "[unit][server][platforms]") {
    prometheus_text t;
    t.family("x_total", "counter", "X.");
    t.set_common_label("platform", "acme");
    t.sample("x_total", {{"route", "token"}}, std::uint64_t{3});
    t.sample("x_total", {}, std::uint64_t{1});
    t.set_common_label("platform", {});
    t.sample("x_total", {}, std::uint64_t{2});
    CHECK(t.text() ==
          "# HELP x_total X.\n# TYPE x_total counter\n"
          "x_total{platform=\"acme\",route=\"token\"} 3\nx_total{platform=\"acme\"} 1\nx_total 2\n");
}
