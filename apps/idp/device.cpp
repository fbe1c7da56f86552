// RFC 8628 on latch-idp: the device authorization endpoint, the verification page (sign in
// and approve or deny, CSRF-protected, rate limited) and the device_code grant.
#include "idp.hpp"
#include "pages.hpp"
#include "social.hpp"

#include <latchkey/core/random.hpp>
#include <latchkey/flows/server/device_grant.hpp>
#include <latchkey/flows/server/roles.hpp>
#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/token_endpoint.hpp>
#include <latchkey/flows/server/token_hash.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;

namespace {

constexpr std::string_view device_grant = "urn:ietf:params:oauth:grant-type:device_code";

// The first three octets of an IPv4 address, or the first four groups of an IPv6 one:
// "the same network" for the warning on the page.
std::string network_of(const std::string& ip) {
    const bool v6 = ip.find(':') != std::string::npos;
    const char sep = v6 ? ':' : '.';
    const int keep = v6 ? 4 : 3;
    std::size_t pos = 0;
    for (int i = 0; i < keep && pos != std::string::npos; ++i) pos = ip.find(sep, pos == 0 ? 0 : pos + 1);
    return pos == std::string::npos ? ip : ip.substr(0, pos);
}

std::string requester_block(const fs::device_record& d, const std::string& approver_ip, std::int64_t now) {
    std::string b = "<p>A device asks to sign in as you:</p><ul><li>from address " + fs::html_escape(d.requester_ip) +
                    "</li><li>program: " + fs::html_escape(d.requester_ua.substr(0, 200)) + "</li><li>" +
                    std::to_string(now - d.created_at) + " seconds ago</li></ul>";
    if (network_of(d.requester_ip) != network_of(approver_ip))
        b += "<p style=\"color:#b00;font-weight:bold\">Warning: that device is on another network than this "
             "browser. Approve only if you started this sign-in yourself.</p>";
    return b;
}

// The page: the code, then either Approve/Deny for the signed-in user (`signed_in_as`),
// or the user name, password and second factor (and the "Sign in with NAME" links, which
// come back here signed in).
http_response device_form(idp_state& st, const std::string& user_code, const std::string& info,
                          const std::string& signed_in_as, const std::string& social) {
    auto csrf = fs::make_csrf(st.csrf_key);
    const std::string credentials =
        signed_in_as.empty()
            ? "<p><label>User name <input name=\"username\" autocomplete=\"username\"></label></p>"
              "<p><label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\"></label></p>" +
                  std::string(otp_field)
            : "<p>Signed in as " + fs::html_escape(signed_in_as) + ".</p>";
    auto r = page(200, "Sign in a device",
                  info + "<form method=\"post\" action=\"" + local_path(st, "/device") + "\">"
                         "<input type=\"hidden\" name=\"csrf\" value=\"" + fs::html_escape(csrf.field) + "\">"
                         "<p><label>Code <input name=\"user_code\" value=\"" + fs::html_escape(user_code) + "\" autocomplete=\"off\"></label></p>" +
                         credentials +
                         "<p><button name=\"action\" value=\"approve\">Approve</button> "
                         "<button name=\"action\" value=\"deny\">Deny</button></p></form>" +
                         (signed_in_as.empty() ? social : std::string()));
    r.headers.emplace_back("Set-Cookie", csrf_set_cookie(st, csrf.cookie, "/device"));
    return r;
}

http_response too_many_codes() {
    return message_page(429, "Too many attempts", "Too many codes were tried. Wait a minute and try again.");
}

boost::asio::awaitable<http_response> show_form(idp_state& st, const ts::server_request& req) {
    auto q = fs::form::parse(req.query());
    const std::string typed = q ? std::string(q->value_or_empty("user_code")) : std::string{};
    const std::string code = fs::normalize_user_code(typed);
    std::string info;
    if (code.size() == st.user_code_length) {
        // The look-up tells whether a code is pending, so it is an attempt like a submitted
        // code (RFC 8628 §5.1), given back when the code exists: following
        // verification_uri_complete costs the user none.
        const auto now = unix_now();
        if (!st.code_attempts.allow(req.peer_ip, now)) co_return too_many_codes();
        auto d = co_await st.store.find_pending_device(code, now);
        if (d) {
            st.code_attempts.refund(req.peer_ip, now);
            info = requester_block(*d, req.peer_ip, now);
        }
    }
    auto session = co_await current_session(st, req);
    if (!session) co_return storage_error(session.error());
    const std::string signed_in_as = session->found ? session->found->user.username : std::string();
    std::string return_to = code.empty() ? std::string("/device") : "/device?user_code=" + code;
    auto social = co_await social_buttons(st, std::move(return_to));
    auto r = device_form(st, code.empty() ? std::string{} : fs::format_user_code(code), info, signed_in_as, social);
    if (!session->set_cookie.empty()) r.headers.emplace_back("Set-Cookie", std::move(session->set_cookie));
    co_return r;
}

// Who approves: with no user name typed, the signed-in user of this browser (a session
// passed its second factor already); else the name, password and second factor typed.
struct approver {
    std::optional<fs::user_record> user;
    std::optional<http_response> refusal;
};

boost::asio::awaitable<approver> find_approver(idp_state& st, const ts::server_request& req, const fs::form& f,
                                               std::int64_t now) {
    if (f.value_or_empty("username").empty()) {
        auto s = co_await current_session(st, req);
        if (!s) co_return approver{{}, storage_error(s.error())};
        if (s->found) co_return approver{s->found->user, {}};
    }
    auto user = co_await sign_in(st, f);
    if (!user) co_return approver{{}, storage_error(user.error())};
    if (!*user) {
        note_sign_in(st, req, login_method::device_page, false, {}, f.value_or_empty("username"), "bad_password");
        co_return approver{{}, message_page(401, "Sign-in failed", "Wrong user name or password.")};
    }
    if (fs::ban_in_force(**user, now)) co_return approver{{}, message_page(403, "Account banned", fs::banned_message(**user))};
    auto second = co_await page_second_factor(st, **user, f.value_or_empty("otp"));
    if (!second) co_return approver{{}, storage_error(second.error())};
    if (!second->empty()) {
        note_sign_in(st, req, login_method::device_page, false, (*user)->id, (*user)->username, "second_factor");
        co_return approver{{}, message_page(401, "Second factor needed", *second + " Go back and try again.")};
    }
    note_sign_in(st, req, login_method::device_page, true, (*user)->id, (*user)->username);
    co_return approver{std::move(**user), {}};
}

boost::asio::awaitable<http_response> submit_form(idp_state& st, const ts::server_request& req) {
    auto f = fs::form::parse(req.body);
    if (!f || !csrf_ok(st, req, *f))
        co_return message_page(403, "Request refused", "The form expired or did not come from this site. Reload the page and try again.");
    const auto now = unix_now();
    if (!st.code_attempts.allow(req.peer_ip, now)) co_return too_many_codes();
    const std::string code = fs::normalize_user_code(f->value_or_empty("user_code"));
    // No co_await inside a conditional expression: GCC 12 destroys its temporaries twice.
    result<fs::device_record> device = make_error_code(fs::server_errc::not_found);
    if (code.size() == st.user_code_length) device = co_await st.store.find_pending_device(code, now);
    if (!device && device.error() != fs::server_errc::not_found) co_return storage_error(device.error());
    if (!device) co_return message_page(400, "Unknown code", "That code is unknown or has expired.");
    auto who = co_await find_approver(st, req, *f, now);
    if (who.refusal) co_return std::move(*who.refusal);
    const bool approve = f->value_or_empty("action") == "approve";
    // The organization of the approval: the active one of this browser's session, when it is
    // the same user's (the page signs in with a password; a session is optional).
    std::string org;
    auto browser = co_await current_session(st, req);
    if (browser && browser->found && browser->found->user.id == who.user->id)
        org = browser->found->session.active_organization_id;
    std::string user_id = who.user->id;
    auto answered = co_await st.store.answer_device(code, std::move(user_id), approve, now, std::move(org));
    if (!answered) co_return message_page(400, "Unknown code", "That code is unknown or has expired.");
    co_return approve ? message_page(200, "Device approved", "You can close this page and return to your device.")
                      : message_page(200, "Request denied", "The device was not signed in.");
}

}  // namespace

