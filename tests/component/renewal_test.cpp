// token_source renewing client-credentials and machine (private_key_jwt) contexts, and a
// confidential client's refresh, against the in-memory IdP (support/lifecycle_fakes.hpp):
// the same single-flight, lock and "store untouched on failure" guarantees as a refresh.
#include "support/lifecycle_fakes.hpp"
#include "support/lifecycle_run.hpp"

#include <latchkey/core/base64url.hpp>
#include <latchkey/core/jwk.hpp>
#include <latchkey/core/jwt.hpp>
#include <latchkey/core/pkey.hpp>
#include <latchkey/transport/renewal.hpp>
#include <latchkey/transport/token_source.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <set>

using namespace latchkey;
using namespace latchkey::transport;
using latchkey::test::fake_idp;
using latchkey::test::form_field;
using latchkey::test::run_to_end;
using latchkey::test::temp_store;
namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

const std::string issuer = "http://127.0.0.1:1";

std::string header(const http_request& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
        if (k == name) return v;
    return {};
}

struct fixture {
    asio::io_context io;
    fake_idp idp{io.get_executor(), issuer};
    test::counting_clock clock{io.get_executor()};
    temp_store home;
    pkey_ptr key = std::move(generate_key(key_type::ec_p256).value());
    std::size_t secrets_asked = 0;
    bool have_secret = true;

    // A context of `method` whose access token expired `ago` (no refresh token).
    void save(login_method method, seconds lifetime = seconds{-10},
              const std::string& refresh = "") {
        home.save("old", refresh, lifetime, issuer);
        auto c = home.load();
        c.method = method;
        c.client_id = method == login_method::machine ? "machine-1" : "latch-service";
        c.tokens.scope = "";
        diagnostics d;
        REQUIRE_FALSE(home.store.save(c, d));
    }
    client_auth_sources sources() {
        client_auth_sources s;
        s.client_secret = [this](const stored_credentials&, diagnostics& d)
            -> result<std::optional<secret>> {
            ++secrets_asked;
            if (!have_secret) {
                d.client_message = "set LATCH_CLIENT_SECRET";
                return client_errc::config_missing;
            }
            return std::optional<secret>(secret{"s3cret"});
        };
        s.machine_key = [this](const stored_credentials&, diagnostics& d) -> result<signing_key> {
            auto copy = read_private_key_pem(private_key_pem(key.get())->reveal(), d);
            if (!copy) return copy.error();
            return signing_key{std::move(*copy), "kid-1", "the test key"};
        };
        return s;
    }
    token_source make() {
        token_source_options o;
        o.token_endpoint = idp.token_endpoint();
        o.auth = sources();
        return token_source(io.get_executor(), idp, clock, home.store, "default", std::move(o));
    }
};

asio::awaitable<void> async_caller(token_source* src, std::map<std::string, int>* seen) {
    diagnostics diag;
    auto tok = co_await src->token(diag);
    ++(*seen)[tok ? tok->reveal() : "error: " + tok.error().message()];
}

asio::awaitable<result<secret>> async_token(token_source* src, diagnostics* diag) {
    co_return co_await src->token(*diag);
}

asio::awaitable<result<token_set>> force_refresh_of(token_source* src, diagnostics* diag) {
    co_return co_await src->force_refresh(*diag);
}

void run_many(fixture& f, token_source& src, int n, std::map<std::string, int>& seen) {
    f.idp.latency = milliseconds{20};
    for (int i = 0; i < n; ++i) asio::co_spawn(f.io, async_caller(&src, &seen), asio::detached);
    f.io.run();
}

}  // namespace

