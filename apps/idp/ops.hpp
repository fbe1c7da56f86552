// latch-idp operations: the counters behind /metrics, the audit log, /healthz and /readyz.
// Counters are relaxed atomics in fixed arrays (no lock, no allocation per request); the
// audit log is one write(2) per event on an O_APPEND file.
#pragma once

#include <latchkey/core/error.hpp>
#include <latchkey/flows/server/ops_text.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace latchkey::idp {

// The routes /metrics counts by (a fixed set: label values never come from a request).
enum class route : std::uint8_t {
    discovery, jwks, token, authorize, consent, device_authorization, device_page, logout, revoke,
    introspect, userinfo, registration, get_session, sign_in, sign_up, sign_out, two_factor,
    auth_other, healthz, readyz, metrics, not_found, count_
};
inline constexpr std::size_t route_count = static_cast<std::size_t>(route::count_);
route route_of(std::string_view path);
std::string_view route_name(route r);

// How a user signed in (or tried to).
enum class login_method : std::uint8_t {
    password, authorize_page, device_page, password_grant, totp, backup_code, invitation_page, count_
};
inline constexpr std::size_t login_method_count = static_cast<std::size_t>(login_method::count_);
std::string_view login_method_name(login_method m);

// Request latency buckets, seconds (upper bounds; one more bucket past the last).
inline constexpr std::array<double, 10> latency_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};

struct idp_metrics {
    using counter = std::atomic<std::uint64_t>;
    std::array<std::array<counter, 5>, route_count> requests{};  // by status class 1xx..5xx
    std::array<std::array<counter, latency_bounds.size() + 1>, route_count> latency{};
    std::array<counter, route_count> latency_micros{};  // the sum
    std::array<counter, login_method_count> logins{}, login_failures{};
    counter sign_ups{}, sign_up_failures{}, rate_limited{}, audit_write_failures{};

    void observe(route r, int status, std::uint64_t micros);
};

// The Prometheus page. `hashing`, `db_queued`, `connections`: the gauges read now.
struct ops_gauges {
    std::size_t hashing_in_flight = 0, hashing_capacity = 0, db_queued = 0, connections = 0;
};
std::string render_metrics(const idp_metrics& m, const ops_gauges& g);
// Several platforms' counters on one page, each sample labelled platform="NAME".
struct platform_metrics {
    std::string_view platform;
    const idp_metrics* metrics;
};
std::string render_metrics(std::span<const platform_metrics> ms, const ops_gauges& g);

// `serve --audit-log FILE`: JSON lines, created 0600 (an existing file is made 0600),
// appended to, one write(2) per event (no buffering in the process: a line is in the
// kernel once write returns; no fsync).
class audit_log {
public:
    audit_log() = default;
    ~audit_log();
    audit_log(const audit_log&) = delete;
    audit_log& operator=(const audit_log&) = delete;
    // Errors: the system error, with diag.client_message naming the file.
    error_code open(const std::string& path, diagnostics& diag);
    bool enabled() const { return fd_ >= 0; }
    // false when the line could not be written whole.
    bool write(const flows::server::audit_event& e);

private:
    int fd_ = -1;
};

struct ops_state {
    idp_metrics metrics;
    audit_log audit;
};

}  // namespace latchkey::idp