boost::asio::awaitable<http_response> device_page(idp_state& st, const ts::server_request& req) {
    if (req.method == http_method::post) co_return co_await submit_form(st, req);
    co_return co_await show_form(st, req);
}

boost::asio::awaitable<http_response> device_authorization(idp_state& st, const ts::server_request& req) {
    if (req.method != http_method::post) co_return oauth_error(oauth_errc::invalid_request, "POST required");
    auto params = fs::form::parse(req.body);
    if (!params) co_return oauth_error(oauth_errc::invalid_request, "malformed or repeated parameters");
    auto auth = co_await authenticate_request(st, req, *params);
    if (auth.error) co_return std::move(*auth.error);
    const auto& client = *auth.client;
    diagnostics diag;
    if (!client.allows_grant(device_grant))
        co_return oauth_error(oauth_errc::unauthorized_client, "this client may not use the device flow");
    auto scope = fs::grant_scope(params->value_or_empty("scope"), client, diag);
    if (!scope) co_return oauth_error(scope.error(), diag.client_message);
    const auto now = unix_now();
    const secret device_code = fs::make_opaque_token();
    fs::device_record d;
    d.device_code_hash = fs::hash_token(device_code.reveal());
    d.client_id = client.client_id;
    d.scope = *scope;
    d.requester_ip = req.peer_ip;
    d.requester_ua = req.header("User-Agent").substr(0, 300);
    d.created_at = now;
    d.expires_at = now + st.code_limits.code_lifetime.count();
    d.interval = st.config.device_interval;
    error_code ec = make_error_code(fs::server_errc::already_exists);
    for (int i = 0; i < 3 && ec == fs::server_errc::already_exists; ++i) {
        d.user_code = fs::make_user_code(st.user_code_length);
        ec = co_await st.store.put_device(d, static_cast<std::int64_t>(st.code_limits.max_pending_codes));
    }
    if (ec) co_return storage_error(ec);
    boost::json::object o;
    o["device_code"] = device_code.reveal();
    o["user_code"] = fs::format_user_code(d.user_code);
    o["verification_uri"] = st.config.issuer + "/device";
    o["verification_uri_complete"] = st.config.issuer + "/device?user_code=" + d.user_code;
    o["expires_in"] = st.code_limits.code_lifetime.count();
    o["interval"] = st.config.device_interval;
    auto r = json_response(200, boost::json::serialize(o));
    r.headers.emplace_back("Cache-Control", "no-store");
    co_return r;
}

