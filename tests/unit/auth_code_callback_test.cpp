// The authorization response checks of the auth_code machine: state, iss, IdP errors,
// missing code, and the ID token's nonce. Each case is what a user would see fail.
#include "auth_code_script.hpp"

#include <catch2/catch.hpp>

using namespace latchkey;
using namespace latchkey::flows;
using namespace latchkey::test::auth_code;

namespace {
failed fails(const action& a) {  // by value: callers pass temporaries
    REQUIRE(std::holds_alternative<failed>(a));
    return std::get<failed>(a);
}
}  // namespace

TEST_CASE("auth_code: a state that differs from ours fails with state_mismatch",
          "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    auto fl = fails(to_callback(f, "/callback?code=c&state=st-999"));
    CHECK(fl.ec == client_errc::state_mismatch);
    CHECK(fl.diag.client_message.find("does not match") != std::string::npos);
    CHECK(std::get<failed>(f.next(callback_received{t0, "/callback?code=c&state=st-123"})).ec ==
          client_errc::flow_finished);
}

TEST_CASE("auth_code: a response without state fails, also when it carries an error",
          "[unit][auth_code]") {
    {
        auth_code_flow f{params(), secrets()};
        CHECK(fails(to_callback(f, "/callback?code=c")).ec == client_errc::state_mismatch);
    }
    {
        // Otherwise anyone able to reach the listener could end the login.
        auth_code_flow f{params(), secrets()};
        CHECK(fails(to_callback(f, "/callback?error=access_denied")).ec ==
              client_errc::state_mismatch);
    }
    {
        auth_code_flow f{params(), secrets()};  // RFC 6749 §3.1: no repeated parameters
        CHECK(fails(to_callback(f, "/callback?code=c&state=st-123&state=st-999")).ec ==
              client_errc::bad_input);
    }
}

TEST_CASE("auth_code: a response without code fails with missing_field", "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    auto fl = fails(to_callback(f, "/callback?state=st-123"));
    CHECK(fl.ec == client_errc::missing_field);
    CHECK(fl.diag.client_message.find("code") != std::string::npos);
}

TEST_CASE("auth_code: the IdP's error and its description end the login", "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    auto fl = fails(to_callback(
        f, "/callback?error=access_denied&error_description=The+user+said+%22no%22%0A&state=st-123"));
    CHECK(fl.ec == oauth_errc::access_denied);
    CHECK(fl.diag.server_message == "The user said \"no\"\n");  // raw: escaped when printed
    CHECK(fl.diag.client_message.find("error=access_denied") != std::string::npos);

    auth_code_flow g{params(), secrets()};
    auto unknown = fails(to_callback(g, "/callback?error=tenant_locked&state=st-123"));
    CHECK(unknown.ec == oauth_errc::unknown_oauth_error);
    CHECK(unknown.diag.server_error == "tenant_locked");
}

TEST_CASE("auth_code: an iss that is not our issuer fails (RFC 9207)", "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    auto fl = fails(to_callback(f, "/callback?code=c&state=st-123&iss=https%3A%2F%2Fevil.example"));
    CHECK(fl.ec == client_errc::issuer_mismatch);
    CHECK(fl.diag.client_message.find("https://evil.example") != std::string::npos);

    auth_code_flow g{params(), secrets()};  // also on error responses
    CHECK(fails(to_callback(g, "/callback?error=access_denied&state=st-123&iss=https%3A%2F%2Fevil.example")).ec ==
          client_errc::issuer_mismatch);

    auth_code_flow h{params(), secrets()};
    auto a = to_callback(h, "/callback?code=c&state=st-123&iss=https%3A%2F%2Fidp.example");
    CHECK(std::holds_alternative<send_request>(a));
}

TEST_CASE("auth_code: iss is required when the IdP advertises it", "[unit][auth_code]") {
    auto p = params();
    p.iss_parameter_supported = true;
    auth_code_flow f{p, secrets()};
    auto fl = fails(to_callback(f, "/callback?code=c&state=st-123"));
    CHECK(fl.ec == client_errc::issuer_mismatch);
    CHECK(fl.diag.client_message.find("authorization_response_iss_parameter_supported") !=
          std::string::npos);

    auth_code_flow g{params(), secrets()};  // not advertised: absence is fine
    CHECK(std::holds_alternative<send_request>(to_callback(g, "/callback?code=c&state=st-123")));
}

TEST_CASE("auth_code: pasted URLs, fragments and bare queries are understood",
          "[unit][auth_code]") {
    for (std::string url : {"http://127.0.0.1:53682/callback?code=c&state=st-123",
                            "  http://127.0.0.1:53682/callback?code=c&state=st-123\n",
                            "?code=c&state=st-123", "#code=c&state=st-123",
                            "https://app.example/cb#code=c&state=st-123", "code=c&state=st-123"}) {
        CAPTURE(url);
        auth_code_flow f{params(), secrets()};
        auto a = to_callback(f, url);
        REQUIRE(std::holds_alternative<send_request>(a));
        CHECK(std::get<send_request>(a).request.body.find("code=c&") != std::string::npos);
    }
    auth_code_flow f{params(), secrets()};
    CHECK(fails(to_callback(f, "no query here")).ec == client_errc::bad_input);
}

TEST_CASE("auth_code: an ID token with another nonce fails with nonce_mismatch",
          "[unit][auth_code]") {
    auth_code_flow f{params(), secrets()};
    to_callback(f, "/callback?code=c&state=st-123");
    auto fl = fails(f.next(token_reply(200, token_body(id_token_with_nonce("n-other")))));
    CHECK(fl.ec == client_errc::nonce_mismatch);

    auth_code_flow g{params(), secrets()};
    to_callback(g, "/callback?code=c&state=st-123");
    auto no_nonce = jwt_with_claims(R"({"iss":"https://idp.example","sub":"alice"})");
    CHECK(fails(g.next(token_reply(200, token_body(no_nonce)))).ec == client_errc::nonce_mismatch);

    auth_code_flow h{params(), secrets()};
    to_callback(h, "/callback?code=c&state=st-123");
    CHECK(fails(h.next(token_reply(200, token_body("not-a-jwt")))).ec ==
          client_errc::id_token_invalid);

    // No ID token at all (a plain OAuth server): nothing to check.
    auth_code_flow k{params(), secrets()};
    to_callback(k, "/callback?code=c&state=st-123");
    CHECK(std::holds_alternative<done>(k.next(token_reply(200, token_body("")))));
}

TEST_CASE("auth_code: an ID token with another nonce is refused", "[unit][auth_code]") {
    auth_code_flow g{params(), secrets()};
    to_callback(g, "/callback?code=c&state=st-123");
    CHECK(fails(g.next(token_reply(200, token_body(id_token_with_nonce("x"))))).ec ==
          client_errc::nonce_mismatch);
}