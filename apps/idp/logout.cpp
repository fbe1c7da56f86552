// RP-Initiated Logout 1.0 at /oauth2/logout (the end_session_endpoint): GET or POST with
// id_token_hint, client_id, post_logout_redirect_uri and state. With a valid hint for the
// signed-in user the session ends at once (its row deleted, the cookie cleared) and the
// browser goes back to the client's registered URI with state, or sees our "Signed out"
// page. Without one the user confirms on a CSRF-protected page first, so that a third-party
// page cannot sign users out. An unregistered redirect URI is refused on our page.
#include "authorize.hpp"
#include "pages.hpp"

#include <latchkey/flows/server/consent.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

constexpr std::string_view logout_path = "/oauth2/logout";

std::string claim_string(const json::object& c, std::string_view name) {
    const auto* v = c.if_contains(name);
    if (v && v->is_string()) return std::string(v->as_string());
    if (v && v->is_array() && !v->as_array().empty() && v->as_array()[0].is_string())
        return std::string(v->as_array()[0].as_string());  // aud as an array: its first client
    return {};
}

http_response confirm_page(idp_state& st, const fs::logout_request& r, std::string_view state) {
    auto csrf = fs::make_csrf(st.csrf_key);
    std::string hidden = "<input type=\"hidden\" name=\"csrf\" value=\"" + fs::html_escape(csrf.field) + "\">";
    auto add = [&](const char* name, std::string_view v) {
        if (!v.empty())
            hidden += std::string("<input type=\"hidden\" name=\"") + name + "\" value=\"" +
                      fs::html_escape(v) + "\">";
    };
    add("client_id", r.client ? std::string_view(r.client->client_id) : std::string_view{});
    add("post_logout_redirect_uri", r.redirect_uri);
    add("state", state);
    const std::string who = r.client ? " from " + fs::html_escape(r.client->name) : "";
    auto p = page(200, "Sign out?",
                  "<p>A request" + who + " asks to sign you out of this server.</p><form method=\"post\" action=\"" +
                      local_path(st, logout_path) + "\">" + hidden +
                      "<p><button name=\"action\" value=\"confirm\">Sign out</button> "
                      "<button name=\"action\" value=\"cancel\">Stay signed in</button></p></form>",
                  origin_of(r.redirect_uri));
    p.headers.emplace_back("Set-Cookie", csrf_set_cookie(st, csrf.cookie, logout_path));
    return p;
}

// Ends the request's session (if any) and answers with the redirect or our page.
boost::asio::awaitable<http_response> sign_out(idp_state& st, const ts::server_request& req,
                                               const fs::logout_request& r, std::string_view state) {
    const std::string token = cookie_value(req, fs::session_cookie_name(st.cookies));
    if (!token.empty()) {
        std::string hash = fs::hash_token(token);
        std::string any_user;
        auto deleted = co_await st.store.delete_session(std::move(hash), std::move(any_user));
        if (!deleted) co_return storage_error(deleted.error());
    }
    http_response out = message_page(200, "Signed out", "You are signed out.");
    if (!r.redirect_uri.empty()) {
        std::vector<std::pair<std::string, std::string>> p;
        if (!state.empty()) p.emplace_back("state", std::string(state));
        out = redirect_to(fs::redirect_with(r.redirect_uri, p));
    }
    out.headers.emplace_back("Set-Cookie", fs::session_clear_cookie(st.cookies));
    co_return out;
}

}  // namespace

boost::asio::awaitable<http_response> end_session_endpoint(idp_state& st, const ts::server_request& req) {
    const bool post = req.method == http_method::post;
    if (!post && req.method != http_method::get)
        co_return message_page(405, "Request refused", "Use GET or POST.");
    auto params = fs::form::parse(post ? std::string_view(req.body) : req.query());
    if (!params) co_return message_page(400, "Sign-out refused", "malformed or repeated parameters");
    const bool from_our_page = post && params->get("csrf").has_value();
    if (from_our_page && !csrf_ok(st, req, *params))
        co_return message_page(403, "Request refused", "The form expired or did not come from this site.");
    if (from_our_page && params->value_or_empty("action") != "confirm")
        co_return message_page(200, "Still signed in", "You are still signed in.");

    fs::logout_request r;
    r.confirmed = from_our_page;
    r.client_id = std::string(params->value_or_empty("client_id"));
    r.redirect_uri = std::string(params->value_or_empty("post_logout_redirect_uri"));
    if (auto hint = params->get("id_token_hint")) {
        r.hint_present = true;
        // Our ID tokens only: an access token (RFC 9068, it carries client_id) is not a hint.
        auto claims = our_jwt_claims(st, *hint);
        if (claims && !claims->contains("client_id")) {
            r.hint_valid = true;
            r.hint_sub = claim_string(*claims, "sub");
            r.hint_aud = claim_string(*claims, "aud");
        }
    }
    std::string client_id = r.hint_valid ? r.hint_aud : r.client_id;
    std::optional<fs::client_record> client;
    if (!client_id.empty()) {
        auto found = co_await st.store.find_client(std::move(client_id));
        if (!found && found.error() != fs::server_errc::not_found) co_return storage_error(found.error());
        if (found) client = std::move(*found);
    }
    r.client = client ? &*client : nullptr;
    auto s = co_await current_session(st, req);
    if (!s) co_return storage_error(s.error());
    if (s->found) r.session_user = s->found->user.id;

    const auto state = params->value_or_empty("state");
    const auto decision = fs::decide_logout(r);
    if (decision.action == fs::logout_action::refuse)
        co_return message_page(400, "Sign-out refused", decision.message);
    if (decision.action == fs::logout_action::confirm) co_return confirm_page(st, r, state);
    co_return co_await sign_out(st, req, r, state);
}

}  // namespace latchkey::idp
