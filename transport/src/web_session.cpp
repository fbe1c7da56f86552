// Cookies and the in-memory session table of web_login.hpp.
#include <latchkey/transport/web_login.hpp>

#include "cookie_table.hpp"

namespace latchkey::transport {

namespace detail {

std::string make_set_cookie(std::string_view name, std::string_view value,
                            std::string_view path, std::chrono::seconds max_age, bool secure) {
    std::string c;
    c.append(name).append("=").append(value);
    c.append("; Path=").append(path.empty() ? "/" : path);
    c.append("; Max-Age=").append(std::to_string(max_age.count()));
    // HttpOnly: no script reads it. SameSite=Lax: sent on the IdP's top-level GET redirect
    // back to us, not on cross-site subrequests or POSTs (RFC 6265bis §5.4.7).
    c.append("; HttpOnly; SameSite=Lax");
    if (secure) c.append("; Secure");
    return c;
}

}  // namespace detail

std::optional<std::string> cookie_value(std::string_view header, std::string_view name) {
    // RFC 6265 §5.4: "name=value" pairs separated by "; ". The first match wins.
    while (!header.empty()) {
        auto semi = header.find(';');
        auto pair = header.substr(0, semi);
        header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
        while (!pair.empty() && (pair.front() == ' ' || pair.front() == '\t')) pair.remove_prefix(1);
        auto eq = pair.find('=');
        if (eq == std::string_view::npos || pair.substr(0, eq) != name) continue;
        auto v = pair.substr(eq + 1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
        return std::string(v);
    }
    return std::nullopt;
}

struct web_sessions::impl {
    impl(clock_port& c, web_session_options o)
        : clock(c), opts(std::move(o)), table(opts.max_sessions, opts.ttl) {}
    clock_port& clock;
    web_session_options opts;
    detail::cookie_table<web_sign_in> table;
};

web_sessions::web_sessions(clock_port& clock, web_session_options opts)
    : impl_(std::make_unique<impl>(clock, std::move(opts))) {}

web_sessions::~web_sessions() = default;

std::string web_sessions::create(web_sign_in s) {
    auto id = impl_->table.insert(std::move(s), impl_->clock.now());
    return detail::make_set_cookie(impl_->opts.cookie_name, id, "/", impl_->opts.ttl,
                                   impl_->opts.secure_cookies);
}

const web_sign_in* web_sessions::find(std::string_view cookie_header) {
    auto id = cookie_value(cookie_header, impl_->opts.cookie_name);
    return id ? impl_->table.find(*id, impl_->clock.now()) : nullptr;
}

std::optional<web_sign_in> web_sessions::take(std::string_view cookie_header) {
    auto id = cookie_value(cookie_header, impl_->opts.cookie_name);
    if (!id) return std::nullopt;
    return impl_->table.take(*id, impl_->clock.now());
}

std::string web_sessions::clear_cookie() const {
    return detail::make_set_cookie(impl_->opts.cookie_name, "", "/", std::chrono::seconds{0},
                                   impl_->opts.secure_cookies);
}

std::size_t web_sessions::size() const noexcept { return impl_->table.size(); }

}  // namespace latchkey::transport