boost::asio::awaitable<http_response> device_code_grant(idp_state& st, const fs::form& params,
                                                        const fs::client_record& client, std::string jkt) {
    if (!client.allows_grant(device_grant))
        co_return oauth_error(oauth_errc::unauthorized_client, "this client may not use the device flow");
    const auto code = params.get("device_code");
    if (!code) co_return oauth_error(oauth_errc::invalid_request, "device_code is missing");
    auto d = co_await st.store.poll_device(fs::hash_token(*code), client.client_id, unix_now());
    if (!d && d.error() == fs::server_errc::not_found) co_return oauth_error(oauth_errc::invalid_grant, "unknown device_code");
    if (!d) co_return storage_error(d.error());
    if (d->outcome != fs::device_poll_outcome::issue)
        co_return oauth_error(fs::device_poll_error(d->outcome), "");
    auto user = co_await grant_user(st, d->updated.user_id);
    if (!user) co_return storage_error(user.error());
    if (!*user) co_return oauth_error(oauth_errc::invalid_grant, "the user no longer exists or is banned");
    const std::string grant = random_urlsafe(16);
    auto org = co_await grant_org(st, d->updated.user_id, d->updated.organization_id);
    if (!org) co_return storage_error(org.error());
    auto token = issue_access_token(st, d->updated.user_id, client.client_id, d->updated.scope, (*user)->role, grant,
                                    *org, jkt);
    if (!token) co_return oauth_error(oauth_errc::server_error, "");
    secret refresh;
    if (fs::wants_refresh_token(client, d->updated.scope)) {
        auto minted = co_await mint_refresh_token(st, client.client_id, d->updated.user_id, d->updated.scope, grant,
                                                  org->id, refresh_binding(client, jkt));
        if (!minted) co_return storage_error(minted.error());
        refresh = std::move(*minted);
    }
    auto body = boost::json::parse(fs::token_response_body(*token, st.config.access_token_ttl, d->updated.scope,
                                                           refresh.reveal(), !jkt.empty())).as_object();
    if (auto ec = add_id_token(st, body, **user, client.client_id, "", d->updated.scope, *org)) co_return storage_error(ec);
    co_return token_response(body);
}

}  // namespace latchkey::idp
