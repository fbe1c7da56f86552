// Prometheus text exposition and audit lines (ops_text.hpp).
#include <latchkey/flows/server/ops_text.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace latchkey::flows::server {

std::string prometheus_label_escape(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string prometheus_number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

void prometheus_text::family(std::string_view name, std::string_view type, std::string_view help) {
    std::string h;
    for (char c : help) h += c == '\n' ? std::string("\\n") : c == '\\' ? std::string("\\\\") : std::string(1, c);
    out_.append("# HELP ").append(name).append(" ").append(h).append("\n");
    out_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void prometheus_text::set_common_label(std::string_view name, std::string_view value) {
    common_.clear();
    if (!value.empty()) common_.append(name).append("=\"").append(prometheus_label_escape(value)).append("\"");
}

void prometheus_text::head(std::string_view name, metric_labels labels, std::string_view le) {
    out_.append(name);
    if (labels.size() == 0 && le.empty() && common_.empty()) {
        out_ += ' ';
        return;
    }
    out_ += '{';
    out_ += common_;
    bool first = common_.empty();
    for (const auto& [k, v] : labels) {
        if (!first) out_ += ',';
        first = false;
        out_.append(k).append("=\"").append(prometheus_label_escape(v)).append("\"");
    }
    if (!le.empty()) out_.append(first ? "" : ",").append("le=\"").append(le).append("\"");
    out_ += "} ";
}

void prometheus_text::sample(std::string_view name, metric_labels labels, std::uint64_t value) {
    head(name, labels, {});
    out_.append(std::to_string(value)).append("\n");
}

void prometheus_text::sample(std::string_view name, metric_labels labels, double value) {
    head(name, labels, {});
    out_.append(prometheus_number(value)).append("\n");
}

void prometheus_text::histogram(std::string_view name, metric_labels labels, std::span<const double> bounds,
                                std::span<const std::uint64_t> counts, double sum) {
    const std::string base(name);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size() && i < counts.size(); ++i) {
        cumulative += counts[i];
        const std::string le = i < bounds.size() ? prometheus_number(bounds[i]) : "+Inf";
        head(base + "_bucket", labels, le);
        out_.append(std::to_string(cumulative)).append("\n");
    }
    sample(base + "_sum", labels, sum);
    sample(base + "_count", labels, cumulative);
}

namespace {

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not well-formed.
std::size_t utf8_length(std::string_view s, std::size_t i) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size() || (n == 2 && b < 0xC2) || b > 0xF4) return 0;
    for (std::size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return 0;
    const auto b1 = static_cast<unsigned char>(s[i + 1 < s.size() ? i + 1 : i]);
    if (n == 3 && ((b == 0xE0 && b1 < 0xA0) || (b == 0xED && b1 >= 0xA0))) return 0;  // overlong, surrogates
    if (n == 4 && ((b == 0xF0 && b1 < 0x90) || (b == 0xF4 && b1 >= 0x90))) return 0;
    return n;
}

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        const auto n = utf8_length(s, i);
        if (n == 0) {
            out += "\xEF\xBF\xBD";
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

}  // namespace

std::string rfc3339_utc(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string audit_line(const audit_event& e) {
    boost::json::object o;
    o["time"] = rfc3339_utc(e.time);
    const std::pair<const char*, std::string_view> fields[] = {
        {"event", e.event},         {"outcome", e.outcome}, {"user_id", e.user_id}, {"username", e.username},
        {"client_id", e.client_id}, {"ip", e.ip},           {"method", e.method},   {"reason", e.reason},
        {"key_id", e.key_id},       {"platform", e.platform}, {"organization_id", e.organization_id},
        {"target", e.target},       {"role", e.role}};
    for (const auto& [k, v] : fields)
        if (!v.empty()) o[k] = valid_utf8(v);
    return boost::json::serialize(o) + "\n";
}

}  // namespace latchkey::flows::server
