// Step-script helpers for the device flow unit tests (after boost::mysql's algo_test):
// each helper feeds one event and REQUIREs the kind of action that must come back.
#pragma once

#include <latchkey/flows/device_flow.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace latchkey::test::device {

using namespace latchkey::flows;

inline const time_point t0 = sys_clock::from_time_t(1'790'000'000);

inline constexpr const char* device_url = "https://idp.example/device/auth";
inline constexpr const char* token_url = "https://idp.example/token";

// A device authorization reply without `interval` (RFC default 5 s) and expires_in 900.
inline constexpr const char* code_body =
    R"({"device_code":"dev-code-123","user_code":"BCDF-GHJK",)"
    R"("verification_uri":"https://idp.example/device",)"
    R"("verification_uri_complete":"https://idp.example/device?user_code=BCDF-GHJK",)"
    R"("expires_in":900})";

inline constexpr const char* token_body =
    R"({"access_token":"access-0123456789","refresh_token":"refresh-0123456789",)"
    R"("token_type":"Bearer","expires_in":3600,"scope":"openid"})";

inline device_params params() {
    device_params p;
    p.device_authorization_endpoint = device_url;
    p.token_endpoint = token_url;
    p.client_id = "latch-cli";
    p.scope = "openid offline_access";
    p.timeout = seconds{1800};
    return p;
}

inline http_reply reply_at(time_point now, int status, std::string body,
                           std::string content_type = "application/json") {
    http_reply r{now, {}, {}};
    r.response.status = status;
    r.response.content_type = std::move(content_type);
    r.response.body = std::move(body);
    return r;
}

inline http_reply error_at(time_point now, error_code ec) { return http_reply{now, ec, {}}; }

inline std::string pending_body() { return R"({"error":"authorization_pending"})"; }
inline std::string slow_down_body() { return R"({"error":"slow_down"})"; }

inline http_request expect_request(const action& a) {
    const auto* s = std::get_if<send_request>(&a);
    REQUIRE(s);
    return s->request;
}

inline time_point expect_wait(const action& a) {
    const auto* w = std::get_if<wait_until>(&a);
    REQUIRE(w);
    return w->deadline;
}

inline show_user expect_show(const action& a) {
    const auto* s = std::get_if<show_user>(&a);
    REQUIRE(s);
    return *s;
}

inline failed expect_failed(const action& a) {
    const auto* f = std::get_if<failed>(&a);
    REQUIRE(f);
    return *f;
}

inline token_set expect_done(const action& a) {
    const auto* d = std::get_if<done>(&a);
    REQUIRE(d);
    return d->tokens;
}

// Drives a flow through the device authorization request (at t0) and the prompt (reply
// and user_shown at t0 + 1 s); returns the deadline of the first wait.
inline time_point to_first_wait(device_flow& f, std::string body = code_body) {
    expect_request(f.next(started{t0}));
    expect_show(f.next(reply_at(t0 + seconds{1}, 200, std::move(body))));
    return expect_wait(f.next(user_shown{t0 + seconds{1}}));
}

// Fires the timer at `at` and REQUIREs a poll; returns it.
inline http_request poll_at(device_flow& f, time_point at) {
    auto req = expect_request(f.next(timer_fired{at}));
    REQUIRE(req.url == token_url);
    return req;
}

}  // namespace latchkey::test::device
