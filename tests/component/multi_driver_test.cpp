// The multiplexed driver (transport::multi_driver) on a real io_context with a fake IdP
// and virtual time (test::sim_clock): many device flows, one timer loop, bounded HTTP.
#include "support/fakes.hpp"

#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/multi_drive.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <exception>
#include <map>

using namespace latchkey;
namespace asio = boost::asio;

namespace {

const time_point t0 = sys_clock::from_time_t(1'790'000'000);
const std::string device_url = "https://idp.example/device/auth";
const std::string token_url = "https://idp.example/token";

std::shared_ptr<const flows::device_params> shared_params() {
    auto p = std::make_shared<flows::device_params>();
    p->device_authorization_endpoint = device_url;
    p->token_endpoint = token_url;
    p->client_id = "latch-cli";
    p->timeout = seconds{1800};
    return p;
}

std::string code_in(const std::string& body) {
    const auto at = body.find("device_code=");
    REQUIRE(at != std::string::npos);
    const auto end = body.find('&', at);
    return body.substr(at + 12, end - at - 12);
}

// Counts exchanges in flight around fake_http.
struct counting_http final : transport::http_port {
    explicit counting_http(transport::http_port& h) : inner(h) {}
    asio::awaitable<http_response> async_send(http_request req, error_code& ec,
                                              diagnostics& diag) override {
        max_in_flight = std::max(max_in_flight, ++in_flight);
        auto resp = co_await inner.async_send(std::move(req), ec, diag);
        --in_flight;
        co_return resp;
    }
    transport::http_port& inner;
    int in_flight = 0, max_in_flight = 0;
};

struct ending {
    bool ok = false;
    error_code ec;
    time_point at{};
    int count = 0;
};

// A fake IdP issuing code-N per device authorization; each code gets `pending`
// authorization_pending answers, then the tokens (pending < 0: never).
struct rig {
    asio::io_context io;
    test::fake_http fake{io.get_executor()};
    counting_http http{fake};
    test::sim_clock clock{io.get_executor(), t0};
    int pending = 2;
    int next_code = 0;
    std::map<std::string, int> polls;
    std::map<flows::flow_id, ending, bool (*)(flows::flow_id, flows::flow_id)> ended{
        [](flows::flow_id a, flows::flow_id b) {
            return a.index != b.index ? a.index < b.index : a.generation < b.generation;
        }};
    std::vector<double> lateness_s;
    std::vector<std::pair<time_point, time_point>> polled;  // (deadline, sent)
    std::size_t shown = 0;
    transport::multi_driver driver;

    explicit rig(std::size_t max_in_flight = 8,
                 std::chrono::microseconds slack = std::chrono::microseconds(1000))
        : driver(io.get_executor(), http, clock, handlers(), {max_in_flight, false, slack}) {
        auto answer = [this](const http_request& r) {
            if (r.url == device_url)
                return test::json_reply(
                    200, R"({"device_code":"code-)" + std::to_string(next_code++) +
                             R"(","user_code":"BCDF-GHJK","verification_uri":)"
                             R"("https://idp.example/device","expires_in":900,"interval":5})");
            const int n = ++polls[code_in(r.body)];
            if (pending < 0 || n <= pending)
                return test::json_reply(400, R"({"error":"authorization_pending"})");
            return test::json_reply(200, R"({"access_token":"at","token_type":"Bearer",)"
                                         R"("expires_in":3600})");
        };
        fake.fallback = answer;
    }

    transport::multi_driver::handlers handlers() {
        transport::multi_driver::handlers h;
        h.on_done = [this](flows::flow_id id, result<token_set> r, const diagnostics&) {
            auto& e = ended[id];
            e.ok = r.has_value();
            e.ec = r ? error_code{} : r.error();
            e.at = clock.now();
            ++e.count;
        };
        h.on_show = [this](flows::flow_id, const flows::show_user&) { ++shown; };
        h.on_poll = [this](flows::flow_id, time_point deadline, time_point sent) {
            lateness_s.push_back(std::chrono::duration<double>(sent - deadline).count());
            polled.emplace_back(deadline, sent);
        };
        return h;
    }

    flows::flow_id add() {
        return driver.add(std::make_unique<flows::device_flow>(shared_params()));
    }

    // Runs the driver to its end on virtual time; true if async_run returned.
    bool run(asio::cancellation_slot slot = {}) {
        bool returned = false;
        auto on_end = [&returned](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
            returned = true;
        };
        auto coro = driver.async_run();
        asio::co_spawn(io, std::move(coro), asio::bind_cancellation_slot(slot, on_end));
        REQUIRE(test::run_sim(io, clock));
        return returned;
    }
};

// Adds a flow at virtual time `at` (the sim clock runs the wait).
asio::awaitable<void> add_at(rig* r, time_point at) {
    (void)co_await r->clock.async_wait_until(at);
    r->add();
}

}  // namespace

