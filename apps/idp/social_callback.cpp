// Social login: the upstream's callback and what follows it (social.hpp). The user is the
// one linked to (provider, upstream sub); else the one with the same email when the upstream
// says it verified it (linked now); an unverified matching email is refused (no link, no
// takeover); else a new user. Then a TOTP-enrolled user is asked for the code, and the
// session starts and the browser continues where it came from.
#include "social.hpp"

#include "authorize.hpp"
#include "better_auth.hpp"
#include "pages.hpp"

#include <latchkey/core/http.hpp>
#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/page_guard.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

// OIDC Core §5.1 email_verified is a boolean; some providers send the string.
bool email_verified(const boost::json::object& claims) {
    const auto* v = claims.if_contains("email_verified");
    if (!v) return false;
    if (v->is_bool()) return v->as_bool();
    return v->is_string() && v->as_string() == "true";
}

struct found_user {
    std::optional<fs::user_record> user;
    int status = 0;  // != 0: refused with `message`
    std::string message, reason;
    bool linked = false, created = false;
};

found_user refused(int status, std::string message, std::string reason) {
    return found_user{{}, status, std::move(message), std::move(reason)};
}

fs::account_record new_account(const std::string& provider, const transport::web_user& u, std::string user_id) {
    return {random_urlsafe(16), std::move(user_id), provider, u.subject, u.issuer, unix_now()};
}

// A new user (and account) for `u`: named by the verified email, else provider:sub.
boost::asio::awaitable<found_user> create_user(idp_state& st, const std::string& provider,
                                               const transport::web_user& u, const std::optional<std::string>& email) {
    std::string display;  // the upstream's `name`, without control characters
    for (char c : u.name.substr(0, 256))
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) display += c;
    fs::user_record user{random_urlsafe(16), email ? *email : provider + ":" + u.subject, "", unix_now(),
                         std::move(display), email.value_or("")};
    auto account = new_account(provider, u, user.id);
    std::optional<fs::user_record> made = user;  // named: no temporary in a co_await (GCC 12)
    auto ec = co_await st.store.link_account(std::move(account), std::move(made));
    if (ec == fs::server_errc::already_exists) {
        // A concurrent callback linked it first, or the name is taken.
        std::string pid = provider, sub = u.subject;
        auto again = co_await st.store.find_account(std::move(pid), std::move(sub));
        if (again) co_return found_user{std::move(again->user)};
        co_return refused(409, "An account named " + user.username + " exists already and could not be linked.",
                          "name_taken");
    }
    if (ec) co_return refused(503, "The server could not save the account; try again.", "storage");
    co_return found_user{std::move(user), 0, {}, {}, true, true};
}

boost::asio::awaitable<found_user> find_or_link(idp_state& st, const std::string& provider,
                                                const transport::web_user& u) {
    std::string pid = provider, sub = u.subject;
    auto linked = co_await st.store.find_account(std::move(pid), std::move(sub));
    if (linked) {
        if (linked->account.issuer != u.issuer)
            co_return refused(403, "This account was linked through another issuer for " + provider + ".", "issuer_changed");
        co_return found_user{std::move(linked->user)};
    }
    if (linked.error() != fs::server_errc::not_found) co_return refused(503, "The server is busy; try again.", "storage");
    const bool verified = email_verified(u.claims);
    const auto email = fs::canonical_email(u.email);
    const std::optional<std::string> no_email, trusted_email = verified ? email : no_email;
    if (!email) co_return co_await create_user(st, provider, u, no_email);
    std::string address = *email;
    auto same = co_await st.store.find_user_by_email(std::move(address));
    if (!same && same.error() != fs::server_errc::not_found)
        co_return refused(503, "The server is busy; try again.", "storage");
    if (!same) co_return co_await create_user(st, provider, u, trusted_email);
    if (!verified)
        co_return refused(403,
                          "An account with the email address " + *email + " exists here, but " + provider +
                              " did not confirm that this address is yours, so the accounts were not linked. "
                              "Sign in with your password instead.",
                          "email_not_verified");
    auto account = new_account(provider, u, same->id);
    std::optional<fs::user_record> no_user;
    auto ec = co_await st.store.link_account(std::move(account), std::move(no_user));
    if (ec && ec != fs::server_errc::already_exists)
        co_return refused(503, "The server could not save the account; try again.", "storage");
    co_return found_user{std::move(*same), 0, {}, {}, true, false};
}

// Where the browser goes once signed in: the page it came from, else a page saying so.
http_response continue_at(const std::string& context, const fs::user_record& user) {
    if (!context.empty()) return redirect_to(context);
    return message_page(200, "Signed in", "You are signed in as " + user.username + ".");
}

http_response add_cookies(http_response r, std::vector<std::string> cookies) {
    for (auto& c : cookies)
        if (!c.empty()) r.headers.emplace_back("Set-Cookie", std::move(c));
    return r;
}

