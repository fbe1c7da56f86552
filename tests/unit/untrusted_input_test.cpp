// Issue 18 #1, #9, #13: what an attacker-controlled IdP sends is refused when it is parsed
// (device prompts, discovery endpoints, tokens), and no refusal message carries its bytes.
#include "device_flow_script.hpp"
#include "test_support.hpp"

#include <latchkey/core/gateway.hpp>
#include <latchkey/core/provider.hpp>
#include <latchkey/core/store.hpp>
#include <latchkey/core/untrusted.hpp>

using namespace latchkey;
using namespace latchkey::test::device;
using unit_test::json_reply;

namespace {

// No byte that acts on a terminal: ESC, BEL, CR, LF, NUL (and no other C0/DEL).
bool terminal_safe(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

failed device_reply(const std::string& body) {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    return expect_failed(f.next(reply_at(t0, 200, body)));
}

std::string code_reply_with(const std::string& user_code, const std::string& uri,
                            const std::string& uri_complete = "https://idp.example/device?c=1") {
    return R"({"device_code":"d","user_code":")" + user_code + R"(","verification_uri":")" + uri +
           R"(","verification_uri_complete":")" + uri_complete + R"(","expires_in":900})";
}

}  // namespace

TEST_CASE("hostile device prompt: control bytes in user_code are refused at parse time",
          "[unit][hardening][device]") {
    // OSC 52 (writes the clipboard), a CR-LF spoofing a success line, NUL hiding the code.
    for (const char* code : {R"(AB\u001b]52;c;ZXZpbA==\u0007CD)", R"(AB\r\nlatch: logged in)",
                             R"(AB\u0000CD)", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
        INFO(code);
        auto x = device_reply(code_reply_with(code, "https://idp.example/device"));
        CHECK(x.ec == client_errc::bad_json);
        CHECK(x.diag.client_message.find("user_code") != std::string::npos);
        CHECK(terminal_safe(x.diag.to_string()));
    }
}

TEST_CASE("hostile device prompt: verification URIs must be https (http only on loopback)",
          "[unit][hardening][device]") {
    for (const char* uri : {"javascript:alert(1)", "file:///etc/passwd", "http://evil.example/device",
                            "data:text/html,hi", R"(https://idp.example/\u001b[2J)", "/device",
                            R"(https://idp.example/a b)"}) {
        INFO(uri);
        auto plain = device_reply(code_reply_with("BCDF-GHJK", uri));
        CHECK(plain.ec == client_errc::bad_json);
        CHECK(plain.diag.client_message.find("`verification_uri`") != std::string::npos);
        CHECK(terminal_safe(plain.diag.to_string()));
        auto complete = device_reply(code_reply_with("BCDF-GHJK", "https://idp.example/d", uri));
        CHECK(complete.ec == client_errc::bad_json);
        CHECK(complete.diag.client_message.find("`verification_uri_complete`") != std::string::npos);
        CHECK(terminal_safe(complete.diag.to_string()));
    }
    for (const char* ok : {"https://idp.example/device", "http://127.0.0.1:8080/device",
                           "http://localhost/device", "http://[::1]:9/d", "HTTPS://IDP.example"}) {
        INFO(ok);
        device_flow f{params()};
        expect_request(f.next(started{t0}));
        auto shown = expect_show(f.next(reply_at(t0, 200, code_reply_with("WDJB MJHT", ok, ok))));
        CHECK(shown.verification_uri == ok);
        CHECK(shown.user_code == "WDJB MJHT");
    }
}

TEST_CASE("hostile discovery: an endpoint that is not https (loopback http) fails discovery",
          "[unit][hardening][core]") {
    auto doc = [](const std::string& member, const std::string& value) {
        return R"({"issuer":"https://idp.example","token_endpoint":"https://idp.example/token",)"
               R"(")" + member + R"(":")" + value + R"("})";
    };
    for (const char* member : {"authorization_endpoint", "device_authorization_endpoint",
                               "token_endpoint", "jwks_uri", "revocation_endpoint"}) {
        for (const char* bad : {"javascript:alert(1)", "file:///x", "http://evil.example/a",
                                R"(https://idp.example/\u001b]0;pwned\u0007)"}) {
            INFO(member << " = " << bad);
            diagnostics d;
            auto m = parse_provider_metadata(json_reply(200, doc(member, bad)), "https://idp.example", d);
            REQUIRE_FALSE(m.has_value());
            CHECK(m.error() == client_errc::bad_url);
            CHECK(d.client_message.find(member) != std::string::npos);
            CHECK(terminal_safe(d.client_message));
        }
    }
    diagnostics d;
    CHECK(parse_provider_metadata(json_reply(200, doc("jwks_uri", "http://127.0.0.1:4000/jwks")),
                                  "https://idp.example", d).has_value());
}

TEST_CASE("escape_terminal: no control byte survives; UTF-8 text does", "[unit][hardening][core]") {
    const std::string hostile = std::string("a\x1b]52;c;eA==\x07 b\r\nc") + '\0' + "d\x7f\xc2\x9b" +
                                "\xe2\x80\xae" + "\xff";
    const auto out = escape_terminal(hostile);
    CHECK(terminal_safe(out));
    CHECK(out.find("\xc2\x9b") == std::string::npos);    // C1 CSI
    CHECK(out.find("\xe2\x80\xae") == std::string::npos);  // right-to-left override
    CHECK(out.find("\\x1b]52") != std::string::npos);
    CHECK(escape_terminal("Jos\xc3\xa9 \xe2\x9c\x93") == "Jos\xc3\xa9 \xe2\x9c\x93");
}

TEST_CASE("token characters: CR/LF/NUL/ESC in tokens are refused at parse time (RFC 6750)",
          "[unit][hardening][core]") {
    const time_point now = t0;
    struct row { const char* body; const char* member; };
    const row rows[] = {
        {R"({"access_token":"abc\r\nX-Injected: 1"})", "access_token"},
        {R"({"access_token":"abc\u001b[2Jdef"})", "access_token"},
        {R"({"access_token":"abc\u0000def"})", "access_token"},
        {R"({"access_token":"ab c"})", "access_token"},
        {R"({"access_token":"ok","refresh_token":"r\nX: y"})", "refresh_token"},
        {R"({"access_token":"ok","id_token":"a.b.c\u0007"})", "id_token"},
        {R"({"access_token":"ok","id_token":"a.b/c.d"})", "id_token"},
    };
    for (const auto& r : rows) {
        INFO(r.body);
        diagnostics d;
        auto t = parse_token_response(json_reply(200, r.body), now, d);
        REQUIRE_FALSE(t.has_value());
        CHECK(t.error() == client_errc::bad_json);
        CHECK(d.client_message.find(r.member) != std::string::npos);
        CHECK(d.client_message.find("abc") == std::string::npos);  // the token is never echoed
        CHECK(terminal_safe(d.client_message));
    }
    diagnostics d;  // b64token characters, and other visible ASCII in opaque tokens, pass
    CHECK(parse_token_response(json_reply(200, R"({"access_token":"a-._~+/b==","refresh_token":"x|y:z",)"
                                              R"("id_token":"eyJ.eyJ.sig-_"})"), now, d).has_value());
}

TEST_CASE("token characters: a stored or gateway token with a CR/LF is refused",
          "[unit][hardening][store][gateway]") {
    diagnostics d;
    auto c = credentials_from_json(R"({"version":1,"tokens":{"access_token":"abc\r\nX: 1"}})", d);
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error() == client_errc::store_corrupt);
    CHECK(d.client_message.find("access_token") != std::string::npos);

    gateway_config g;
    auto s = parse_gateway_response(g, json_reply(200, R"({"session_token":"s\u001b[31m"})"), t0, d);
    REQUIRE_FALSE(s.has_value());
    CHECK(s.error() == client_errc::bad_json);
    CHECK(terminal_safe(d.client_message));
}

TEST_CASE("device flow: a poll reply that is not a token keeps its reason (no trailing ': ')",
          "[unit][hardening][device]") {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    expect_show(f.next(reply_at(t0, 200, code_body)));
    auto at = expect_wait(f.next(user_shown{t0}));
    expect_request(f.next(timer_fired{at}));
    auto x = expect_failed(f.next(reply_at(at, 200, R"({"token_type":"Bearer"})")));
    CHECK(x.ec == client_errc::missing_field);
    CHECK(x.diag.client_message ==
          std::string("token endpoint ") + token_url + ": token response has no access_token");
}

TEST_CASE("an invalid context name is reported escaped", "[unit][hardening][store]") {
    const auto m = invalid_context_message("bad\x1b[31mname\n");
    CHECK(terminal_safe(m));
    CHECK(m.rfind("invalid context name 'bad\\x1b[31mname\\x0a'", 0) == 0);
    diagnostics d;
    stored_credentials c;
    c.context = "x\x07";
    CHECK(credential_store("/nonexistent-latch-home").save(c, d) == client_errc::bad_input);
    CHECK(terminal_safe(d.client_message));
}

TEST_CASE("config file findings of fuzz_stores: escaped names, stable round trip",
          "[unit][hardening][store]") {
    diagnostics d;
    auto bad = config_from_json(R"({"version":1,"contexts":{"a\u001b[2Jb\u007f":1}})", d);
    REQUIRE_FALSE(bad.has_value());
    CHECK(terminal_safe(d.client_message));
    auto c = config_from_json(R"({"version":1,"contexts":{"w":{"scopes":"openid","x":"y"}}})", d);
    REQUIRE(c.has_value());
    CHECK(c->contexts.at("w").extra.count("scopes") == 0);
    CHECK(c->contexts.at("w").extra.at("x") == "y");
    const auto written = to_json(*c);
    auto again = config_from_json(written, d);
    REQUIRE(again.has_value());
    CHECK(to_json(*again) == written);
}

TEST_CASE("token characters: every byte value at every position of a word is judged alike",
          "[unit][hardening][core]") {
    // token_problem checks eight bytes at a time; a bad byte must be found wherever it
    // sits (first word, middle, the tail that is not a whole word) and whatever its value.
    for (std::size_t len : {1u, 7u, 8u, 9u, 16u, 23u}) {
        for (std::size_t pos = 0; pos < len; ++pos) {
            for (int b = 0; b < 256; ++b) {
                std::string tok(len, 'A');
                tok[pos] = static_cast<char>(b);
                const bool visible = b > 0x20 && b < 0x7f;
                INFO("len " << len << " pos " << pos << " byte " << b);
                CHECK(token_problem(tok, token_kind::opaque).empty() == visible);
            }
        }
    }
    CHECK(token_problem(std::string(1165, '~'), token_kind::opaque).empty());
    CHECK(token_problem(std::string("!") + std::string(40, 'z') + "\x7f", token_kind::opaque) != "");
}
