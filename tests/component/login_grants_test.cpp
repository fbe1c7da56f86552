// transport::async_login for the non-interactive ways in: password, client credentials,
// machine (private_key_jwt), with fake HTTP and virtual time.
#include "login_support.hpp"

#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/transport/http_client.hpp>

using namespace login_test;
using transport::login_way;

namespace {

const http_request* token_request(const rig& r) {
    for (const auto& q : r.http.requests)
        if (q.url == issuer + "/token") return &q;
    return nullptr;
}

std::string header(const http_request& q, std::string_view name) {
    for (const auto& [k, v] : q.headers)
        if (k == name) return v;
    return {};
}

// A prompt that answers from a script.
class fake_prompt final : public transport::credentials_prompt {
public:
    asio::awaitable<std::optional<std::string>> async_prompt(std::string prompt, bool echo) override {
        asked.emplace_back(std::move(prompt), echo);
        if (answers.empty()) co_return std::nullopt;
        auto a = answers.front();
        answers.erase(answers.begin());
        co_return a;
    }
    std::vector<std::pair<std::string, bool>> asked;
    std::vector<std::string> answers;
};

}  // namespace

TEST_CASE("login: client credentials send the secret with Basic auth and no default scope", "[component][login]") {
    rig r;
    transport::login_options o;
    o.way = login_way::client_credentials;
    o.client_secret = secret{"s3cret"};
    o.send_scope = false;
    diagnostics diag;
    auto got = r.login(o, {r.user}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::client_credentials);
    CHECK(got->who.subject == "latch-cli");  // no user: the client
    const auto* q = token_request(r);
    REQUIRE(q);
    CHECK(q->body.find("grant_type=client_credentials") != std::string::npos);
    CHECK(q->body.find("scope") == std::string::npos);
    CHECK(header(*q, "Authorization").rfind("Basic ", 0) == 0);
    // Without a secret: refused before anything is sent to the token endpoint.
    rig none;
    o.client_secret.reset();
    auto refused = none.login(o, {none.user}, diag);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == client_errc::config_missing);
    CHECK(token_request(none) == nullptr);
}

TEST_CASE("login: password grant asks through the prompt port, warns, never echoes the password", "[component][login]") {
    rig r;
    fake_prompt prompt;
    prompt.answers = {"alice", "pw"};
    transport::login_options o;
    o.way = login_way::password;
    diagnostics diag;
    auto got = r.login(o, {r.user, nullptr, nullptr, &prompt}, diag);
    REQUIRE(got);
    CHECK(got->method == login_method::password);
    REQUIRE(prompt.asked.size() == 2);
    CHECK(prompt.asked[0] == std::pair<std::string, bool>{"Username: ", true});
    CHECK(prompt.asked[1] == std::pair<std::string, bool>{"Password: ", false});
    REQUIRE(r.user.warnings.size() == 1);
    CHECK(r.user.warnings[0].find("bypasses MFA") != std::string::npos);
    const auto* q = token_request(r);
    REQUIRE(q);
    CHECK(q->body.find("username=alice") != std::string::npos);
    // No prompt port and nothing given: a clear error, nothing sent.
    rig bare;
    auto refused = bare.login(o, {bare.user}, diag);
    REQUIRE_FALSE(refused);
    CHECK(refused.error() == client_errc::config_missing);
    CHECK(token_request(bare) == nullptr);
}

TEST_CASE("login: machine signs a client assertion for the token endpoint", "[component][login]") {
    rig r;
    auto key = generate_key(key_type::ec_p256);
    REQUIRE(key);
    auto kid = jwk_thumbprint(key->get());
    REQUIRE(kid);
    transport::login_options o;
    o.way = login_way::machine;
    o.key = {key->get(), *kid, "the test key"};
    o.timeout = std::chrono::seconds{120};
    r.cfg.scopes.clear();
    // Real time for the bound (virtual time would reach it at once).
    transport::real_clock clock(r.io.get_executor());
    transport::client_services client(r.http, clock);
    diagnostics diag;
    auto got = test::run_to_end(r.io, transport::async_login(client, r.cfg, o, {r.user}, diag));
    REQUIRE(got);
    CHECK(got->method == login_method::machine);
    CHECK(got->who.subject == "latch-cli");
    const auto* q = token_request(r);
    REQUIRE(q);
    CHECK(q->body.find("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer") != std::string::npos);
    CHECK(header(*q, "Authorization").empty());  // no secret
}

TEST_CASE("login: machine login gives up at its time bound", "[component][login][race]") {
    rig r;
    auto key = generate_key(key_type::ec_p256);
    REQUIRE(key);
    transport::login_options o;
    o.way = login_way::machine;
    o.key = {key->get(), "kid", "the test key"};
    o.timeout = std::chrono::seconds{15};
    // On virtual time the bound passes before the IdP's first answer arrives.
    diagnostics diag;
    auto got = r.login(o, {r.user}, diag);
    REQUIRE_FALSE(got);
    CHECK(got.error() == client_errc::timeout);
    CHECK(diag.client_message.rfind("silent login timed out after 15 s", 0) == 0);
}

// RFC 9449 §8: the IdP answers the first proof with the nonce challenge; latch retries once
// with a new assertion and a proof carrying that nonce, and remembers it for the issuer.
TEST_CASE("login: machine answers the DPoP nonce challenge once", "[component][login][dpop]") {
    for (const bool challenged_twice : {false, true}) {
        rig r;
        auto key = generate_key(key_type::ec_p256);
        REQUIRE(key);
        transport::login_options o;
        o.way = login_way::machine;
        o.key = {key->get(), "kid", "the test key"};
        o.timeout = std::chrono::seconds{120};
        o.dpop = true;  // the rig's discovery does not advertise DPoP
        r.cfg.scopes.clear();
        int token_posts = 0;
        r.http.fallback = [&](const http_request& q) {
            if (q.url != issuer + "/token") return r.route(q);
            ++token_posts;
            if (token_posts == 1 || challenged_twice) {
                auto reply = test::json_reply(400, R"({"error":"use_dpop_nonce"})");
                reply.response.headers.emplace_back("DPoP-Nonce", "n-" + std::to_string(token_posts));
                return reply;
            }
            return test::json_reply(200, R"({"access_token":"at","token_type":"DPoP","expires_in":300})");
        };
        transport::real_clock clock(r.io.get_executor());
        transport::client_services client(r.http, clock);
        diagnostics diag;
        auto got = test::run_to_end(r.io, transport::async_login(client, r.cfg, o, {r.user}, diag));
        CHECK(token_posts == 2);  // never a third
        CHECK(client.dpop_nonces[issuer] == (challenged_twice ? "n-2" : "n-1"));  // the latest one
        std::vector<const http_request*> posts;
        for (const auto& q : r.http.requests)
            if (q.url == issuer + "/token") posts.push_back(&q);
        REQUIRE(posts.size() == 2);
        auto first = decode_jwt_claims_unverified(header(*posts[0], "DPoP"));
        auto second = decode_jwt_claims_unverified(header(*posts[1], "DPoP"));
        REQUIRE((first && second));
        CHECK_FALSE(first->contains("nonce"));
        CHECK(second->at("nonce").as_string() == "n-1");
        CHECK(second->at("htu").as_string() == issuer + "/token");
        CHECK(posts[0]->body != posts[1]->body);  // a new client assertion
        if (challenged_twice) {
            REQUIRE_FALSE(got);
            CHECK(got.error() == oauth_errc::use_dpop_nonce);
        } else {
            REQUIRE(got);
            CHECK(got->tokens.token_type == "DPoP");
        }
    }
}
