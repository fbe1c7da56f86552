// Device flow (RFC 8628): every way it can end badly, one failure injected per step.
#include "device_flow_script.hpp"

using namespace latchkey;
using namespace latchkey::test::device;

namespace {

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

const std::string html_500 = "<html><body><h1>500 Internal Server Error</h1></body></html>";

}  // namespace

// ---- the device authorization request ------------------------------------------------

TEST_CASE("device authorization: a network error fails with that error", "[unit][device]") {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    auto x = expect_failed(f.next(error_at(t0, client_errc::connection_failed)));
    CHECK(x.ec == client_errc::connection_failed);
    CHECK(contains(x.diag.client_message, device_url));
    CHECK(expect_failed(f.next(timer_fired{t0})).ec == client_errc::flow_finished);
}

TEST_CASE("device authorization: HTTP 500 with an HTML body", "[unit][device]") {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    auto x = expect_failed(f.next(reply_at(t0, 500, html_500, "text/html")));
    CHECK(x.ec == client_errc::bad_http_status);
    CHECK(contains(x.diag.client_message, device_url));
    CHECK(contains(x.diag.client_message, "HTTP 500"));
    CHECK(x.diag.server_message.empty());
}

TEST_CASE("device authorization: a 200 that is not JSON", "[unit][device]") {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    auto x = expect_failed(f.next(reply_at(t0, 200, R"({"device_code": "abc", )")));
    CHECK(x.ec == client_errc::bad_json);
    CHECK(contains(x.diag.client_message, device_url));
    CHECK(contains(x.diag.client_message, "HTTP 200"));
}

