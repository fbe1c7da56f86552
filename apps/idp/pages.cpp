// latch-idp's pages (pages.hpp).
#include "pages.hpp"

#include <latchkey/flows/server/page_guard.hpp>
#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {
// A platform under a path prefix has its own name (its cookie prefix), as for the session.
std::string csrf_cookie(const idp_state& st) {
    const std::string name = st.path_prefix.empty() ? "latch_idp_csrf" : st.cookies.prefix + ".latch_idp_csrf";
    return st.https ? "__Secure-" + name : name;
}
}  // namespace

std::string cookie_value(const ts::server_request& req, std::string_view name) {
    const std::string all = req.header("Cookie");
    std::string_view rest = all;
    while (!rest.empty()) {
        const auto semi = rest.find(';');
        auto part = rest.substr(0, semi);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        if (part.size() > name.size() && part.substr(0, name.size()) == name && part[name.size()] == '=')
            return std::string(part.substr(name.size() + 1));
        if (semi == std::string_view::npos) break;
        rest.remove_prefix(semi + 1);
    }
    return {};
}

http_response page(int status, const std::string& title, const std::string& body, std::string_view form_target) {
    http_response r;
    r.status = status;
    r.content_type = "text/html; charset=utf-8";
    r.body = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + fs::html_escape(title) +
             "</title></head><body><h1>" + fs::html_escape(title) + "</h1>" + body + "</body></html>\n";
    // form-action also governs where the answer to a form may redirect (the client).
    const std::string form_action = form_target.empty() ? "'self'" : "'self' " + std::string(form_target);
    r.headers = {{"Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action " +
                                                 form_action + "; frame-ancestors 'none'; base-uri 'none'"},
                 {"X-Frame-Options", "DENY"},
                 {"X-Content-Type-Options", "nosniff"},
                 {"Referrer-Policy", "no-referrer"},
                 {"Cache-Control", "no-store"}};
    return r;
}

http_response message_page(int status, const std::string& title, const std::string& text) {
    return page(status, title, "<p>" + fs::html_escape(text) + "</p>");
}

std::string csrf_set_cookie(const idp_state& st, const std::string& value, std::string_view path) {
    return csrf_cookie(st) + "=" + value + "; Path=" + local_path(st, path) + "; HttpOnly; SameSite=Strict" +
           (st.https ? "; Secure" : "");
}

bool csrf_ok(const idp_state& st, const ts::server_request& req, const fs::form& f) {
    return fs::check_csrf(st.csrf_key, cookie_value(req, csrf_cookie(st)), f.value_or_empty("csrf"));
}

boost::asio::awaitable<result<std::optional<fs::user_record>>> sign_in(idp_state& st, const fs::form& f) {
    return check_password(st, std::string(f.value_or_empty("username")),
                          secret(std::string(f.value_or_empty("password"))));
}

boost::asio::awaitable<result<std::optional<fs::user_record>>> check_password(idp_state& st, std::string username,
                                                                           secret password) {
    auto user = co_await st.store.find_user(std::move(username));
    if (!user && user.error() != fs::server_errc::not_found) co_return user.error();
    // An unknown name is checked against a dummy hash, made once on the hashing pool (not on
    // the io thread: argon2id takes tens of milliseconds).
    if (!user && st.dummy_password_hash.empty()) {
        secret dummy_password("latch-idp-dummy");
        auto made = co_await st.hasher.async_hash(std::move(dummy_password));
        if (!made) co_return made.error();
        st.dummy_password_hash = std::move(*made);
    }
    std::string stored_hash = user ? user->password_hash : st.dummy_password_hash;
    auto ok = co_await st.hasher.async_verify(std::move(stored_hash), std::move(password));
    if (!ok) co_return ok.error();
    if (!user || !*ok) co_return std::optional<fs::user_record>{};
    co_return std::optional<fs::user_record>(std::move(*user));
}

}  // namespace latchkey::idp
