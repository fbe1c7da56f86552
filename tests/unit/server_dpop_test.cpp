// DPoP (RFC 9449): the client's proof builder (core/dpop.hpp) against the server's checks
// (flows/server/dpop.hpp), every hostile proof refused with invalid_dpop_proof and a reason,
// the stateless nonces on a fake clock, and the binding of a token to its key at a resource.
#include "jose_test_support.hpp"

#include <latchkey/core/dpop.hpp>
#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/dpop.hpp>
#include <latchkey/transport/dpop.hpp>

#include <boost/json.hpp>

using namespace latchkey;
using namespace latchkey::flows::server;
using jose_test::shared_key;
using jose_test::t0;
namespace json = boost::json;

namespace {

constexpr std::string_view token_url = "https://idp.example/oauth2/token";

dpop_expect at_token_endpoint(std::int64_t now = t0) { return dpop_expect{"POST", token_url, now, {}}; }

std::string proof(EVP_PKEY* key, dpop_proof_request r = {"POST", std::string(token_url), t0, "", ""}) {
    auto p = make_dpop_proof(key, r);
    REQUIRE(p);
    return *p;
}

// A proof with an arbitrary header and claims, signed by `key` (its jwk added unless given).
std::string forged(EVP_PKEY* key, json::object header, json::object claims) {
    if (!header.contains("jwk")) {
        auto jwk = public_jwk(key, "k");
        REQUIRE(jwk);
        header["jwk"] = *jwk;
    }
    auto t = sign_jws(key, std::move(header), claims);
    REQUIRE(t);
    return *t;
}

json::object good_claims() {
    return {{"jti", "j-1"}, {"htm", "POST"}, {"htu", std::string(token_url)}, {"iat", t0}};
}

std::string refusal(std::string_view p, const dpop_expect& e = at_token_endpoint()) {
    diagnostics diag;
    auto r = verify_dpop_proof(p, e, diag);
    REQUIRE_FALSE(r);
    CHECK(r.error() == oauth_errc::invalid_dpop_proof);
    CHECK(diag.client_message.find('\n') == std::string::npos);
    return diag.client_message;
}

std::string b64(std::string_view s) { return base64url_encode(s); }

}  // namespace

TEST_CASE("dpop: a proof from the builder verifies; jkt is the key's thumbprint", "[unit][server][dpop]") {
    for (auto type : {key_type::ec_p256, key_type::rsa_2048}) {
        EVP_PKEY* key = shared_key(type);
        // The URL's query and fragment are dropped from htu (§4.2).
        const auto p = proof(key, {"POST", std::string(token_url) + "?x=1#f", t0, "n0nce", ""});
        diagnostics diag;
        auto v = verify_dpop_proof(p, at_token_endpoint(t0 + 10), diag);
        REQUIRE(v);
        CHECK(v->jkt == *jwk_thumbprint(key));
        CHECK(v->nonce == "n0nce");
        CHECK(v->jti.size() >= 16);
        CHECK(v->remember_until == t0 + dpop_max_age + dpop_max_ahead);
        auto parsed = parse_jws(p, diag);
        REQUIRE(parsed);
        CHECK(parsed->header.at("typ") == "dpop+jwt");
        CHECK_FALSE(parsed->header.at("jwk").as_object().contains("d"));
    }
    // Two proofs never share a jti.
    diagnostics diag;
    auto a = verify_dpop_proof(proof(shared_key(key_type::ec_p256)), at_token_endpoint(), diag);
    auto b = verify_dpop_proof(proof(shared_key(key_type::ec_p256)), at_token_endpoint(), diag);
    REQUIRE((a && b));
    CHECK(a->jti != b->jti);
}

