// The invitation page /accept-invitation/<id>, the link of the invitation mail: without a
// session it shows a sign-in form (user name, password, one-time code) that comes back here;
// signed in as the invited address it shows the organization (name escaped), the role and
// the inviter with Accept and Decline. Plain form posts with a CSRF token (page_guard.hpp),
// no scripts. Accepting is the API's single-use step (answer_as_invitee).
#include "organization.hpp"
#include "pages.hpp"

#include <latchkey/flows/server/page_guard.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

constexpr std::string_view page_prefix = "/accept-invitation/";
constexpr std::string_view cookie_path = "/accept-invitation";

// A form back to this page: the CSRF field, `fields` (escaped HTML) and the buttons.
http_response form_page(idp_state& st, int status, const std::string& title, const std::string& id,
                        const std::string& before, const std::string& fields, const std::string& buttons) {
    auto csrf = fs::make_csrf(st.csrf_key);
    const std::string action = local_path(st, page_prefix) + id;
    auto r = page(status, title,
                  before + "<form method=\"post\" action=\"" + fs::html_escape(action) + "\">" +
                      "<input type=\"hidden\" name=\"csrf\" value=\"" + fs::html_escape(csrf.field) + "\">" + fields +
                      "<p>" + buttons + "</p></form>");
    r.headers.emplace_back("Set-Cookie", csrf_set_cookie(st, csrf.cookie, cookie_path));
    return r;
}

http_response sign_in_page(idp_state& st, const std::string& id, const std::string& notice, int status) {
    return form_page(st, status, "Sign in to answer an invitation", id, notice,
                     "<p><label>User name <input name=\"username\" autocomplete=\"username\"></label></p>"
                     "<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label></p>" +
                         std::string(otp_field),
                     "<button name=\"action\" value=\"sign-in\">Sign in</button>");
}

http_response invitation_page(idp_state& st, const fs::invitation_record& inv) {
    const std::string text = "<p>" + fs::html_escape(inv.inviter_email) + " invites you to join <strong id=\"org\">" +
                             fs::html_escape(inv.organization_name) + "</strong> as <strong id=\"role\">" +
                             fs::html_escape(inv.role) + "</strong>.</p>";
    return form_page(st, 200, "Invitation", inv.id, text, "",
                     "<button name=\"action\" value=\"accept\">Accept</button> "
                     "<button name=\"action\" value=\"reject\">Decline</button>");
}

// GET: sign-in form, or the invitation when it is this user's and still open.
boost::asio::awaitable<http_response> show(idp_state& st, const ts::server_request& req, const std::string& id) {
    auto s = co_await current_session(st, req);
    if (!s) co_return storage_error(s.error());
    if (!s->found) co_return sign_in_page(st, id, "", 200);
    std::string key = id;
    auto inv = co_await st.store.find_invitation(std::move(key));
    if (!inv && inv.error() != fs::server_errc::not_found) co_return storage_error(inv.error());
    if (!inv) co_return message_page(404, "Unknown invitation", "This invitation does not exist.");
    if (!fs::invitation_for(*inv, s->found->user))
        co_return message_page(403, "Not your invitation",
                               "This invitation is for another address. Sign out and sign in as the invited user.");
    const auto state = fs::invitation_at(*inv, unix_now());
    if (state == fs::invitation_state::expired)
        co_return message_page(400, "Invitation expired", "This invitation has expired. Ask for a new one.");
    if (state == fs::invitation_state::used)
        co_return message_page(400, "Invitation already answered", "This invitation was already " + inv->status + ".");
    co_return invitation_page(st, *inv);
}

boost::asio::awaitable<http_response> sign_in_here(idp_state& st, const ts::server_request& req, const fs::form& f,
                                                   const std::string& id) {
    if (!st.account_attempts.allow(req.peer_ip, unix_now()))
        co_return message_page(429, "Too many attempts", "Too many sign-in attempts. Wait a minute and try again.");
    auto user = co_await sign_in(st, f);
    if (!user) co_return storage_error(user.error());
    if (!*user) {
        note_sign_in(st, req, login_method::invitation_page, false, {}, f.value_or_empty("username"), "bad_password");
        co_return sign_in_page(st, id, "<p>Wrong user name or password.</p>", 401);
    }
    if (fs::ban_in_force(**user, unix_now()))
        co_return sign_in_page(st, id, "<p>" + fs::html_escape(fs::banned_message(**user)) + "</p>", 403);
    auto second = co_await page_second_factor(st, **user, f.value_or_empty("otp"));
    if (!second) co_return storage_error(second.error());
    if (!second->empty()) {
        note_sign_in(st, req, login_method::invitation_page, false, (*user)->id, (*user)->username, "second_factor");
        co_return sign_in_page(st, id, "<p>" + fs::html_escape(*second) + "</p>", 401);
    }
    note_sign_in(st, req, login_method::invitation_page, true, (*user)->id, (*user)->username);
    auto cookie = co_await start_session(st, req, **user, true);
    if (!cookie) co_return storage_error(cookie.error());
    http_response r;
    r.status = 303;
    r.headers = {{"Location", local_path(st, page_prefix) + id}, {"Cache-Control", "no-store"}, {"Set-Cookie", *cookie}};
    co_return r;
}

boost::asio::awaitable<http_response> submit(idp_state& st, const ts::server_request& req, const std::string& id) {
    auto f = fs::form::parse(req.body);
    if (!f || !csrf_ok(st, req, *f))
        co_return message_page(403, "Request refused", "The form expired or did not come from this site. Reload the page and try again.");
    const auto action = f->value_or_empty("action");
    if (action == "sign-in") co_return co_await sign_in_here(st, req, *f, id);
    if (action != "accept" && action != "reject") co_return message_page(400, "Bad request", "Unknown action.");
    auto s = co_await current_session(st, req);
    if (!s) co_return storage_error(s.error());
    if (!s->found) co_return sign_in_page(st, id, "<p>Your session has ended: sign in again.</p>", 401);
    const bool accept = action == "accept";
    std::string key = id;
    auto done = co_await answer_as_invitee(st, req, *s->found, std::move(key), accept);
    if (!done) co_return storage_error(done.error());
    if (done->status != 200) co_return message_page(done->status, "Invitation not answered", done->message + ".");
    const auto& inv = done->answered.invitation;
    if (!accept) co_return message_page(200, "Invitation declined", "You declined to join " + inv.organization_name + ".");
    co_return message_page(200, "Invitation accepted", "You are now a member of " + inv.organization_name + " (" + inv.role + ").");
}

}  // namespace

boost::asio::awaitable<http_response> accept_invitation_page(idp_state& st, const ts::server_request& req) {
    const std::string id(req.path().substr(page_prefix.size()));
    bool ok = !id.empty() && id.size() <= 64;
    for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
    if (!ok) co_return message_page(404, "Unknown invitation", "This invitation does not exist.");
    if (req.method == http_method::post) co_return co_await submit(st, req, id);
    if (req.method != http_method::get) co_return message_page(405, "Method not allowed", "Use GET or POST.");
    co_return co_await show(st, req, id);
}

}  // namespace latchkey::idp