http_response second_factor_form(idp_state& st, const std::string& return_to, const std::string& notice, int status) {
    auto csrf = fs::make_csrf(st.csrf_key);
    auto r = page(status, "Two-factor sign-in",
                  notice + "<form method=\"post\" action=\"" + local_path(st, "/api/auth/social/second-factor") + "\">"
                           "<input type=\"hidden\" name=\"csrf\" value=\"" + fs::html_escape(csrf.field) + "\">"
                           "<input type=\"hidden\" name=\"return_to\" value=\"" + fs::html_escape(return_to) + "\">"
                           "<p><label>One-time code <input name=\"otp\" autocomplete=\"one-time-code\"></label></p>"
                           "<p><button>Continue</button></p></form>",
                  origin_of(return_to));  // a callbackURL on a trusted origin
    r.headers.emplace_back("Set-Cookie", csrf_set_cookie(st, csrf.cookie, "/api/auth/social/second-factor"));
    return r;
}

}  // namespace

boost::asio::awaitable<http_response> social_callback(idp_state& st, const ts::server_request& req,
                                                      const std::string& name) {
    const std::string method = "social:" + name;
    std::string provider = name;
    auto r = co_await ready_social(st, std::move(provider));
    if (!r.login) co_return message_page(r.status, "Sign-in with " + name + " failed", r.message);
    diagnostics diag;
    std::string target = req.target, cookies = req.header("Cookie");
    auto login = r.login;
    auto signed_in = co_await login->async_complete(std::move(target), std::move(cookies), diag);
    if (!signed_in) {
        note_event(st, &req, {.event = "social_sign_in", .ok = false, .reason = "callback_refused", .method = method});
        co_return message_page(transport::web_login_status(signed_in.error()), "Sign-in with " + name + " failed",
                               diag.client_message.empty() ? signed_in.error().message() : diag.client_message);
    }
    const std::string clear_pending = login->clear_cookie();
    auto found = co_await find_or_link(st, name, signed_in->user);
    if (!found.user) {
        note_event(st, &req, {.event = found.reason == "email_not_verified" ? "account_link" : "social_sign_in",
                              .ok = false, .reason = found.reason, .method = method});
        co_return add_cookies(message_page(found.status, "Sign-in with " + name + " refused", found.message),
                              {clear_pending});
    }
    const auto& user = *found.user;
    if (found.created) note_event(st, &req, {.event = "sign_up", .user_id = user.id, .username = user.username, .method = method});
    if (found.linked)
        note_event(st, &req, {.event = "account_link", .user_id = user.id, .username = user.username, .method = method});
    if (fs::ban_in_force(user, unix_now())) {
        note_event(st, &req, {.event = "social_sign_in", .ok = false, .user_id = user.id, .username = user.username,
                              .reason = "banned", .method = method});
        co_return add_cookies(message_page(403, "Account banned", fs::banned_message(user)), {clear_pending});
    }
    auto challenge = co_await begin_second_factor(st, req, user, true);
    if (!challenge) co_return storage_error(challenge.error());
    if (*challenge) {
        note_event(st, &req, {.event = "social_sign_in", .outcome = "second_factor_required", .user_id = user.id,
                              .username = user.username, .method = method});
        auto next = redirect_to(local_path(st, "/api/auth/social/second-factor") + "?return_to=" + url_encode(signed_in->context));
        co_return add_cookies(std::move(next), {clear_pending, std::move(**challenge)});
    }
    auto session = co_await start_session(st, req, user, true);
    if (!session) co_return storage_error(session.error());
    note_event(st, &req, {.event = "social_sign_in", .user_id = user.id, .username = user.username, .method = method});
    co_return add_cookies(continue_at(signed_in->context, user), {clear_pending, std::move(*session)});
}

boost::asio::awaitable<http_response> social_second_factor(idp_state& st, const ts::server_request& req) {
    const bool post = req.method == http_method::post;
    auto f = fs::form::parse(post ? std::string_view(req.body) : req.query());
    if (!f) co_return message_page(400, "Bad request", "Malformed form.");
    const std::string raw_return(f->value_or_empty("return_to"));
    auto context = safe_return_to(st, raw_return);
    if (!context) co_return message_page(400, "Sign-in refused", "The page to return to is not on this site.");
    if (!post) co_return second_factor_form(st, raw_return, "<p>Enter the code from your authenticator app.</p>", 200);
    if (!csrf_ok(st, req, *f))
        co_return message_page(403, "Request refused", "The form expired or did not come from this site. Sign in again.");
    if (!st.account_attempts.allow(req.peer_ip, unix_now()))
        co_return message_page(429, "Too many attempts", "Too many attempts. Wait a minute and try again.");
    auto outcome = co_await complete_page_challenge(st, req, f->value_or_empty("otp"));
    if (!outcome) co_return storage_error(outcome.error());
    if (!outcome->user)
        co_return message_page(400, "Sign-in expired", "This sign-in is no longer waiting for a code. Sign in again.");
    if (!outcome->message.empty())
        co_return second_factor_form(st, raw_return, "<p>" + fs::html_escape(outcome->message) + "</p>", 401);
    co_return add_cookies(continue_at(*context, *outcome->user), std::move(outcome->set_cookies));
}

}  // namespace latchkey::idp
