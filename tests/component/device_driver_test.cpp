// The device flow run by the real driver (transport::async_drive) on a real io_context,
// with fake HTTP, virtual time and a recording user port: long logins take milliseconds.
#include "support/fakes.hpp"

#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/drive.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <catch2/catch.hpp>

#include <exception>
#include <optional>

using namespace latchkey;
namespace asio = boost::asio;

namespace {

const time_point t0 = sys_clock::from_time_t(1'790'000'000);
const std::string device_url = "https://idp.example/device/auth";
const std::string token_url = "https://idp.example/token";

const char* code_body =
    R"({"device_code":"dev-code-123","user_code":"BCDF-GHJK",)"
    R"("verification_uri":"https://idp.example/device",)"
    R"("verification_uri_complete":"https://idp.example/device?user_code=BCDF-GHJK",)"
    R"("expires_in":900})";
const char* token_body =
    R"({"access_token":"access-0123456789","refresh_token":"refresh-0123456789",)"
    R"("token_type":"Bearer","expires_in":3600})";
const char* pending_body = R"({"error":"authorization_pending"})";

flows::device_params params() {
    flows::device_params p;
    p.device_authorization_endpoint = device_url;
    p.token_endpoint = token_url;
    p.client_id = "latch-cli";
    p.scope = "openid offline_access";
    p.timeout = seconds{1800};  // the code's 900 s lifetime is the binding deadline
    return p;
}

bool is_poll(const http_request& r) {
    return r.url == token_url && r.body.find("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-"
                                             "type%3Adevice_code") == 0;
}

// Everything one drive needs, wired to one io_context.
struct rig {
    asio::io_context io;
    test::fake_http http{io.get_executor()};
    test::fake_clock clock{io.get_executor(), t0};
    test::fake_user user;
    flows::device_flow flow{params()};
    diagnostics diag;
    std::vector<time_point> poll_times;  // virtual time of each poll

    rig() {
        auto record = [this](const http_request& r) {
            if (is_poll(r)) poll_times.push_back(clock.now());
        };
        http.on_request = record;
    }

    // Answers the device authorization request, then `pending` polls with
    // authorization_pending, then the tokens (or pending forever when pending < 0).
    void script(int pending) {
        http.push_json(200, code_body);
        auto answer = [this, pending](const http_request& r) {
            REQUIRE(is_poll(r));
            if (pending >= 0 && static_cast<int>(poll_times.size()) >= pending)
                return test::json_reply(200, token_body);
            return test::json_reply(400, pending_body);
        };
        http.fallback = answer;
    }

    // Runs the drive to its end; `slot` may carry a cancellation signal.
    result<token_set> run(asio::cancellation_slot slot = {}) {
        std::optional<result<token_set>> out;
        std::exception_ptr failure;
        auto on_done = [&out, &failure](std::exception_ptr e, result<token_set> r) {
            failure = e;
            out.emplace(std::move(r));
        };
        auto handler = asio::bind_cancellation_slot(slot, on_done);
        asio::co_spawn(io, transport::async_drive(flow, transport::ports{http, clock, user}, diag),
                       std::move(handler));
        io.run();
        if (failure) std::rethrow_exception(failure);
        REQUIRE(out);
        return std::move(*out);
    }
};

}  // namespace

TEST_CASE("a 15-minute device login (150 pending polls) runs in milliseconds",
          "[component][device-driver]") {
    rig r;
    r.script(150);
    const auto started = std::chrono::steady_clock::now();
    auto res = r.run();
    const auto real = std::chrono::steady_clock::now() - started;

    REQUIRE(res.has_value());
    CHECK(res->access_token.reveal() == "access-0123456789");
    REQUIRE(res->refresh_token);
    CHECK(res->refresh_token->reveal() == "refresh-0123456789");
    CHECK(r.http.requests.size() == 1 + 151);
    CHECK(r.http.requests.front().url == device_url);
    CHECK(r.poll_times.size() == 151);
    CHECK(r.flow.polls_sent() == 151);
    CHECK(r.http.unscripted == 0);
    // One poll every 5 s of virtual time, the last at 755 s.
    for (std::size_t i = 0; i < r.poll_times.size(); ++i)
        REQUIRE(r.poll_times[i] == t0 + seconds{5 * static_cast<long>(i + 1)});
    CHECK(r.clock.now() == t0 + seconds{755});
    REQUIRE(res->expires_at);
    CHECK(*res->expires_at == t0 + seconds{755 + 3600});

    REQUIRE(r.user.shown.size() == 1);
    CHECK(r.user.shown[0].user_code == "BCDF-GHJK");
    CHECK(r.user.shown[0].verification_uri_complete ==
          "https://idp.example/device?user_code=BCDF-GHJK");
    CHECK(r.diag.client_message.empty());

    INFO("real time: " << std::chrono::duration_cast<std::chrono::milliseconds>(real).count()
                       << " ms");
    CHECK(real < std::chrono::seconds{2});  // typically a few ms; generous for loaded CI
}

TEST_CASE("a device code that is never approved expires at 900 s, no poll after it",
          "[component][device-driver]") {
    rig r;
    r.script(-1);
    auto res = r.run();
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == oauth_errc::expired_token);
    CHECK(r.diag.client_message == "the device code expired before it was approved");
    CHECK(r.poll_times.size() == 179);  // 5 s .. 895 s
    CHECK(r.poll_times.back() == t0 + seconds{895});
    CHECK(r.clock.now() == t0 + seconds{900});
    CHECK(r.clock.waits.back() == t0 + seconds{900});
}

