// The multiplexed driver's core (flows::flow_scheduler): many device flows, one timer
// queue, driven here by a synchronous loop on virtual time with a scripted server, so
// every wake-up is checked at its exact deadline and in its exact order.
#include "device_flow_script.hpp"

#include <latchkey/flows/flow_scheduler.hpp>

#include <map>
#include <memory>

using namespace latchkey;
using namespace latchkey::test::device;

namespace {

// What the scripted server does with one device code's polls: answers `pending`
// authorization_pending (a slow_down instead at poll `slow_down_at`, 1-based), then the
// tokens; never approves when pending < 0.
struct code_script {
    int interval = 5;
    int expires_in = 900;
    int pending = 2;
    int slow_down_at = 0;
    int polls = 0;
};

struct outcome {
    bool ok = false;
    error_code ec;
    time_point at{};
};

// A synchronous driver: the scheduler's protocol without I/O. Requests are answered at
// once, at the current virtual time; time only moves to the next deadline.
struct sim {
    flow_scheduler sched;
    time_point now = t0;
    std::shared_ptr<const device_params> params = std::make_shared<const device_params>(
        test::device::params());
    std::vector<code_script> scripts;                 // per device code "code-N"
    std::vector<std::pair<int, seconds>> polls;       // (code, time since t0) of each poll
    std::map<std::uint32_t, int> code_of;             // slot index -> its code
    std::map<int, outcome> ended;                     // code -> how it ended
    std::size_t shown = 0;

    flow_id add(code_script s = {}) {
        scripts.push_back(s);
        const auto id = sched.add(std::make_unique<device_flow>(params));
        code_of[id.index] = static_cast<int>(scripts.size()) - 1;
        return id;
    }

    http_reply answer(int code, const http_request& req) {
        code_script& s = scripts[static_cast<std::size_t>(code)];
        if (req.url == device_url)
            return reply_at(now, 200, R"({"device_code":"code-)" + std::to_string(code) +
                                          R"(","user_code":"BCDF-GHJK","verification_uri":)"
                                          R"("https://idp.example/device","expires_in":)" +
                                          std::to_string(s.expires_in) + R"(,"interval":)" +
                                          std::to_string(s.interval) + "}");
        REQUIRE(req.body.find("device_code=code-" + std::to_string(code) + "&") !=
                std::string::npos);
        polls.emplace_back(code, std::chrono::duration_cast<seconds>(now - t0));
        ++s.polls;
        if (s.polls == s.slow_down_at) return reply_at(now, 400, slow_down_body());
        if (s.pending < 0 || s.polls <= s.pending) return reply_at(now, 400, pending_body());
        return reply_at(now, 200, token_body);
    }

    void run(flow_scheduler::ready_flow r) {
        const int code = code_of.at(r.id.index);
        if (!r.started) CHECK(r.deadline == now);  // woken exactly at its deadline
        event ev = r.started ? event{started{now}} : event{timer_fired{now}};
        for (;;) {
            action a = sched.step(r.id, ev);
            if (auto* s = std::get_if<send_request>(&a)) {
                ev = answer(code, s->request);
            } else if (std::holds_alternative<show_user>(a)) {
                ++shown;
                ev = user_shown{now};
            } else if (std::holds_alternative<wait_until>(a)) {
                return;
            } else if (std::holds_alternative<done>(a)) {
                ended[code] = outcome{true, {}, now};
                return;
            } else {
                ended[code] = outcome{false, std::get<failed>(a).ec, now};
                return;
            }
        }
    }

    void run_ready() {
        while (auto r = sched.take_ready()) run(*r);
    }

    // Runs until no flow waits (bounded).
    void run_all(int max_steps = 1'000'000) {
        run_ready();
        for (int i = 0; i < max_steps; ++i) {
            auto d = sched.next_deadline();
            if (!d) return;
            REQUIRE(*d >= now);  // time never goes back
            now = *d;
            sched.fire_due(now);
            run_ready();
        }
        FAIL("the flows did not finish");
    }
};

}  // namespace

TEST_CASE("multiplexed flows wake in deadline order; equal deadlines in the order asked",
          "[unit][multi]") {
    sim s;
    s.add({.interval = 9, .pending = 1});
    s.add({.interval = 5, .pending = 2});
    s.add({.interval = 5, .pending = 2});
    s.run_all();
    const std::vector<std::pair<int, seconds>> expected{
        {1, seconds{5}}, {2, seconds{5}}, {0, seconds{9}}, {1, seconds{10}},
        {2, seconds{10}}, {1, seconds{15}}, {2, seconds{15}}, {0, seconds{18}}};
    CHECK(s.polls == expected);
    CHECK(s.shown == 3);
    REQUIRE(s.ended.size() == 3);
    for (const auto& [code, o] : s.ended) CHECK(o.ok);
    CHECK(s.ended[0].at == t0 + seconds{18});
    CHECK(s.sched.live_count() == 0);
    CHECK(s.sched.waiting_count() == 0);
}

