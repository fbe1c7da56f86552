// latch-idp: the authorization endpoint's checks (RFC 6749 §4.1.2.1: which errors may be
// redirected), redirects with RFC 9207 iss, ID token claims.
#include <latchkey/flows/server/authorize.hpp>

#include <latchkey/core/pkce.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows::server;

namespace {

client_record cli() {
    client_record c;
    c.client_id = "cli";
    c.redirect_uris = {"http://127.0.0.1/callback"};
    c.grant_types = {"authorization_code"};
    c.scope = "openid offline_access";
    return c;
}

std::string query(std::string_view extra = "") {
    return "client_id=cli&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2Fcallback&state=s&nonce=n"
           "&code_challenge=" + pkce_challenge(make_pkce_verifier()) + "&code_challenge_method=S256" + std::string(extra);
}

result<authorize_request> check(const std::string& q, const client_record* c, authorize_error& err) {
    auto f = form::parse(q);
    REQUIRE(f.has_value());
    return check_authorize(*f, c, err);
}

}  // namespace

TEST_CASE("a good authorization request is remembered as sent", "[unit][server][authorize]") {
    authorize_error err;
    const auto c = cli();
    auto r = check(query("&scope=openid"), &c, err);
    REQUIRE(r.has_value());
    CHECK(r->redirect_uri == "http://127.0.0.1:5000/callback");  // the port as sent (RFC 8252 §7.3)
    CHECK(r->state == "s");
    CHECK(r->nonce == "n");
    CHECK(r->scope == "openid");
    CHECK(r->code_challenge.size() == 43);
}

TEST_CASE("untrusted client or redirect URI: shown, never redirected", "[unit][server][authorize]") {
    authorize_error err;
    const auto c = cli();
    CHECK_FALSE(check(query(), nullptr, err).has_value());
    CHECK_FALSE(err.redirect);
    auto bad_uri = std::string("client_id=cli&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2Fcallback");
    CHECK_FALSE(check(bad_uri, &c, err).has_value());
    CHECK_FALSE(err.redirect);
    CHECK(err.message == "redirect_uri is not registered for this client");
    CHECK_FALSE(check("client_id=cli&response_type=code", &c, err).has_value());  // redirect_uri required
    CHECK_FALSE(err.redirect);
}

TEST_CASE("other errors go back to the client", "[unit][server][authorize]") {
    authorize_error err;
    auto c = cli();
    auto q = query();
    CHECK_FALSE(check(q.replace(q.find("response_type=code"), 18, "response_type=token"), &c, err).has_value());
    CHECK(err.redirect);
    CHECK(err.ec == oauth_errc::unsupported_response_type);
    CHECK_FALSE(check(query("&scope=admin"), &c, err).has_value());
    CHECK(err.ec == oauth_errc::invalid_scope);
    CHECK(err.redirect);
    auto no_pkce = std::string("client_id=cli&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%2Fcallback");
    CHECK_FALSE(check(no_pkce, &c, err).has_value());  // public client: PKCE required
    CHECK(err.ec == oauth_errc::invalid_request);
    c.grant_types = {"client_credentials"};
    CHECK_FALSE(check(query(), &c, err).has_value());
    CHECK(err.ec == oauth_errc::unauthorized_client);
}

TEST_CASE("redirects append form-encoded parameters to the client's query", "[unit][server][authorize]") {
    CHECK(redirect_with("http://127.0.0.1:5000/callback", {{"code", "a b"}, {"state", "s&t"}, {"iss", "http://i"}}) ==
          "http://127.0.0.1:5000/callback?code=a%20b&state=s%26t&iss=http://i");
    CHECK(redirect_with("https://app.example/cb?x=1", {{"code", "c"}}) == "https://app.example/cb?x=1&code=c");
}

TEST_CASE("ID token claims carry the nonce when one was sent", "[unit][server][authorize]") {
    auto c = id_token_claims("https://idp", "u1", "cli", "n-1", 1000, 3600);
    CHECK(c.at("aud") == "cli");
    CHECK(c.at("nonce") == "n-1");
    CHECK(c.at("exp").as_int64() == 4600);
    CHECK_FALSE(id_token_claims("https://idp", "u1", "cli", "", 1000, 3600).contains("nonce"));
}
