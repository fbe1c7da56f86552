// Platform names and request routing (platform_route.hpp).
#include <latchkey/flows/server/platform_route.hpp>

namespace latchkey::flows::server {
namespace {

constexpr std::string_view prefix = "/p/";

bool lower_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

char to_lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = to_lower(c);
    return out;
}

bool all_digits(std::string_view s) {
    if (s.empty() || s.size() > 5) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// A DNS name: labels of [a-z0-9-] (1-63, no '-' at either end) joined by '.'; lowercase input.
bool dns_name(std::string_view s) {
    if (s.empty() || s.size() > 253) return false;
    while (true) {
        const auto dot = s.find('.');
        const auto label = s.substr(0, dot);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (char c : label)
            if (!lower_alnum(c) && c != '-') return false;
        if (dot == std::string_view::npos) return true;
        s.remove_prefix(dot + 1);
    }
}

// A path segment that could mean "here" or "up" to something normalising it later.
bool dot_segment(std::string_view seg) {
    const auto l = lowered(seg);
    return l == "." || l == ".." || l == "%2e" || l == ".%2e" || l == "%2e." || l == "%2e%2e";
}

// The rest of a prefixed target, checked segment by segment (the query is left alone).
bool safe_rest(std::string_view rest) {
    const auto path = rest.substr(0, rest.find('?'));
    if (path.find('\\') != std::string_view::npos) return false;
    std::string_view p = path.substr(1);
    while (true) {
        const auto slash = p.find('/');
        const auto seg = p.substr(0, slash);
        if (dot_segment(seg)) return false;
        if (slash == std::string_view::npos) return true;
        if (seg.empty()) return false;  // "//"
        p.remove_prefix(slash + 1);
    }
}

}  // namespace

bool valid_platform_name(std::string_view name) {
    if (name.empty() || name.size() > max_platform_name || name.front() == '-' || name.back() == '-') return false;
    for (char c : name)
        if (!lower_alnum(c) && c != '-') return false;
    return true;
}

std::optional<std::string> canonical_platform_host(std::string_view host) {
    auto out = lowered(host);
    const auto colon = out.rfind(':');
    const std::string_view name = std::string_view(out).substr(0, colon);
    if (colon != std::string::npos && !all_digits(std::string_view(out).substr(colon + 1))) return std::nullopt;
    if (!dns_name(name)) return std::nullopt;
    return out;
}

std::string host_name_of(std::string_view host_header) {
    auto h = lowered(host_header);
    if (!h.empty() && h.front() == '[') {
        const auto close = h.find(']');
        if (close == std::string::npos) return {};
        const auto after = std::string_view(h).substr(close + 1);
        if (!after.empty() && (after.front() != ':' || !all_digits(after.substr(1)))) return {};
        return h.substr(0, close + 1);
    }
    const auto colon = h.find(':');
    if (colon != std::string::npos) {
        if (!all_digits(std::string_view(h).substr(colon + 1))) return {};
        h.resize(colon);
    }
    if (!h.empty() && h.back() == '.') h.pop_back();  // "auth.acme.example." is the same name
    return h;
}

std::optional<platform_match> route_platform(std::string_view target, std::string_view host_header,
                                             const std::vector<platform_entry>& table) {
    if (target.empty() || target.front() != '/') return std::nullopt;
    const auto host = host_name_of(host_header);
    if (!host.empty())
        for (std::size_t i = 0; i < table.size(); ++i)
            if (!table[i].host.empty() && host_name_of(table[i].host) == host) {
                if (!safe_rest(target)) return std::nullopt;
                return platform_match{i, std::string(target)};
            }
    if (target.substr(0, prefix.size()) != prefix) return std::nullopt;
    const auto after = target.substr(prefix.size());
    const auto end = after.find_first_of("/?");
    const auto name = after.substr(0, end);
    if (!valid_platform_name(name)) return std::nullopt;
    std::string rest;
    if (end == std::string_view::npos) rest = "/";
    else if (after[end] == '?') rest = "/" + std::string(after.substr(end));
    else rest = std::string(after.substr(end));
    if (!safe_rest(rest)) return std::nullopt;
    for (std::size_t i = 0; i < table.size(); ++i)
        if (table[i].host.empty() && table[i].name == name) return platform_match{i, std::move(rest)};
    return std::nullopt;
}

std::string platform_issuer(const platform_entry& p, std::string_view configured, std::string_view listener_url,
                            bool https, unsigned port) {
    std::string out;
    if (!configured.empty()) {
        out = configured;
    } else if (!p.host.empty()) {
        const bool has_port = p.host.find(':') != std::string::npos;
        out = std::string(https ? "https://" : "http://") + p.host;
        if (!has_port && !https) out += ":" + std::to_string(port);
    } else {
        out = std::string(listener_url) + "/p/" + p.name;
    }
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    return out;
}

}  // namespace latchkey::flows::server
