// Device flow (RFC 8628): requests, prompt and polling cadence, with exact deadlines.
#include "device_flow_script.hpp"

using namespace latchkey;
using namespace latchkey::test::device;

namespace {

bool has_header(const http_request& r, const std::string& name, const std::string& prefix) {
    for (const auto& [k, v] : r.headers)
        if (k == name && v.rfind(prefix, 0) == 0) return true;
    return false;
}

}  // namespace

TEST_CASE("device authorization request: POST form with client_id, scope, extra params",
          "[unit][device]") {
    auto p = params();
    p.extra_params = {{"audience", "https://api.example"}};
    device_flow f{p};
    auto req = expect_request(f.next(started{t0}));
    CHECK(req.method == http_method::post);
    CHECK(req.url == device_url);
    CHECK(has_header(req, "Content-Type", "application/x-www-form-urlencoded"));
    CHECK(req.body ==
          "client_id=latch-cli&scope=openid%20offline_access&audience=https%3A%2F%2Fapi.example");
    CHECK(f.polls_sent() == 0);
}

TEST_CASE("device authorization request omits an empty scope", "[unit][device]") {
    auto p = params();
    p.scope.clear();
    device_flow f{p};
    CHECK(expect_request(f.next(started{t0})).body == "client_id=latch-cli");
}

TEST_CASE("the user sees the code, both URIs and when the code expires", "[unit][device]") {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    auto s = expect_show(f.next(reply_at(t0 + seconds{1}, 200, code_body)));
    CHECK(s.what == show_user::kind::device_code);
    CHECK(s.user_code == "BCDF-GHJK");
    CHECK(s.verification_uri == "https://idp.example/device");
    CHECK(s.verification_uri_complete == "https://idp.example/device?user_code=BCDF-GHJK");
    REQUIRE(s.expires_at);
    CHECK(*s.expires_at == t0 + seconds{901});  // issued at t0+1, expires_in 900
}

TEST_CASE("the token poll posts the device_code grant to the token endpoint",
          "[unit][device]") {
    device_flow f{params()};
    auto first = to_first_wait(f);
    auto req = poll_at(f, first);
    CHECK(req.method == http_method::post);
    CHECK_FALSE(req.idempotent);  // transport must never replay a token request
    CHECK(has_header(req, "Content-Type", "application/x-www-form-urlencoded"));
    CHECK(req.body == "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
                      "&device_code=dev-code-123&client_id=latch-cli");
    CHECK(f.polls_sent() == 1);
}

TEST_CASE("without `interval` the first poll waits the default 5 s", "[unit][device]") {
    device_flow f{params()};
    CHECK(to_first_wait(f) == t0 + seconds{1 + 5});
    CHECK(f.interval() == seconds{5});
}

TEST_CASE("pending keeps the interval; each slow_down adds 5 s for every later poll",
          "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    CHECK(t == t0 + seconds{1 + 5});

    poll_at(f, t);
    auto next = expect_wait(f.next(reply_at(t, 400, pending_body())));
    CHECK(next - t == seconds{5});

    t = next;
    poll_at(f, t);
    next = expect_wait(f.next(reply_at(t, 400, slow_down_body())));
    CHECK(next - t == seconds{10});

    t = next;
    poll_at(f, t);
    next = expect_wait(f.next(reply_at(t, 400, slow_down_body())));
    CHECK(next - t == seconds{15});
    CHECK(f.interval() == seconds{15});

    t = next;
    poll_at(f, t);
    auto tokens = expect_done(f.next(reply_at(t + seconds{1}, 200, token_body)));
    CHECK(tokens.access_token.reveal() == "access-0123456789");
    REQUIRE(tokens.refresh_token);
    CHECK(tokens.refresh_token->reveal() == "refresh-0123456789");
    REQUIRE(tokens.expires_at);
    CHECK(*tokens.expires_at == t + seconds{1 + 3600});
    CHECK(f.polls_sent() == 4);
}

TEST_CASE("slow_down stays in force after later pending replies", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    t = expect_wait(f.next(reply_at(t, 400, slow_down_body())));
    poll_at(f, t);
    auto next = expect_wait(f.next(reply_at(t, 400, pending_body())));
    CHECK(next - t == seconds{10});
}

TEST_CASE("the server's interval is honoured, and a larger slow_down interval wins",
          "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f, R"({"device_code":"d","user_code":"u",)"
                              R"("verification_uri":"https://idp.example/device",)"
                              R"("expires_in":900,"interval":8})");
    CHECK(t == t0 + seconds{1 + 8});
    CHECK(f.interval() == seconds{8});

    poll_at(f, t);  // slow_down with a larger interval of its own: 30 > 8 + 5
    auto next = expect_wait(f.next(reply_at(t, 400, R"({"error":"slow_down","interval":30})")));
    CHECK(next - t == seconds{30});

    t = next;  // slow_down whose interval is smaller than ours + 5: ours + 5
    poll_at(f, t);
    next = expect_wait(f.next(reply_at(t, 400, R"({"error":"slow_down","interval":2})")));
    CHECK(next - t == seconds{35});
}

TEST_CASE("a 150-poll login keeps its cadence and ends with the tokens", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    for (int i = 0; i < 150; ++i) {
        poll_at(f, t);
        auto next = expect_wait(f.next(reply_at(t, 400, pending_body())));
        REQUIRE(next - t == seconds{5});
        t = next;
    }
    poll_at(f, t);
    CHECK(expect_done(f.next(reply_at(t, 200, token_body))).access_token.reveal() ==
          "access-0123456789");
    CHECK(f.polls_sent() == 151);
    CHECK(t == t0 + seconds{1 + 151 * 5});
}

TEST_CASE("lenient device replies: string numbers, Google's verification_url",
          "[unit][device]") {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    auto s = expect_show(f.next(reply_at(
        t0, 200, R"({"device_code":"d","user_code":"u","verification_url":"https://g.example/dev",)"
                 R"("expires_in":"600","interval":"7"})")));
    CHECK(s.verification_uri == "https://g.example/dev");
    CHECK(s.verification_uri_complete.empty());
    CHECK(*s.expires_at == t0 + seconds{600});
    CHECK(expect_wait(f.next(user_shown{t0})) == t0 + seconds{7});
}

TEST_CASE("after done, next() reports flow_finished", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    expect_done(f.next(reply_at(t, 200, token_body)));
    auto again = expect_failed(f.next(timer_fired{t + seconds{5}}));
    CHECK(again.ec == client_errc::flow_finished);
    CHECK(expect_failed(f.next(started{t})).ec == client_errc::flow_finished);
}

TEST_CASE("next() depends only on the events' time, never on the real clock",
          "[unit][device]") {
    // The same script at two far-apart epochs gives the same relative deadlines.
    for (auto base : {t0, sys_clock::from_time_t(100)}) {
        device_flow f{params()};
        expect_request(f.next(started{base}));
        auto s = expect_show(f.next(reply_at(base, 200, code_body)));
        CHECK(*s.expires_at == base + seconds{900});
        CHECK(expect_wait(f.next(user_shown{base})) == base + seconds{5});
    }
}
