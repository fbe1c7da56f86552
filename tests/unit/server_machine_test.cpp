// latch-idp machines, the pure part: what an RFC 7591 registration may ask for, and the
// RFC 7523 checks of a client assertion (signature by a registered key, iss/sub, aud, exp,
// lifetime, jti), and that machines and secret clients cannot use each other's methods.
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jws_sign.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/flows/server/client_auth.hpp>
#include <latchkey/flows/server/client_registration.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows::server;
namespace json = boost::json;

namespace {

const std::string issuer = "https://idp.example";
const std::string token_url = issuer + "/oauth2/token";
const std::int64_t now = 1796010300;

json::object public_key_of(EVP_PKEY* key, std::string kid) { return public_jwk(key, std::move(kid)).value(); }

std::string registration(EVP_PKEY* key, json::object extra = {}) {
    json::object o{{"client_name", "ci-runner"},
                   {"grant_types", json::array{"client_credentials"}},
                   {"response_types", json::array{}},
                   {"token_endpoint_auth_method", "private_key_jwt"},
                   {"jwks", json::object{{"keys", json::array{public_key_of(key, "k1")}}}}};
    for (auto& [k, v] : extra) o[k] = v;
    return json::serialize(o);
}

client_record machine(EVP_PKEY* key) {
    client_record c;
    c.client_id = "machine-1";
    c.auth_method = "private_key_jwt";
    c.grant_types = {"client_credentials"};
    c.jwks = json::serialize(json::object{{"keys", json::array{public_key_of(key, "k1")}}});
    return c;
}

std::string assertion(EVP_PKEY* key, json::object claims) {
    return sign_jwt(key, "k1", claims).value();
}

json::object claims(std::int64_t exp = now + 60) {
    return {{"iss", "machine-1"}, {"sub", "machine-1"}, {"aud", token_url}, {"iat", now}, {"exp", exp}, {"jti", "j-1"}};
}

}  // namespace

TEST_CASE("registration: a machine's metadata is accepted; private keys, secrets, redirects refused",
          "[unit][server][machine]") {
    auto key = generate_key(key_type::ec_p256).value();
    diagnostics diag;
    auto ok = check_machine_registration(registration(key.get()), diag);
    REQUIRE(ok.has_value());
    CHECK(ok->client_name == "ci-runner");
    CHECK(ok->grant_types == std::vector<std::string>{"client_credentials"});
    CHECK(ok->jwks.find("\"kid\":\"k1\"") != std::string::npos);

    const auto refused = [&](json::object extra, std::string_view why) {
        diagnostics d;
        auto r = check_machine_registration(registration(key.get(), std::move(extra)), d);
        CHECK_FALSE(r.has_value());
        if (!r) CHECK(r.error() == make_error_code(oauth_errc::invalid_client_metadata));
        CHECK(d.client_message.find(why) != std::string::npos);
    };
    refused({{"token_endpoint_auth_method", "client_secret_basic"}}, "private_key_jwt");
    refused({{"redirect_uris", json::array{"https://evil.example/cb"}}}, "no redirect_uris");
    refused({{"grant_types", json::array{"authorization_code"}}}, "client_credentials");
    refused({{"jwks_uri", "https://evil.example/jwks"}}, "jwks_uri");
    refused({{"jwks", json::object{{"keys", json::array{}}}}}, "at least one");
    auto with_private = public_key_of(key.get(), "k1");
    with_private["d"] = "AAAA";
    refused({{"jwks", json::object{{"keys", json::array{with_private}}}}}, "private parts");
    diagnostics d;
    CHECK_FALSE(check_machine_registration("[1,2]", d).has_value());
    CHECK_FALSE(check_machine_registration("not json", d).has_value());
}

TEST_CASE("client assertion: a registered key, iss/sub, audience, expiry, lifetime, jti", "[unit][server][machine]") {
    auto key = generate_key(key_type::ec_p256).value();
    auto other = generate_key(key_type::ec_p256).value();
    const auto c = machine(key.get());
    const std::vector<std::string> audiences{token_url, issuer};
    diagnostics diag;
    auto ok = verify_client_assertion(assertion(key.get(), claims()), c, audiences, now, diag);
    REQUIRE(ok.has_value());
    CHECK(ok->jti == "j-1");
    CHECK(ok->expires_at == now + 60);

    const auto refused = [&](const std::string& jwt, std::string_view why) {
        diagnostics d;
        auto r = verify_client_assertion(jwt, c, audiences, now, d);
        CHECK_FALSE(r.has_value());
        CHECK(d.client_message.find(why) != std::string::npos);
    };
    refused(assertion(other.get(), claims()), "not signed by a registered key");
    auto wrong_sub = claims();
    wrong_sub["sub"] = "machine-2";
    refused(assertion(key.get(), wrong_sub), "iss and sub");
    auto wrong_aud = claims();
    wrong_aud["aud"] = "https://other.example/token";
    refused(assertion(key.get(), wrong_aud), "audience");
    auto aud_list = claims();
    aud_list["aud"] = json::array{"https://x.example", issuer};
    CHECK(verify_client_assertion(assertion(key.get(), aud_list), c, audiences, now, diag).has_value());
    refused(assertion(key.get(), claims(now - 120)), "expired");
    refused(assertion(key.get(), claims(now + 3600)), "too long");
    auto future = claims();
    future["iat"] = now + 600;
    refused(assertion(key.get(), future), "not valid yet");
    auto no_jti = claims();
    no_jti.erase("jti");
    refused(assertion(key.get(), no_jti), "jti");
}

TEST_CASE("client authentication: an assertion only for machines, a machine only by assertion", "[unit][server][machine]") {
    auto key = generate_key(key_type::ec_p256).value();
    const auto jwt = assertion(key.get(), claims());
    diagnostics diag;
    auto form_with = [](std::string body) { return form::parse(body).value(); };
    const std::string type = "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer";
    auto p = parse_client_auth("", form_with(type + "&client_assertion=" + jwt + "&grant_type=client_credentials"), diag);
    REQUIRE(p.has_value());
    CHECK(p->method == client_auth_method::private_key_jwt);
    CHECK(p->client_id == "machine-1");  // from the assertion's sub (RFC 7521 §4.2)
    CHECK_FALSE(authenticate_client(*p, machine(key.get()), diag));

    client_record secret_client;
    secret_client.client_id = "machine-1";
    secret_client.auth_method = "client_secret_basic";
    secret_client.secret_hash = "x";
    CHECK(authenticate_client(*p, secret_client, diag) == make_error_code(oauth_errc::invalid_client));
    auto post = parse_client_auth("", form_with("client_id=machine-1&client_secret=s"), diag);
    REQUIRE(post.has_value());
    CHECK(authenticate_client(*post, machine(key.get()), diag) == make_error_code(oauth_errc::invalid_client));

    CHECK(parse_client_auth("", form_with(type + "&client_assertion=" + jwt + "&client_id=machine-2"), diag).error() ==
          make_error_code(oauth_errc::invalid_client));
    CHECK(parse_client_auth("Basic bWFjaGluZS0xOnM=", form_with(type + "&client_assertion=" + jwt), diag).error() ==
          make_error_code(oauth_errc::invalid_request));
    CHECK(parse_client_auth("", form_with("client_assertion_type=other&client_assertion=" + jwt), diag).error() ==
          make_error_code(oauth_errc::invalid_client));
}
