// latch-idp: the token endpoint's pure pieces: client_credentials decisions, scopes, claims,
// error bodies and statuses, the discovery document.
#include <latchkey/flows/server/token_endpoint.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows::server;
namespace json = boost::json;

namespace {

client_record service() {
    client_record c;
    c.client_id = "svc";
    c.auth_method = "client_secret_basic";
    c.secret_hash = "x";
    c.grant_types = {"client_credentials"};
    c.scope = "api read";
    return c;
}

form body(std::string_view s) {
    return form::parse(s).value();
}

}  // namespace

TEST_CASE("client_credentials: scopes granted, narrowed or refused", "[unit][server][token]") {
    diagnostics diag;
    CHECK(decide_client_credentials(body("grant_type=client_credentials"), service(), diag).value() == "api read");
    CHECK(decide_client_credentials(body("scope=read"), service(), diag).value() == "read");
    CHECK(decide_client_credentials(body("scope=read+admin"), service(), diag).error() == oauth_errc::invalid_scope);
    auto pub = service();
    pub.auth_method = "none";
    CHECK(decide_client_credentials(body(""), pub, diag).error() == oauth_errc::unauthorized_client);
    auto no_grant = service();
    no_grant.grant_types = {"authorization_code"};
    CHECK(decide_client_credentials(body(""), no_grant, diag).error() == oauth_errc::unauthorized_client);
    CHECK(grant_scope("api  read", service(), diag).value() == "api  read");  // extra spaces tolerated
}

TEST_CASE("access token claims follow RFC 9068", "[unit][server][token]") {
    access_token_params p{"https://idp.example", "svc", "svc", "", "api", "jti-1", 1000, 3600};
    auto c = access_token_claims(p);
    CHECK(c.at("iss") == "https://idp.example");
    CHECK(c.at("aud") == "https://idp.example");  // no resource: the issuer
    CHECK(c.at("exp").as_int64() == 4600);
    CHECK(c.at("iat").as_int64() == 1000);
    CHECK(c.at("jti") == "jti-1");
    CHECK(c.at("client_id") == "svc");
    CHECK(c.at("scope") == "api");
    p.scope.clear();
    CHECK_FALSE(access_token_claims(p).contains("scope"));
}

TEST_CASE("token and error bodies, and their statuses", "[unit][server][token]") {
    auto ok = json::parse(token_response_body("tok", 60, "api")).as_object();
    CHECK(ok.at("access_token") == "tok");
    CHECK(ok.at("token_type") == "Bearer");
    CHECK(ok.at("expires_in").as_int64() == 60);
    auto err = json::parse(oauth_error_body(make_error_code(oauth_errc::invalid_scope), "nope")).as_object();
    CHECK(err.at("error") == "invalid_scope");
    CHECK(err.at("error_description") == "nope");
    CHECK(oauth_error_status(make_error_code(oauth_errc::invalid_client)) == 401);
    CHECK(oauth_error_status(make_error_code(oauth_errc::temporarily_unavailable)) == 503);
    CHECK(oauth_error_status(make_error_code(oauth_errc::server_error)) == 500);
    CHECK(oauth_error_status(make_error_code(oauth_errc::slow_down)) == 400);
}

TEST_CASE("discovery names our endpoints under the issuer", "[unit][server][token]") {
    auto d = json::parse(discovery_document("http://127.0.0.1:8080")).as_object();
    CHECK(d.at("issuer") == "http://127.0.0.1:8080");
    CHECK(d.at("token_endpoint") == "http://127.0.0.1:8080/oauth2/token");
    CHECK(d.at("device_authorization_endpoint") == "http://127.0.0.1:8080/oauth2/device_authorization");
    CHECK(d.at("jwks_uri") == "http://127.0.0.1:8080/.well-known/jwks.json");
    CHECK(d.at("code_challenge_methods_supported").as_array() == json::array{"S256"});
}