TEST_CASE("slow_down moves only that flow's later polls 5 s apart (RFC 8628 §3.5)",
          "[unit][multi]") {
    sim s;
    s.add({.interval = 5, .pending = 3, .slow_down_at = 1});
    s.add({.interval = 5, .pending = 3});
    s.run_all();
    std::vector<seconds> slowed, steady;
    for (const auto& [code, at] : s.polls) (code == 0 ? slowed : steady).push_back(at);
    CHECK(slowed == std::vector<seconds>{seconds{5}, seconds{15}, seconds{25}, seconds{35}});
    CHECK(steady == std::vector<seconds>{seconds{5}, seconds{10}, seconds{15}, seconds{20}});
    CHECK(s.ended[0].ok);
    CHECK(s.ended[1].ok);
}

TEST_CASE("a flow whose code expires ends at the expiry; the others poll on",
          "[unit][multi]") {
    sim s;
    s.add({.interval = 5, .expires_in = 12, .pending = -1});
    s.add({.interval = 5, .pending = 4});
    s.run_all();
    REQUIRE(s.ended.size() == 2);
    CHECK_FALSE(s.ended[0].ok);
    CHECK(s.ended[0].ec == oauth_errc::expired_token);
    CHECK(s.ended[0].at == t0 + seconds{12});  // waited for the deadline, no third poll
    CHECK(s.scripts[0].polls == 2);
    CHECK(s.ended[1].ok);
    CHECK(s.ended[1].at == t0 + seconds{25});
}

TEST_CASE("cancelling one waiting flow drops it at once; its wake-up never comes",
          "[unit][multi]") {
    sim s;
    const auto a = s.add({.interval = 5, .pending = 2});
    s.add({.interval = 5, .pending = 2});
    s.run_ready();  // both have their codes and wait
    CHECK(s.sched.live_count() == 2);
    CHECK(s.sched.cancel(a));
    CHECK_FALSE(s.sched.live(a));
    CHECK_FALSE(s.sched.cancel(a));  // once
    CHECK(s.sched.live_count() == 1);
    // The slot is reused under a new generation: the old id names nothing.
    const auto c = s.add({.interval = 5, .pending = 0});
    CHECK(c.index == a.index);
    CHECK_FALSE(c == a);
    CHECK_FALSE(s.sched.live(a));
    CHECK(std::holds_alternative<failed>(s.sched.step(a, timer_fired{s.now})));
    s.run_all();
    CHECK(s.scripts[0].polls == 0);
    CHECK(s.scripts[1].polls == 3);
    CHECK(s.ended.count(0) == 0);
    CHECK(s.ended[1].ok);
    CHECK(s.ended[2].ok);
}

TEST_CASE("a flow cancelled while ready is skipped by take_ready", "[unit][multi]") {
    sim s;
    const auto a = s.add();
    const auto b = s.add();
    CHECK(s.sched.cancel(a));
    auto r = s.sched.take_ready();
    REQUIRE(r);
    CHECK(r->id == b);
    CHECK_FALSE(s.sched.take_ready());
}

TEST_CASE("thousands of flows end with their tokens, every poll at its deadline",
          "[unit][multi]") {
    sim s;
    constexpr int n = 5000;
    for (int i = 0; i < n; ++i) s.add({.interval = 5 + i % 7, .pending = 2});
    CHECK(s.sched.live_count() == static_cast<std::size_t>(n));
    s.run_all();
    CHECK(s.polls.size() == static_cast<std::size_t>(3 * n));
    REQUIRE(s.ended.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        CHECK(s.ended[i].ok);
        CHECK(s.ended[i].at == t0 + seconds{3 * (5 + i % 7)});
    }
    CHECK(s.sched.live_count() == 0);
}

TEST_CASE("a device flow machine is small: shared parameters, no kept prompt",
          "[unit][multi]") {
    // What a waiting flow costs besides its device code: the multiplexed driver's RSS per
    // flow target is 1 KiB (bench/README.md); 160 bytes leaves room across ABIs.
    CHECK(sizeof(device_flow) <= 160);
    sim s;
    s.add({.pending = 0});
    s.add({.pending = 0});
    s.run_ready();
    CHECK(s.params.use_count() == 3);  // one copy of the parameters for all flows
}
