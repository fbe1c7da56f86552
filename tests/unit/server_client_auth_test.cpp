// latch-idp: client authentication (RFC 6749 §2.3), form bodies and token hashing.
#include <latchkey/flows/server/client_auth.hpp>
#include <latchkey/flows/server/form.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <latchkey/core/base64url.hpp>

#include <catch2/catch.hpp>

#include <set>

using namespace latchkey;
using namespace latchkey::flows::server;

namespace {

form body(std::string_view s) {
    auto f = form::parse(s);
    REQUIRE(f);
    return *f;
}

client_record confidential(std::string_view secret_value) {
    client_record c;
    c.client_id = "svc";
    c.auth_method = "client_secret_basic";
    c.secret_hash = hash_token(secret_value);
    return c;
}

}  // namespace

TEST_CASE("form bodies: decoding, duplicates and empty values", "[unit][server][form]") {
    auto f = body("grant_type=client_credentials&scope=a+b%20c&empty=&x=%2B");
    CHECK(f.get("grant_type") == "client_credentials");
    CHECK(f.get("scope") == "a b c");
    CHECK(f.get("x") == "+");
    CHECK_FALSE(f.get("empty"));  // RFC 6749 §3.1: empty = absent
    CHECK_FALSE(f.get("missing"));
    CHECK_FALSE(form::parse("a=1&a=2"));  // §3.2: no parameter twice
    CHECK_FALSE(form::parse("a=%zz"));
    CHECK_FALSE(form::parse("a=%4"));
    CHECK(form_decode("%41%42+c") == "AB c");
}

TEST_CASE("client_secret_basic: both halves form-url-decoded (RFC 6749 §2.3.1)", "[unit][server][client_auth]") {
    diagnostics diag;
    // id "my client", secret "p:s+w%rd" as a client encodes them.
    const auto header = "Basic " + base64_encode("my+client:p%3As%2Bw%25rd");
    auto p = parse_client_auth(header, body("grant_type=client_credentials"), diag);
    REQUIRE(p.has_value());
    CHECK(p->method == client_auth_method::client_secret_basic);
    CHECK(p->client_id == "my client");
    CHECK(p->client_secret.reveal() == "p:s+w%rd");
    // The scheme name is case-insensitive; a matching body client_id is allowed.
    auto q = parse_client_auth("basic " + base64_encode("svc:pw"), body("client_id=svc"), diag);
    REQUIRE(q.has_value());
    CHECK(q->client_id == "svc");
}

TEST_CASE("client_secret_post and none", "[unit][server][client_auth]") {
    diagnostics diag;
    auto p = parse_client_auth("", body("client_id=svc&client_secret=s3cret"), diag);
    REQUIRE(p.has_value());
    CHECK(p->method == client_auth_method::client_secret_post);
    CHECK(p->client_secret.reveal() == "s3cret");
    auto n = parse_client_auth("", body("client_id=cli"), diag);
    REQUIRE(n.has_value());
    CHECK(n->method == client_auth_method::none);
    CHECK(n->client_secret.empty());
}

TEST_CASE("malformed or ambiguous client authentication is refused", "[unit][server][client_auth]") {
    diagnostics diag;
    CHECK(parse_client_auth("Bearer abc", body(""), diag).error() == oauth_errc::invalid_client);
    CHECK(parse_client_auth("Basic !!!", body(""), diag).error() == oauth_errc::invalid_client);
    CHECK(parse_client_auth("Basic " + base64_encode("nocolon"), body(""), diag).error() ==
          oauth_errc::invalid_client);
    CHECK(parse_client_auth("Basic " + base64_encode(":pw"), body(""), diag).error() ==
          oauth_errc::invalid_client);
    CHECK(parse_client_auth("Basic " + base64url_encode("svc:pw>>?"), body(""), diag).error() ==
          oauth_errc::invalid_client);  // url-safe alphabet is not Basic's
    // Two methods at once (§2.3) and a contradicting client_id.
    CHECK(parse_client_auth("Basic " + base64_encode("svc:pw"), body("client_secret=pw"), diag).error() ==
          oauth_errc::invalid_request);
    CHECK(parse_client_auth("Basic " + base64_encode("svc:pw"), body("client_id=other"), diag).error() ==
          oauth_errc::invalid_request);
    CHECK(parse_client_auth("", body("grant_type=x"), diag).error() == oauth_errc::invalid_request);
}

TEST_CASE("authenticate_client compares the secret's hash; public clients send none", "[unit][server][client_auth]") {
    diagnostics diag;
    const auto client = confidential("right-secret");
    CHECK_FALSE(authenticate_client({client_auth_method::client_secret_basic, "svc", secret("right-secret")}, client, diag));
    CHECK_FALSE(authenticate_client({client_auth_method::client_secret_post, "svc", secret("right-secret")}, client, diag));
    CHECK(authenticate_client({client_auth_method::client_secret_basic, "svc", secret("wrong")}, client, diag) ==
          oauth_errc::invalid_client);
    CHECK(authenticate_client({client_auth_method::none, "svc", {}}, client, diag) == oauth_errc::invalid_client);
    CHECK(authenticate_client({client_auth_method::client_secret_basic, "other", secret("right-secret")}, client, diag) ==
          oauth_errc::invalid_client);
    CHECK(diag.client_message == "client authentication failed");  // never says which part

    client_record pub;
    pub.client_id = "cli";
    CHECK_FALSE(authenticate_client({client_auth_method::none, "cli", {}}, pub, diag));
    CHECK(authenticate_client({client_auth_method::client_secret_post, "cli", secret("x")}, pub, diag) ==
          oauth_errc::invalid_client);
}

TEST_CASE("tokens are stored as SHA-256 hashes, never raw", "[unit][server][token_hash]") {
    // SHA-256("abc") = ba7816bf..., base64url.
    CHECK(hash_token("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) {
        auto t = make_opaque_token();
        CHECK(t.reveal().size() == 43);
        CHECK(hash_token(t.reveal()) != t.reveal());
        CHECK(token_matches_hash(t.reveal(), hash_token(t.reveal())));
        seen.insert(t.reveal());
    }
    CHECK(seen.size() == 100);
    CHECK_FALSE(token_matches_hash("abd", hash_token("abc")));
    CHECK(constant_time_equal("same", "same"));
    CHECK_FALSE(constant_time_equal("same", "samE"));
    CHECK_FALSE(constant_time_equal("same", "sam"));
}