TEST_CASE("10,000 concurrent token() calls in a machine context send exactly 1 grant",
          "[component][renewal]") {
    fixture f;
    f.save(login_method::machine);
    auto src = f.make();
    std::map<std::string, int> seen;
    run_many(f, src, 10'000, seen);

    CHECK(f.idp.grant_requests == 1);
    CHECK(f.idp.refresh_requests == 0);
    REQUIRE(seen.size() == 1);
    CHECK(seen.begin()->first == "cc-1");
    CHECK(seen.begin()->second == 10'000);
    auto stored = f.home.load();
    CHECK(stored.tokens.access_token.reveal() == "cc-1");
    CHECK(stored.method == login_method::machine);
    const auto& req = f.idp.requests.back();
    CHECK(form_field(req, "client_assertion_type") ==
          "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer");
    CHECK(header(req, "Authorization").empty());
}

TEST_CASE("10,000 concurrent token() calls in a client-credentials context send 1 grant",
          "[component][renewal]") {
    fixture f;
    f.save(login_method::client_credentials);
    auto src = f.make();
    std::map<std::string, int> seen;
    run_many(f, src, 10'000, seen);

    CHECK(f.idp.grant_requests == 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen.begin()->first == "cc-1");
    CHECK(f.secrets_asked == 1);
    const auto& req = f.idp.requests.back();
    // RFC 6749 §2.3.1: HTTP Basic with the form-encoded id and secret; no secret in the body.
    CHECK(header(req, "Authorization") == "Basic " + base64_encode("latch-service:s3cret"));
    CHECK(form_field(req, "client_secret").empty());
    CHECK(f.home.load().tokens.access_token.reveal() == "cc-1");
}

TEST_CASE("two sources (two 'processes') of a machine context: 1 grant, the second adopts",
          "[component][renewal]") {
    fixture f;
    f.save(login_method::machine);
    auto first = f.make();
    auto second = f.make();  // its own flight; only the file lock is shared
    std::map<std::string, int> seen;
    f.idp.latency = milliseconds{20};
    for (int i = 0; i < 100; ++i) {
        asio::co_spawn(f.io, async_caller(&first, &seen), asio::detached);
        asio::co_spawn(f.io, async_caller(&second, &seen), asio::detached);
    }
    f.io.run();
    CHECK(f.idp.grant_requests == 1);
    REQUIRE(seen.size() == 1);
    CHECK(seen.begin()->second == 200);
    CHECK(first.refresh_count() + second.refresh_count() == 1);
    CHECK(first.adopted_count() + second.adopted_count() == 1);
}

TEST_CASE("a failing renewal leaves the store byte-for-byte untouched", "[component][renewal]") {
    using failure = fake_idp::failure;
    const auto method = GENERATE(login_method::machine, login_method::client_credentials);
    const auto fail = GENERATE(failure::network_error, failure::html_500, failure::invalid_client,
                               failure::invalid_grant);
    fixture f;
    f.save(method);
    f.idp.fail_grant = fail;
    const std::string before = f.home.bytes();
    auto src = f.make();
    diagnostics diag;
    auto tok = run_to_end(f.io, async_token(&src, &diag));
    REQUIRE_FALSE(tok.has_value());
    CHECK(f.idp.grant_requests == 1);  // never retried
    CHECK_FALSE(diag.to_string().empty());  // why, for the user
    CHECK(f.home.bytes() == before);  // not even marked expired: the next grant may work
    if (fail == failure::invalid_client) CHECK(tok.error() == oauth_errc::invalid_client);
}

TEST_CASE("no client secret: nothing is sent, store untouched, config_missing",
          "[component][renewal]") {
    fixture f;
    f.save(login_method::client_credentials);
    f.have_secret = false;
    const std::string before = f.home.bytes();
    auto src = f.make();
    diagnostics diag;
    auto tok = run_to_end(f.io, async_token(&src, &diag));
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error() == client_errc::config_missing);
    CHECK(diag.client_message == "set LATCH_CLIENT_SECRET");
    CHECK(f.idp.requests.empty());
    CHECK(src.refresh_count() == 0);
    CHECK(f.home.bytes() == before);
}

TEST_CASE("the machine's assertion: iss = sub = client id, aud = token endpoint, fresh jti",
          "[component][renewal]") {
    fixture f;
    f.save(login_method::machine);
    std::set<std::string> jtis;
    for (int i = 0; i < 3; ++i) {
        auto src = f.make();
        diagnostics diag;
        REQUIRE(run_to_end(f.io, force_refresh_of(&src, &diag)).has_value());
    }
    REQUIRE(f.idp.requests.size() == 3);
    for (const auto& req : f.idp.requests) {
        CHECK(form_field(req, "client_id") == "machine-1");
        auto claims = decode_jwt_claims_unverified(form_field(req, "client_assertion"));
        REQUIRE(claims.has_value());
        CHECK(claims->at("iss").as_string() == "machine-1");
        CHECK(claims->at("sub").as_string() == "machine-1");
        CHECK(claims->at("aud").as_string() == f.idp.token_endpoint());
        const auto lifetime = claims->at("exp").to_number<long long>() -
                              claims->at("iat").to_number<long long>();
        CHECK(lifetime > 0);
        CHECK(lifetime <= 60);
        jtis.insert(std::string(claims->at("jti").as_string()));
    }
    CHECK(jtis.size() == 3);
}

TEST_CASE("a confidential client authenticates its refresh (RFC 6749 §6)", "[component][renewal]") {
    fixture f;
    f.save(login_method::password, seconds{-10}, "rt-0");
    auto src = f.make();
    diagnostics diag;
    auto tok = run_to_end(f.io, async_token(&src, &diag));
    REQUIRE(tok.has_value());
    CHECK(tok->reveal() == "at-1");
    REQUIRE(f.idp.refresh_requests == 1);
    const auto& req = f.idp.requests.back();
    CHECK(header(req, "Authorization") == "Basic " + base64_encode("latch-service:s3cret"));
    CHECK(form_field(req, "client_id").empty());
}

TEST_CASE("a refresh refused with 400 and no body ends the session (issue 18 #10)",
          "[component][renewal]") {
    fixture f;
    f.home.save("old", "rt-0", seconds{-10}, issuer);
    f.idp.fail_refresh = fake_idp::failure::empty_400;
    token_source_options o;
    o.token_endpoint = f.idp.token_endpoint();
    token_source src(f.io.get_executor(), f.idp, f.clock, f.home.store, "default", o);
    diagnostics diag;
    auto tok = run_to_end(f.io, async_token(&src, &diag));
    REQUIRE_FALSE(tok.has_value());
    CHECK(tok.error() == client_errc::session_expired);
    CHECK(needs_login(tok.error()));  // exit 77
    CHECK(f.home.load().expired);     // `status` says expired, no "refresh: yes"
    CHECK(f.idp.refresh_requests == 1);
}