TEST_CASE("dpop: malformed and hostile proofs are refused (RFC 9449 §4.3)", "[unit][server][dpop]") {
    EVP_PKEY* ec = shared_key(key_type::ec_p256);
    EVP_PKEY* rsa = shared_key(key_type::rsa_2048);
    const json::object hdr{{"typ", "dpop+jwt"}};
    CHECK(refusal("") .find("compact JWS") != std::string::npos);
    CHECK(refusal("a.b") .find("compact JWS") != std::string::npos);
    CHECK(refusal("!!!.@@@.###").find("compact JWS") != std::string::npos);  // bad base64
    CHECK(refusal(b64("{not json") + "." + b64("{}") + ".AA").find("compact JWS") != std::string::npos);
    CHECK(refusal(std::string(max_dpop_proof_size + 1, 'A')).find("too large") != std::string::npos);
    CHECK(refusal(forged(ec, {{"typ", "JWT"}}, good_claims())).find("typ") != std::string::npos);
    CHECK(refusal(forged(ec, {}, good_claims())).find("typ") != std::string::npos);
    // alg none: an unsigned proof naming a key.
    auto jwk = *public_jwk(ec, "k");
    const auto none = b64(json::serialize(json::object{{"typ", "dpop+jwt"}, {"alg", "none"}, {"jwk", jwk}})) + "." +
                      b64(json::serialize(good_claims())) + ".";
    CHECK(refusal(none).find("alg") != std::string::npos);
    // HS256 with the "key" in the header.
    const auto hs = b64(json::serialize(json::object{{"typ", "dpop+jwt"}, {"alg", "HS256"},
                                                     {"jwk", {{"kty", "oct"}, {"k", "c2VjcmV0"}}}})) +
                    "." + b64(json::serialize(good_claims())) + ".c2ln";
    CHECK(refusal(hs).find("alg") != std::string::npos);
    // A private key in the jwk.
    auto priv = jwk;
    priv["d"] = "AAAA";
    CHECK(refusal(forged(ec, {{"typ", "dpop+jwt"}, {"jwk", priv}}, good_claims())).find("private") != std::string::npos);
    // No jwk, a jwk of another type than the alg, a jwk that is not the signer's.
    CHECK(refusal(forged(ec, {{"typ", "dpop+jwt"}, {"jwk", "x"}}, good_claims())).find("jwk") != std::string::npos);
    CHECK(refusal(forged(ec, {{"typ", "dpop+jwt"}, {"jwk", *public_jwk(rsa, "r")}}, good_claims()))
              .find("alg") != std::string::npos);
    auto other = generate_key(key_type::ec_p256);
    REQUIRE(other);
    CHECK(refusal(forged(ec, {{"typ", "dpop+jwt"}, {"jwk", *public_jwk(other->get(), "o")}}, good_claims()))
              .find("signature") != std::string::npos);
    // A huge header: refused before any parsing.
    json::object big = hdr;
    big["pad"] = std::string(max_dpop_proof_size, 'x');
    CHECK(refusal(forged(ec, big, good_claims())).find("too large") != std::string::npos);
}

