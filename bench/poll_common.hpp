// What both poll drivers of latch-bench share (poll_scenario.cpp: a coroutine per flow;
// poll_multi.cpp: transport::multi_driver): the tally, the samplers and the result line.
#pragma once

#include "bench.hpp"

#include <latchkey/core/error.hpp>
#include <latchkey/flows/device_flow.hpp>
#include <latchkey/transport/http_client.hpp>

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace latchkey::bench {

struct poll_tally {
    std::uint64_t polls = 0;
    int finished = 0, token = 0, timed_out = 0, errors = 0;
    std::string first_error;
    std::vector<double> lateness_ms;
    // Polls more than 20 ms late, per second since the tally was made (printed to stderr:
    // where in the run a lateness tail comes from).
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    std::vector<std::uint32_t> late20_per_s;

    // One flow ended: with its token (as planned), at its own timeout, or with an error.
    void ended(const error_code& ec, const diagnostics& diag);
    void late(double ms) {
        lateness_ms.push_back(ms);
        ++polls;
        if (ms > 20.0) {
            const auto s = static_cast<std::size_t>(
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            if (late20_per_s.size() <= s) late20_per_s.resize(s + 1);
            ++late20_per_s[s];
        }
    }
};

// CPU and polls at a moment of the run (the steady phase's bounds).
struct steady_mark {
    double cpu_s = -1;
    std::uint64_t polls = 0;
};

// Measures one poll run: construct it after the lateness room is reserved and before the
// flows start (baseline RSS, CPU, time; starts the RSS sampler and the steady-phase
// marks), then `finish` runs `io` (bounded: spread + seconds + 30 s) and prints the result line.
class poll_measure {
public:
    poll_measure(boost::asio::io_context& io, const poll_options& o, poll_tally& t);
    int finish(const transport::http_client& http);

private:
    boost::asio::io_context& io_;
    const poll_options& o_;
    poll_tally& t_;
    long rss0_ = 0, peak_ = 0;
    usage u0_;
    std::chrono::steady_clock::time_point t0_;
    std::chrono::microseconds steady_from_{}, steady_to_{};
    steady_mark from_, to_;
};

// Room for every poll, touched now so that its pages count in the baseline RSS rather
// than in the per-flow figure (a poll every `spread` seconds, plus slack).
void reserve_lateness(poll_tally& t, const poll_options& o);

// What both drivers share: the client's pool sized to --max-connections, and the device
// flow's parameters (endpoints from --base and the paths, timeout --seconds).
transport::http_options poll_http_options(const poll_options& o);
flows::device_params poll_device_params(const poll_options& o);

int run_poll_coro(const poll_options& o);
int run_poll_multi(const poll_options& o);

}  // namespace latchkey::bench
