// latch-idp operations: route names, the counters, the /metrics page, the audit log file.
#include "ops.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

constexpr std::array<std::string_view, route_count> route_names{
    "discovery", "jwks", "token", "authorize", "consent", "device_authorization", "device_page", "logout", "revoke",
    "introspect", "userinfo", "registration", "get_session", "sign_in", "sign_up", "sign_out", "two_factor",
    "auth_other", "healthz", "readyz", "metrics", "not_found"};

constexpr std::array<std::string_view, login_method_count> login_method_names{
    "password", "authorize_page", "device_page", "password_grant", "totp", "backup_code", "invitation_page"};

struct exact_route {
    std::string_view path;
    route r;
};
constexpr exact_route exact_routes[] = {
    {"/oauth2/token", route::token},
    {"/api/auth/get-session", route::get_session},
    {"/api/auth/session", route::get_session},
    {"/.well-known/openid-configuration", route::discovery},
    {"/.well-known/oauth-authorization-server", route::discovery},
    {"/.well-known/jwks.json", route::jwks},
    {"/oauth2/authorize", route::authorize},
    {"/oauth2/consent", route::consent},
    {"/oauth2/device_authorization", route::device_authorization},
    {"/device", route::device_page},
    {"/oauth2/logout", route::logout},
    {"/oauth2/revoke", route::revoke},
    {"/oauth2/introspect", route::introspect},
    {"/oauth2/userinfo", route::userinfo},
    {"/oauth2/register", route::registration},
    {"/api/auth/sign-in/email", route::sign_in},
    {"/api/auth/sign-up/email", route::sign_up},
    {"/api/auth/sign-out", route::sign_out},
    {"/healthz", route::healthz},
    {"/readyz", route::readyz},
    {"/metrics", route::metrics},
};