TEST_CASE("network errors while polling are retried with backoff through the driver",
          "[component][device-driver]") {
    rig r;
    r.http.push_json(200, code_body)
        .push(test::transport_error(client_errc::connection_failed))
        .push(test::transport_error(client_errc::connection_failed))
        .push_json(400, pending_body)
        .push_json(200, token_body);
    auto res = r.run();
    REQUIRE(res.has_value());
    CHECK(res->access_token.reveal() == "access-0123456789");
    CHECK(r.poll_times == std::vector<time_point>{t0 + seconds{5}, t0 + seconds{15},
                                                  t0 + seconds{25}, t0 + seconds{30}});
}

TEST_CASE("a network error on the device authorization request ends the drive",
          "[component][device-driver]") {
    rig r;
    r.http.push(test::transport_error(client_errc::connection_failed));
    auto res = r.run();
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == client_errc::connection_failed);
    CHECK(r.diag.client_message.find(device_url) != std::string::npos);
    CHECK(r.http.requests.size() == 1);
    CHECK(r.user.shown.empty());
}

TEST_CASE("cancelling the drive while a poll is in flight: cancelled, no more requests",
          "[component][device-driver]") {
    rig r;
    r.script(-1);
    asio::cancellation_signal sig;
    auto cancel_on_third_poll = [&r, &sig](const http_request& req) {
        if (is_poll(req)) r.poll_times.push_back(r.clock.now());
        if (r.poll_times.size() == 3) {
            auto emit = [&sig] { sig.emit(asio::cancellation_type::terminal); };
            asio::post(r.io, emit);
        }
    };
    r.http.on_request = cancel_on_third_poll;
    auto res = r.run(sig.slot());
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == client_errc::cancelled);
    CHECK(r.http.requests.size() == 1 + 3);
    CHECK(r.clock.now() == t0 + seconds{15});
}

TEST_CASE("cancelling the drive during a wait: cancelled, no further poll",
          "[component][device-driver]") {
    rig r;
    r.script(-1);
    asio::cancellation_signal sig;
    auto cancel_on_second_wait = [&r, &sig](time_point) {
        if (r.clock.waits.size() == 2) {
            auto emit = [&sig] { sig.emit(asio::cancellation_type::terminal); };
            asio::post(r.io, emit);
        }
    };
    r.clock.on_wait = cancel_on_second_wait;
    auto res = r.run(sig.slot());
    REQUIRE_FALSE(res.has_value());
    CHECK(res.error() == client_errc::cancelled);
    CHECK(r.poll_times.size() == 1);
    CHECK(r.http.requests.size() == 2);
}
