// transport::async_verify_id_token with its JWKS cache, against a fake IdP serving two
// versions of its key set: fetched once, refetched once on an unknown kid, then refused.
#include "support/fakes.hpp"
#include "support/lifecycle_run.hpp"
#include "unit/jose_test_support.hpp"

#include <latchkey/transport/id_token.hpp>

#include <boost/asio/io_context.hpp>

using namespace jose_test;
namespace asio = boost::asio;

namespace {

const std::string jwks_uri = "https://idp.example/jwks";

struct rig {
    asio::io_context io;
    latchkey::test::fake_http http{io.get_executor()};
    transport::jwks_cache cache;
    provider_metadata meta;
    EVP_PKEY* old_key = shared_key(key_type::ec_p256);
    EVP_PKEY* new_key = shared_key(key_type::ed25519);
    rig() {
        meta.issuer = "https://idp.example";
        meta.jwks_uri = jwks_uri;
    }
    result<json::object> verify(const std::string& token, diagnostics& diag,
                                std::optional<std::string> nonce = "n-0S6_WzA2Mj") {
        return latchkey::test::run_to_end(
            io, transport::async_verify_id_token(http, meta, "latch-cli", token, nonce,
                                                 at(t0 + 300), diag, cache));
    }
};

}  // namespace

TEST_CASE("the JWKS is fetched once and then served from the cache", "[component][jose]") {
    rig r;
    r.http.push_json(200, jwks_text({{r.old_key, "k1"}}));
    diagnostics diag;
    REQUIRE(r.verify(sign(r.old_key, "k1", good_claims()), diag).has_value());
    REQUIRE(r.verify(sign(r.old_key, "k1", good_claims()), diag).has_value());
    CHECK(r.http.requests.size() == 1);
    CHECK(r.http.requests[0].url == jwks_uri);
    CHECK(r.cache.fetches(jwks_uri) == 1);
}

TEST_CASE("a rotated key: one refetch on the unknown kid, then it verifies", "[component][jose]") {
    rig r;
    r.http.push_json(200, jwks_text({{r.old_key, "k1"}}));
    r.http.push_json(200, jwks_text({{r.old_key, "k1"}, {r.new_key, "k2"}}));
    diagnostics diag;
    REQUIRE(r.verify(sign(r.old_key, "k1", good_claims()), diag).has_value());
    auto claims = r.verify(sign(r.new_key, "k2", good_claims()), diag);
    REQUIRE(claims.has_value());
    CHECK(claims->at("sub") == "alice");
    CHECK(r.http.requests.size() == 2);
    // The new set is cached: the next token with k2 needs no request.
    REQUIRE(r.verify(sign(r.new_key, "k2", good_claims()), diag).has_value());
    CHECK(r.http.requests.size() == 2);
}

TEST_CASE("an unknown kid refetches once, never twice, then names the failure", "[component][jose]") {
    rig r;
    r.http.fallback = [&](const http_request&) {
        return latchkey::test::json_reply(200, jwks_text({{r.old_key, "k1"}}));
    };
    diagnostics diag;
    auto res = r.verify(sign(r.new_key, "made-up", good_claims()), diag);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == client_errc::id_token_invalid);
    CHECK(diag.client_message.rfind("ID token rejected: ", 0) == 0);
    CHECK(r.http.requests.size() == 2);
}

TEST_CASE("bad tokens are refused with the check named; the nonce only when sent", "[component][jose]") {
    rig r;
    r.http.push_json(200, jwks_text({{r.old_key, "k1"}}));
    diagnostics diag;
    auto other_aud = good_claims();
    other_aud["aud"] = "someone-else";
    auto res = r.verify(sign(r.old_key, "k1", other_aud), diag);
    REQUIRE_FALSE(res.has_value());
    CHECK(diag.client_message == "ID token rejected: audience does not include 'latch-cli'");
    auto other_nonce = good_claims();
    other_nonce["nonce"] = "not-ours";
    res = r.verify(sign(r.old_key, "k1", other_nonce), diag);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == client_errc::nonce_mismatch);
    CHECK(r.verify(sign(r.old_key, "k1", other_nonce), diag, std::nullopt).has_value());
    CHECK(r.http.requests.size() == 1);
}

TEST_CASE("no jwks_uri, or a JWKS endpoint that fails, is a clear error", "[component][jose]") {
    rig r;
    diagnostics diag;
    r.meta.jwks_uri.clear();
    auto res = r.verify(sign(r.old_key, "k1", good_claims()), diag);
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == client_errc::endpoint_missing);
    r.meta.jwks_uri = jwks_uri;
    r.http.push(latchkey::test::body_reply(503, "down", "text/plain"));
    res = r.verify(sign(r.old_key, "k1", good_claims()), diag);
    REQUIRE_FALSE(res.has_value());
    CHECK(diag.client_message.find("answered HTTP 503") != std::string::npos);
}