bool starts_with(std::string_view s, std::string_view prefix) {
    return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

route route_of(std::string_view path) {
    for (const auto& e : exact_routes)
        if (path == e.path) return e.r;
    if (starts_with(path, "/oauth2/register/")) return route::registration;
    if (starts_with(path, "/api/auth/two-factor/")) return route::two_factor;
    if (starts_with(path, "/api/auth/") || starts_with(path, "/accept-invitation/")) return route::auth_other;
    return route::not_found;
}

std::string_view route_name(route r) {
    return route_names[static_cast<std::size_t>(r)];
}

std::string_view login_method_name(login_method m) {
    return login_method_names[static_cast<std::size_t>(m)];
}

void idp_metrics::observe(route r, int status, std::uint64_t micros) {
    const auto i = static_cast<std::size_t>(r);
    const int cls = status / 100 - 1;
    requests[i][static_cast<std::size_t>(cls < 0 ? 0 : cls > 4 ? 4 : cls)].fetch_add(1, std::memory_order_relaxed);
    std::size_t b = 0;
    const double seconds = static_cast<double>(micros) / 1e6;
    while (b < latency_bounds.size() && seconds > latency_bounds[b]) ++b;
    latency[i][b].fetch_add(1, std::memory_order_relaxed);
    latency_micros[i].fetch_add(micros, std::memory_order_relaxed);
}

namespace {

std::uint64_t load(const std::atomic<std::uint64_t>& c) {
    return c.load(std::memory_order_relaxed);
}

// Each family once, then its samples for every platform (labelled when named).
template <class F>
void each_platform(fs::prometheus_text& t, std::span<const platform_metrics> ms, F f) {
    for (const auto& pm : ms) {
        t.set_common_label("platform", pm.platform);
        f(*pm.metrics);
    }
    t.set_common_label("platform", {});
}

void render_requests(fs::prometheus_text& t, std::span<const platform_metrics> ms) {
    static constexpr std::string_view classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
    t.family("latch_idp_http_requests_total", "counter", "HTTP requests answered, by route and status class.");
    each_platform(t, ms, [&](const idp_metrics& m) {
        for (std::size_t r = 0; r < route_count; ++r)
            for (std::size_t c = 0; c < 5; ++c)
                if (auto n = load(m.requests[r][c]))
                    t.sample("latch_idp_http_requests_total", {{"route", route_names[r]}, {"code", classes[c]}}, n);
    });
    t.family("latch_idp_http_request_duration_seconds", "histogram",
             "Time from the request read to the response ready, by route.");
    each_platform(t, ms, [&](const idp_metrics& m) {
        for (std::size_t r = 0; r < route_count; ++r) {
            std::array<std::uint64_t, latency_bounds.size() + 1> counts{};
            std::uint64_t total = 0;
            for (std::size_t b = 0; b < counts.size(); ++b) total += counts[b] = load(m.latency[r][b]);
            if (total == 0) continue;
            t.histogram("latch_idp_http_request_duration_seconds", {{"route", route_names[r]}}, latency_bounds, counts,
                        static_cast<double>(load(m.latency_micros[r])) / 1e6);
        }
    });
}

// A counter family: one sample per platform; by login method: one per method and platform.
void render_counter(fs::prometheus_text& t, std::span<const platform_metrics> ms, std::string_view name,
                    std::string_view help, const idp_metrics::counter idp_metrics::*c) {
    t.family(name, "counter", help);
    each_platform(t, ms, [&](const idp_metrics& m) { t.sample(name, {}, load(m.*c)); });
}

void render_by_method(fs::prometheus_text& t, std::span<const platform_metrics> ms, std::string_view name,
                      std::string_view help, const std::array<idp_metrics::counter, login_method_count> idp_metrics::*c) {
    t.family(name, "counter", help);
    each_platform(t, ms, [&](const idp_metrics& m) {
        for (std::size_t i = 0; i < login_method_count; ++i)
            t.sample(name, {{"method", login_method_names[i]}}, load((m.*c)[i]));
    });
}

void render_logins(fs::prometheus_text& t, std::span<const platform_metrics> ms) {
    render_by_method(t, ms, "latch_idp_logins_total", "Successful sign-ins (and second factors), by method.",
                     &idp_metrics::logins);
    render_by_method(t, ms, "latch_idp_login_failures_total", "Refused sign-ins (and second factors), by method.",
                     &idp_metrics::login_failures);
    render_counter(t, ms, "latch_idp_sign_ups_total", "Accounts created through /api/auth/sign-up/email.",
                   &idp_metrics::sign_ups);
    render_counter(t, ms, "latch_idp_sign_up_failures_total", "Sign-ups refused (address taken, invalid input).",
                   &idp_metrics::sign_up_failures);
    render_counter(t, ms, "latch_idp_rate_limited_total", "Sign-in attempts answered 429 by the attempt limits.",
                   &idp_metrics::rate_limited);
    render_counter(t, ms, "latch_idp_audit_write_failures_total", "Audit lines that could not be written.",
                   &idp_metrics::audit_write_failures);
}

}  // namespace

std::string render_metrics(const idp_metrics& m, const ops_gauges& g) {
    const platform_metrics one[] = {{{}, &m}};
    return render_metrics(one, g);
}

std::string render_metrics(std::span<const platform_metrics> ms, const ops_gauges& g) {
    fs::prometheus_text t;
    render_requests(t, ms);
    render_logins(t, ms);
    t.family("latch_idp_hashing_in_flight", "gauge", "Password hashes waiting or running on the argon2id pool.");
    t.sample("latch_idp_hashing_in_flight", {}, static_cast<std::uint64_t>(g.hashing_in_flight));
    t.family("latch_idp_hashing_capacity", "gauge", "Hashes the pool takes before answering 503.");
    t.sample("latch_idp_hashing_capacity", {}, static_cast<std::uint64_t>(g.hashing_capacity));
    t.family("latch_idp_db_queued", "gauge", "Storage operations waiting or running on the database threads.");
    t.sample("latch_idp_db_queued", {}, static_cast<std::uint64_t>(g.db_queued));
    t.family("latch_idp_open_connections", "gauge", "Client connections open on the main listener.");
    t.sample("latch_idp_open_connections", {}, static_cast<std::uint64_t>(g.connections));
    return t.text();
}

audit_log::~audit_log() {
    if (fd_ >= 0) ::close(fd_);
}

error_code audit_log::open(const std::string& path, diagnostics& diag) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || ::fchmod(fd, 0600) != 0) {
        const int e = errno;
        if (fd >= 0) ::close(fd);
        diag.client_message = "cannot open the audit log " + path + ": " + std::strerror(e);
        return error_code(e, boost::system::system_category());
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
    return {};
}

bool audit_log::write(const fs::audit_event& e) {
    if (fd_ < 0) return true;
    const std::string line = fs::audit_line(e);
    // O_APPEND: one write(2) lands whole at the end of the file (a regular file).
    const ssize_t n = ::write(fd_, line.data(), line.size());
    return n == static_cast<ssize_t>(line.size());
}

}  // namespace latchkey::idp