TEST_CASE("dpop: htm, htu, iat, jti and ath are checked", "[unit][server][dpop]") {
    EVP_PKEY* ec = shared_key(key_type::ec_p256);
    const json::object hdr{{"typ", "dpop+jwt"}};
    auto with = [&](std::string_view name, json::value v) {
        auto c = good_claims();
        if (v.is_null()) c.erase(name);
        else c[name] = v;
        return forged(ec, hdr, c);
    };
    CHECK(refusal(with("htm", "GET")).find("htm") != std::string::npos);
    CHECK(refusal(with("htu", "https://idp.example/oauth2/token2")).find("htu") != std::string::npos);
    CHECK(refusal(with("htu", "https://evil.example/oauth2/token")).find("htu") != std::string::npos);
    CHECK(refusal(with("htu", nullptr)).find("htu") != std::string::npos);
    CHECK(refusal(with("iat", t0 - dpop_max_age - 1)).find("too old") != std::string::npos);
    CHECK(refusal(with("iat", t0 + dpop_max_ahead + 1)).find("future") != std::string::npos);
    CHECK(refusal(with("iat", "now")).find("iat") != std::string::npos);
    CHECK(refusal(with("jti", nullptr)).find("jti") != std::string::npos);
    CHECK(refusal(with("jti", json::string(std::string(257, 'j')))).find("jti") != std::string::npos);
    CHECK(refusal(with("nonce", 5)).find("nonce") != std::string::npos);
    CHECK(refusal(with("ath", "x")).find("ath") != std::string::npos);  // none expected here
    // Edges of the window are accepted.
    diagnostics diag;
    CHECK(verify_dpop_proof(with("iat", t0 - dpop_max_age), at_token_endpoint(), diag));
    CHECK(verify_dpop_proof(with("iat", t0 + dpop_max_ahead), at_token_endpoint(), diag));

    // At a resource: ath must be the hash of the presented token.
    const std::string url = "https://idp.example/oauth2/userinfo";
    const dpop_expect res{"GET", url, t0, "the-token"};
    auto good = make_dpop_proof(ec, {"GET", url, t0, "", "the-token"});
    REQUIRE(good);
    CHECK(verify_dpop_proof(*good, res, diag));
    auto wrong = make_dpop_proof(ec, {"GET", url, t0, "", "another-token"});
    CHECK(refusal(*wrong, res).find("ath") != std::string::npos);
    auto missing = make_dpop_proof(ec, {"GET", url, t0, "", ""});
    CHECK(refusal(*missing, res).find("ath") != std::string::npos);
    // RFC 9449 §7.1's example.
    CHECK(dpop_ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU") == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
}

TEST_CASE("dpop: stateless nonces, accepted for one more period, shared by replicas", "[unit][server][dpop]") {
    const auto key = dpop_nonce_key("secret-key-of-DATA");
    const auto replica_key = dpop_nonce_key("secret-key-of-DATA");
    const std::int64_t start = t0 - t0 % dpop_nonce_period;  // the start of a period
    const auto n = make_dpop_nonce(key, start);
    CHECK(n == make_dpop_nonce(replica_key, start + 17));
    CHECK(dpop_nonce_valid(replica_key, n, start));
    CHECK(dpop_nonce_valid(key, n, start + dpop_nonce_period - 1));
    CHECK(dpop_nonce_valid(key, n, start + 2 * dpop_nonce_period - 1));  // the previous period's
    CHECK_FALSE(dpop_nonce_valid(key, n, start + 2 * dpop_nonce_period));
    CHECK_FALSE(dpop_nonce_valid(key, n, start - 1));  // from the future
    CHECK_FALSE(dpop_nonce_valid(key, "", start));
    CHECK_FALSE(dpop_nonce_valid(dpop_nonce_key("another server"), n, start));
    CHECK(make_dpop_nonce(key, start + dpop_nonce_period) != n);
}

TEST_CASE("dpop: a bound token needs the DPoP scheme and a proof by its key (§7.1)", "[unit][server][dpop]") {
    CHECK(parse_resource_authorization("Bearer abc")->token == "abc");
    CHECK_FALSE(parse_resource_authorization("Bearer abc")->dpop);
    CHECK(parse_resource_authorization("dpop abc")->dpop);
    CHECK_FALSE(parse_resource_authorization("Basic abc"));
    CHECK_FALSE(parse_resource_authorization("DPoP"));
    CHECK_FALSE(parse_resource_authorization(""));

    verified_dpop mine{"jkt-A", "j", "", 0};
    verified_dpop theirs{"jkt-B", "j", "", 0};
    const presented_token as_dpop{true, "t"}, as_bearer{false, "t"};
    diagnostics diag;
    CHECK_FALSE(check_token_binding("jkt-A", as_dpop, &mine, diag));
    CHECK(check_token_binding("jkt-A", as_bearer, &mine, diag) == oauth_errc::invalid_token);
    CHECK(check_token_binding("jkt-A", as_dpop, nullptr, diag) == oauth_errc::invalid_dpop_proof);
    CHECK(check_token_binding("jkt-A", as_dpop, &theirs, diag) == oauth_errc::invalid_dpop_proof);
    CHECK_FALSE(check_token_binding("", as_bearer, nullptr, diag));
    CHECK(check_token_binding("", as_dpop, &mine, diag) == oauth_errc::invalid_token);
}

TEST_CASE("dpop: the client sends proofs when the IdP advertises the key's alg, or when forced",
          "[unit][dpop][client]") {
    http_response disc;
    disc.status = 200;
    disc.content_type = "application/json";
    disc.body = R"({"issuer":"https://idp.example","token_endpoint":"https://idp.example/oauth2/token",)"
                R"("dpop_signing_alg_values_supported":["ES256"]})";
    diagnostics diag;
    auto meta = parse_provider_metadata(disc, "https://idp.example", diag);
    REQUIRE(meta);
    CHECK(meta->dpop_signing_alg_values_supported == std::vector<std::string>{"ES256"});
    CHECK(transport::dpop_wanted(*meta, shared_key(key_type::ec_p256), false));
    CHECK_FALSE(transport::dpop_wanted(*meta, shared_key(key_type::rsa_2048), false));  // RS256 not listed
    CHECK(transport::dpop_wanted(*meta, shared_key(key_type::rsa_2048), true));
    CHECK_FALSE(transport::dpop_wanted(provider_metadata{}, shared_key(key_type::ec_p256), false));
}