TEST_CASE("multi_driver: polls due within one timer_slack step share a wake-up, never early",
          "[component][multi]") {
    using us = std::chrono::microseconds;
    for (const long slack : {0L, 1000L}) {
        rig r(8, us(slack));
        r.pending = 0;  // the first poll gets the tokens
        r.add();  // at t0 (the driver returns when no flow is left, so one is there first)
        for (const long offset : {300L, 600L, 1200L})
            asio::co_spawn(r.io, add_at(&r, t0 + us(offset)), asio::detached);
        REQUIRE(r.run());
        REQUIRE(r.polled.size() == 4);
        std::vector<time_point> sent;
        for (const auto& [deadline, at] : r.polled) {
            CHECK(at >= deadline);  // RFC 8628: the interval is a minimum
            CHECK(at - deadline < us(slack ? slack : 1));
            sent.push_back(at);
        }
        std::sort(sent.begin(), sent.end());
        const auto base = t0 + seconds{5};
        if (slack == 0) {
            CHECK(sent == std::vector<time_point>{base, base + us(300), base + us(600), base + us(1200)});
        } else {  // the 0.3 and 0.6 ms flows go together at the 1 ms mark
            CHECK(sent == std::vector<time_point>{base, base + us(1000), base + us(1000), base + us(2000)});
        }
        for (const auto& [id, e] : r.ended) CHECK(e.ok);
    }
}

TEST_CASE("multi_driver: 2000 device flows end with tokens; polls on time; HTTP bounded",
          "[component][multi]") {
    rig r(16);
    constexpr int n = 2000;
    for (int i = 0; i < n; ++i) r.add();
    CHECK(r.driver.live_count() == static_cast<std::size_t>(n));
    REQUIRE(r.run());
    REQUIRE(r.ended.size() == static_cast<std::size_t>(n));
    for (const auto& [id, e] : r.ended) {
        CHECK(e.ok);
        CHECK(e.count == 1);
        CHECK(e.at == t0 + seconds{15});  // code at t0, polls at 5, 10, 15 s
    }
    CHECK(r.shown == static_cast<std::size_t>(n));
    CHECK(r.fake.requests.size() == static_cast<std::size_t>(4 * n));
    CHECK(r.lateness_s.size() == static_cast<std::size_t>(3 * n));
    for (double l : r.lateness_s) CHECK(l == 0.0);
    CHECK(r.http.max_in_flight == 16);
    CHECK(r.driver.live_count() == 0);
    CHECK(r.clock.waiting() == 0);
}

TEST_CASE("multi_driver: a flow cancelled during its poll ends once, cancelled; the rest go on",
          "[component][multi]") {
    rig r(4);
    const auto a = r.add();
    const auto b = r.add();
    int polls_of_first = 0;
    r.fake.on_request = [&](const http_request& req) {
        if (req.url == token_url && code_in(req.body) == "code-0" && ++polls_of_first == 2)
            CHECK(r.driver.cancel(a));
    };
    REQUIRE(r.run());
    CHECK(r.ended[a].count == 1);
    CHECK(r.ended[a].ec == client_errc::cancelled);
    CHECK(r.ended[a].at == t0 + seconds{10});
    CHECK(r.polls["code-0"] == 2);  // no poll after the cancel
    CHECK(r.ended[b].ok);
    CHECK(r.ended[b].count == 1);
    CHECK_FALSE(r.driver.cancel(a));
}

TEST_CASE("multi_driver: a waiting flow cancelled between polls never polls again",
          "[component][multi]") {
    rig r(4);
    const auto a = r.add();
    const auto b = r.add();
    r.fake.on_request = [&](const http_request& req) {
        if (req.url == token_url && code_in(req.body) == "code-1" && r.polls["code-1"] == 1)
            r.driver.cancel(a);  // a waits for its own second poll now
    };
    REQUIRE(r.run());
    CHECK(r.ended[a].ec == client_errc::cancelled);
    CHECK(r.polls["code-0"] == 1);
    CHECK(r.ended[b].ok);
}

TEST_CASE("multi_driver: stop() ends every flow as cancelled and async_run returns",
          "[component][multi]") {
    rig r(4);
    r.pending = -1;  // never approved
    for (int i = 0; i < 50; ++i) r.add();
    r.fake.on_request = [&](const http_request& req) {
        if (req.url == token_url && r.clock.now() >= t0 + seconds{20}) r.driver.stop();
    };
    REQUIRE(r.run());
    REQUIRE(r.ended.size() == 50);
    for (const auto& [id, e] : r.ended) {
        CHECK(e.ec == client_errc::cancelled);
        CHECK(e.count == 1);
    }
    CHECK(r.clock.waiting() == 0);
    // After stop(), a new flow ends at once.
    const auto late = r.add();
    CHECK(r.ended[late].ec == client_errc::cancelled);
}

TEST_CASE("multi_driver: terminal cancellation of async_run acts like stop()",
          "[component][multi]") {
    rig r(4);
    r.pending = -1;
    for (int i = 0; i < 20; ++i) r.add();
    asio::cancellation_signal sig;
    r.fake.on_request = [&](const http_request& req) {
        if (req.url == token_url && r.clock.now() >= t0 + seconds{30})
            sig.emit(asio::cancellation_type::terminal);
    };
    REQUIRE(r.run(sig.slot()));
    REQUIRE(r.ended.size() == 20);
    for (const auto& [id, e] : r.ended) CHECK(e.ec == client_errc::cancelled);
}

TEST_CASE("multi_driver: an expired code fails that flow at its expiry",
          "[component][multi]") {
    rig r(2);
    r.pending = -1;
    r.add();
    REQUIRE(r.run());
    REQUIRE(r.ended.size() == 1);
    const auto& e = r.ended.begin()->second;
    CHECK(e.ec == oauth_errc::expired_token);
    CHECK(e.at == t0 + seconds{900});
    CHECK(r.polls["code-0"] == 179);  // every 5 s until the last one before 900 s
}
