#include <latchkey/flows/server/form.hpp>

namespace latchkey::flows::server {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<std::string> form_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%') {
            const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
            const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::optional<form> form::parse(std::string_view body) {
    form f;
    while (!body.empty()) {
        const auto amp = body.find('&');
        const std::string_view pair = body.substr(0, amp);
        body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto name = form_decode(pair.substr(0, eq));
        auto value = form_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!name || !value) return std::nullopt;
        for (const auto& [n, v] : f.params_)
            if (n == *name) return std::nullopt;
        f.params_.emplace_back(std::move(*name), std::move(*value));
    }
    return f;
}

std::optional<std::string_view> form::get(std::string_view name) const {
    for (const auto& [n, v] : params_)
        if (n == name && !v.empty()) return std::string_view(v);
    return std::nullopt;
}

std::string_view form::value_or_empty(std::string_view name) const {
    return get(name).value_or(std::string_view{});
}

}  // namespace latchkey::flows::server
