// latch-idp operations, the pure part: the Prometheus text exposition format (version 0.0.4)
// for /metrics, and the JSON line of one audit-log event. No I/O, no clock.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace latchkey::flows::server {

using metric_labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Builds a Prometheus text page: each family's `# HELP` and `# TYPE` lines, then its
// samples `name{label="value",...} value`. Label values are escaped (\\, \", \n); names are
// the caller's constants ([a-zA-Z_:][a-zA-Z0-9_:]*, not checked).
class prometheus_text {
public:
    // type: "counter", "gauge", "histogram".
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, metric_labels labels, std::uint64_t value);
    void sample(std::string_view name, metric_labels labels, double value);
    // A histogram's samples: `name_bucket{...,le="b"}` (cumulative, then le="+Inf"),
    // `name_sum`, `name_count`. `counts` has one count per bound plus the overflow, each the
    // observations in that bucket alone (not cumulative).
    void histogram(std::string_view name, metric_labels labels, std::span<const double> bounds,
                   std::span<const std::uint64_t> counts, double sum);
    const std::string& text() const { return out_; }
    // A label put first on every sample from now on (e.g. platform="acme"); an empty value
    // removes it.
    void set_common_label(std::string_view name, std::string_view value);

private:
    void head(std::string_view name, metric_labels labels, std::string_view le);
    std::string out_;
    std::string common_;  // `name="value"` or empty
};

std::string prometheus_label_escape(std::string_view v);
// A sample value: integers without a fraction, others in the shortest form that reads back.
std::string prometheus_number(double v);

// One audit event. Empty fields are left out of the line.
struct audit_event {
    std::int64_t time = 0;     // unix seconds
    std::string_view event;    // "sign_in", "sign_up", "two_factor_enable", ...
    std::string_view outcome;  // "success" / "failure"
    std::string_view user_id, username, client_id, ip;
    std::string_view method;  // how: "password", "totp", "authorize_page", ...
    std::string_view reason;  // why it failed, a fixed word of ours
    std::string_view key_id;  // a signing key's kid (key_rotate)
    std::string_view platform;  // the platform's name when serving several
    // Organizations: which one, whom the event is about (a member's user id, an invited
    // address) and the role given.
    std::string_view organization_id, target, role;
};
// {"time":"2026-11-30T06:48:40Z","event":...}\n: one JSON object and a newline. Values go
// through the JSON serializer (control bytes as \u00XX); bytes that are not UTF-8 become
// U+FFFD, so the line is valid JSON and prints safely.
std::string audit_line(const audit_event& e);
// "2026-11-30T06:48:40Z" (UTC).
std::string rfc3339_utc(std::int64_t unix_seconds);

}  // namespace latchkey::flows::server