TEST_CASE("device authorization: a required field is missing", "[unit][device]") {
    struct row { const char* body; const char* field; };
    const row rows[] = {
        {R"({"user_code":"u","verification_uri":"https://v","expires_in":900})", "device_code"},
        {R"({"device_code":"","user_code":"u","verification_uri":"https://v"})", "device_code"},
        {R"({"device_code":"d","verification_uri":"https://v","expires_in":900})", "user_code"},
        {R"({"device_code":"d","user_code":"u","expires_in":900})", "verification_uri"},
    };
    for (const auto& r : rows) {
        device_flow f{params()};
        expect_request(f.next(started{t0}));
        auto x = expect_failed(f.next(reply_at(t0, 200, r.body)));
        CHECK(x.ec == client_errc::missing_field);
        CHECK(contains(x.diag.client_message, std::string("`") + r.field + "`"));
    }
}

TEST_CASE("device authorization: a nonsense expires_in or interval is bad_json",
          "[unit][device]") {
    for (const char* body :
         {R"({"device_code":"d","user_code":"u","verification_uri":"https://v","expires_in":-5})",
          R"({"device_code":"d","user_code":"u","verification_uri":"https://v","expires_in":0})",
          R"({"device_code":"d","user_code":"u","verification_uri":"https://v","expires_in":"soon"})",
          R"({"device_code":"d","user_code":"u","verification_uri":"https://v","interval":[5]})"}) {
        device_flow f{params()};
        expect_request(f.next(started{t0}));
        CHECK(expect_failed(f.next(reply_at(t0, 200, body))).ec == client_errc::bad_json);
    }
}

TEST_CASE("device authorization: an OAuth error body gives that error", "[unit][device]") {
    device_flow f{params()};
    expect_request(f.next(started{t0}));
    auto x = expect_failed(f.next(reply_at(
        t0, 401, R"({"error":"invalid_client","error_description":"no such client"})")));
    CHECK(x.ec == oauth_errc::invalid_client);
    CHECK(x.diag.server_message == "no such client");
    CHECK(contains(x.diag.client_message, device_url));
}

// ---- polling ---------------------------------------------------------------------------

TEST_CASE("poll: expired_token ends the flow", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    auto x = expect_failed(f.next(reply_at(t, 400, R"({"error":"expired_token"})")));
    CHECK(x.ec == oauth_errc::expired_token);
    CHECK(x.diag.client_message == "the device code expired before it was approved");
}

TEST_CASE("poll: access_denied keeps the server's description apart", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    auto x = expect_failed(f.next(reply_at(
        t, 400,
        R"({"error":"access_denied","error_description":"End-User aborted interaction"})")));
    CHECK(x.ec == oauth_errc::access_denied);
    CHECK(x.diag.server_message == "End-User aborted interaction");
    CHECK_FALSE(x.diag.client_message.empty());
    CHECK_FALSE(contains(x.diag.client_message, "aborted interaction"));
}

TEST_CASE("poll: an unknown OAuth error keeps the raw value", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    auto x = expect_failed(f.next(reply_at(t, 400, R"({"error":"tenant_suspended"})")));
    CHECK(x.ec == oauth_errc::unknown_oauth_error);
    CHECK(x.diag.server_error == "tenant_suspended");
}

TEST_CASE("poll: HTTP 500 with an HTML body fails without another poll", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    auto x = expect_failed(f.next(reply_at(t, 500, html_500, "text/html; charset=utf-8")));
    CHECK(x.ec == client_errc::bad_http_status);
    CHECK(contains(x.diag.client_message, token_url));
    CHECK(contains(x.diag.client_message, "HTTP 500"));
    CHECK(expect_failed(f.next(timer_fired{t + seconds{5}})).ec == client_errc::flow_finished);
    CHECK(f.polls_sent() == 1);
}

TEST_CASE("poll: a 200 without an access token", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    auto x = expect_failed(f.next(reply_at(t, 200, R"({"token_type":"Bearer"})")));
    CHECK(x.ec == client_errc::missing_field);
    CHECK(contains(x.diag.client_message, token_url));
}

TEST_CASE("poll: a refused reply keeps its reason after the diagnostics move (issue 18 #13)",
          "[unit][device][hardening]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    auto x = expect_failed(f.next(reply_at(t, 200, R"({"token_type":"Bearer"})")));
    INFO(x.diag.client_message);
    CHECK(x.diag.client_message.rfind(std::string("token endpoint ") + token_url + ": ", 0) == 0);
    CHECK(x.diag.client_message.size() > (std::string("token endpoint ") + token_url + ": ").size());
    CHECK(contains(x.diag.client_message, "access_token"));
}

TEST_CASE("poll: network errors back off (doubling, capped at 10 s) and then recover",
          "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    poll_at(f, t);
    auto next = expect_wait(f.next(error_at(t, client_errc::connection_failed)));
    CHECK(next - t == seconds{10});  // 5 * 2
    t = next;
    poll_at(f, t);
    next = expect_wait(f.next(error_at(t, client_errc::connection_failed)));
    CHECK(next - t == seconds{10});  // 5 * 4, capped
    t = next;
    poll_at(f, t);  // an answer resets the backoff
    next = expect_wait(f.next(reply_at(t, 400, pending_body())));
    CHECK(next - t == seconds{5});
    t = next;
    poll_at(f, t);
    CHECK(expect_done(f.next(reply_at(t, 200, token_body))).access_token.reveal() ==
          "access-0123456789");
    CHECK(f.polls_sent() == 4);
    CHECK(f.interval() == seconds{5});  // backoff never changes the agreed interval
}

TEST_CASE("poll: backoff from a short interval doubles until the 10 s cap", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f, R"({"device_code":"d","user_code":"u","verification_uri":"https://v",)"
                              R"("expires_in":900,"interval":3})");
    std::vector<seconds> waits;
    for (int i = 0; i < 3; ++i) {
        poll_at(f, t);
        auto next = expect_wait(f.next(error_at(t, client_errc::connection_failed)));
        waits.push_back(std::chrono::duration_cast<seconds>(next - t));
        t = next;
    }
    CHECK(waits == std::vector<seconds>{seconds{6}, seconds{10}, seconds{10}});
}

TEST_CASE("poll: an interval above 10 s is kept after a network error", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f, R"({"device_code":"d","user_code":"u","verification_uri":"https://v",)"
                              R"("expires_in":900,"interval":15})");
    poll_at(f, t);
    CHECK(expect_wait(f.next(error_at(t, client_errc::connection_failed))) - t == seconds{15});
}

TEST_CASE("poll: max_transport_errors consecutive network errors fail", "[unit][device]") {
    auto p = params();
    p.max_transport_errors = 3;
    device_flow f{p};
    auto t = to_first_wait(f);
    for (int i = 0; i < 2; ++i) {
        poll_at(f, t);
        t = expect_wait(f.next(error_at(t, client_errc::connection_failed)));
    }
    poll_at(f, t);
    auto x = expect_failed(f.next(error_at(t, client_errc::connection_failed)));
    CHECK(x.ec == client_errc::connection_failed);
    CHECK(contains(x.diag.client_message, token_url));
    CHECK(contains(x.diag.client_message, "3 times"));
    CHECK(f.polls_sent() == 3);
}

// ---- the deadline ----------------------------------------------------------------------

TEST_CASE("a --timeout shorter than expires_in: no poll past it, client_errc::timeout",
          "[unit][device]") {
    auto p = params();
    p.timeout = seconds{12};
    device_flow f{p};
    auto t = to_first_wait(f);  // code issued at t0+1: deadline t0+13
    poll_at(f, t);              // t0+6
    t = expect_wait(f.next(reply_at(t, 400, pending_body())));
    poll_at(f, t);              // t0+11
    auto last = expect_wait(f.next(reply_at(t, 400, pending_body())));
    CHECK(last == t0 + seconds{13});  // not t0+16: wait for the deadline, no poll after it
    auto x = expect_failed(f.next(timer_fired{last}));
    CHECK(x.ec == client_errc::timeout);
    CHECK(x.diag.client_message == "login timed out after 12 s");
    CHECK(f.polls_sent() == 2);
}

TEST_CASE("an expires_in shorter than --timeout: expired_token at the code's expiry",
          "[unit][device]") {
    device_flow f{params()};  // timeout 1800 s
    auto t = to_first_wait(f, R"({"device_code":"d","user_code":"u","verification_uri":"https://v",)"
                              R"("expires_in":8})");
    CHECK(t == t0 + seconds{6});
    poll_at(f, t);
    auto last = expect_wait(f.next(reply_at(t, 400, pending_body())));
    CHECK(last == t0 + seconds{9});
    auto x = expect_failed(f.next(timer_fired{last}));
    CHECK(x.ec == oauth_errc::expired_token);
    CHECK(x.diag.client_message == "the device code expired before it was approved");
    CHECK(f.polls_sent() == 1);
}

TEST_CASE("without expires_in the timeout is the deadline", "[unit][device]") {
    auto p = params();
    p.timeout = seconds{3};
    device_flow f{p};
    auto t = to_first_wait(f, R"({"device_code":"d","user_code":"u","verification_uri":"https://v"})");
    CHECK(t == t0 + seconds{4});
    CHECK(expect_failed(f.next(timer_fired{t})).ec == client_errc::timeout);
    CHECK(f.polls_sent() == 0);
}

TEST_CASE("a network-error backoff that would cross the deadline waits for the deadline",
          "[unit][device]") {
    auto p = params();
    p.timeout = seconds{14};
    device_flow f{p};
    auto t = to_first_wait(f);  // deadline t0+15
    poll_at(f, t);              // t0+6; backoff 10 s would land at t0+16
    CHECK(expect_wait(f.next(error_at(t, client_errc::connection_failed))) == t0 + seconds{15});
    CHECK(expect_failed(f.next(timer_fired{t0 + seconds{15}})).ec == client_errc::timeout);
}

TEST_CASE("the prompt shown late, after the deadline, fails at once", "[unit][device]") {
    auto p = params();
    p.timeout = seconds{10};
    device_flow f{p};
    expect_request(f.next(started{t0}));
    expect_show(f.next(reply_at(t0, 200, code_body)));
    CHECK(expect_failed(f.next(user_shown{t0 + seconds{11}})).ec == client_errc::timeout);
}

// ---- events that do not fit ----------------------------------------------------------

TEST_CASE("an event that does not fit the state fails cleanly", "[unit][device]") {
    device_flow f{params()};
    auto t = to_first_wait(f);
    auto x = expect_failed(f.next(callback_received{t, "http://127.0.0.1/cb?code=x"}));
    CHECK(x.ec == client_errc::bad_input);
    CHECK(contains(x.diag.client_message, "callback_received"));
    CHECK(expect_failed(f.next(timer_fired{t})).ec == client_errc::flow_finished);

    device_flow g{params()};
    CHECK(expect_failed(g.next(timer_fired{t0})).ec == client_errc::bad_input);
    device_flow h{params()};
    expect_request(h.next(started{t0}));
    CHECK(expect_failed(h.next(started{t0})).ec == client_errc::bad_input);
}
