// Shared pieces of latch-bench: options, measurements and the result line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace latchkey::bench {

struct refresh_options {
    std::string url;             // token endpoint, e.g. http://127.0.0.1:8080/token
    std::uint64_t requests = 10'000;
    int connections = 1;
    double duration_max = 60.0;  // seconds, hard bound
};

struct poll_options {
    std::string base;            // e.g. http://127.0.0.1:8080 (serves /device and /token)
    int flows = 1000;
    double seconds = 20.0;
    int max_connections = 64;    // the shared per-origin pool bound
    double spread = 5.0;         // flow starts spread over this many seconds (the poll interval)
    // The server's K: it answers authorization_pending to the first K polls of a code, then
    // a token. Only bounds the steady phase (every flow still waiting); -1: unknown
    // (the steady phase then runs to the end: an always-pending endpoint).
    int pending_polls = -1;
    // multi: transport::multi_driver (one timer loop, flows in a table); coro: one
    // async_drive coroutine per flow.
    std::string driver = "multi";
    std::string device_path = "/device";        // the device authorization endpoint
    std::string token_path = "/device-token";   // the token endpoint the flows poll
    long timer_slack_us = -1;  // multi: the driver's timer_slack (-1: its default)
};

struct embed_options {
    std::string home;         // a credential store with a valid cached token (write-creds)
    bool with_token = false;  // each request does co_await token_source::token() first
    double seconds = 60.0;    // hard bound on serving
};

// CPU and memory of this process (getrusage RUSAGE_SELF).
struct usage {
    double cpu_s = 0;      // user + system
    long max_rss_kib = 0;  // ru_maxrss
};
usage current_usage();
long current_rss_kib();  // VmRSS from /proc/self/status (0 when unavailable)

// Percentile (0..100) of `v` (sorted in place); 0 when empty.
double percentile(std::vector<double>& v, double p);

int run_refresh(const refresh_options& o);
int run_poll(const poll_options& o);
int run_embed(const embed_options& o);

}  // namespace latchkey::bench
