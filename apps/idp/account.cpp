// Better Auth's self-service account calls on latch-idp (/api/auth/*; issue 14), for the
// signed-in user: change-password (the current password checked, other sessions ended on
// request), update-user (the display name), revoke-sessions, revoke-other-sessions and
// delete-user (password checked). Password checks count against the sign-in attempt limits
// and are audited; a password is never echoed or logged.
#include "better_auth.hpp"
#include "idp.hpp"
#include "pages.hpp"

#include <latchkey/flows/server/server_error.hpp>
#include <latchkey/flows/server/session.hpp>

#include <boost/json.hpp>

namespace latchkey::idp {

namespace fs = latchkey::flows::server;
namespace json = boost::json;

namespace {

// The caller's password is right (counted as a sign-in attempt); else the answer.
boost::asio::awaitable<std::optional<http_response>> check_own_password(idp_state& st, const ts::server_request& req,
                                                                        const fs::user_record& user,
                                                                        std::string password) {
    if (!st.account_attempts.allow(req.peer_ip, unix_now()))
        co_return api_error(429, "TOO_MANY_REQUESTS", "Too many requests. Please try again later.");
    std::string name = user.username;
    auto ok = co_await check_password(st, std::move(name), secret(std::move(password)));
    if (!ok) co_return api_failure(ok.error());
    if (!*ok || (**ok).id != user.id) {
        note_sign_in(st, req, login_method::password, false, user.id, user.username, "bad_password");
        co_return api_error(400, "INVALID_PASSWORD", "Invalid password");
    }
    co_return std::nullopt;
}

// Ends the user's sessions except `keep_hash`.
boost::asio::awaitable<error_code> end_sessions(idp_state& st, const fs::user_record& user, std::string keep_hash) {
    std::string owner = user.id;
    auto all = co_await st.store.list_sessions(std::move(owner), unix_now());
    if (!all) co_return all.error();
    for (const auto& s : *all) {
        if (s.token_hash == keep_hash) continue;
        std::string hash = s.token_hash, id = user.id;
        auto gone = co_await st.store.delete_session(std::move(hash), std::move(id));
        if (!gone) co_return gone.error();
    }
    co_return error_code{};
}

// change-password {currentPassword, newPassword, revokeOtherSessions?}: {token: null, user}.
boost::asio::awaitable<http_response> change_password(idp_state& st, const ts::server_request& req,
                                                      const ts::session_use_result& s, const json::object& body) {
    auto next = string_field(body, "newPassword").value_or("");
    if (auto refused = password_refusal(next)) co_return std::move(*refused);
    auto current = string_field(body, "currentPassword").value_or("");
    if (auto refused = co_await check_own_password(st, req, s.user, std::move(current))) co_return std::move(*refused);
    secret pw(std::move(next));
    auto hash = co_await st.hasher.async_hash(std::move(pw));
    if (!hash) co_return api_failure(hash.error());
    fs::user_record u = s.user;
    u.password_hash = std::move(*hash);
    if (auto ec = co_await st.store.update_user(std::move(u))) co_return api_failure(ec);
    if (bool_field(body, "revokeOtherSessions", false))
        if (auto ec = co_await end_sessions(st, s.user, s.session.token_hash)) co_return api_failure(ec);
    note_event(st, &req, {.event = "password_change", .user_id = s.user.id, .username = s.user.username});
    co_return api_json(200, json::object{{"token", nullptr}, {"user", user_json(s.user)}});
}

// update-user {name}: {status: true}. The email changes through an admin (or change-email).
boost::asio::awaitable<http_response> update_self(idp_state& st, const ts::server_request& req,
                                                  const ts::session_use_result& s, const json::object& body) {
    if (body.contains("email"))
        co_return api_error(400, "EMAIL_CAN_NOT_BE_UPDATED", "Email can not be updated");
    if (body.contains("password"))
        co_return api_error(400, "PASSWORD_CAN_NOT_BE_UPDATED", "Use change-password to change the password");
    auto name = string_field(body, "name");
    if (!name) co_return api_error(400, "NO_DATA_TO_UPDATE", "No data to update");
    if (name->size() > 256) co_return api_error(400, "VALIDATION_ERROR", "name is too long");
    fs::user_record u = s.user;
    u.name = *name;
    if (auto ec = co_await st.store.update_user(std::move(u))) co_return api_failure(ec);
    note_event(st, &req, {.event = "user_update", .user_id = s.user.id, .username = s.user.username});
    co_return api_json(200, json::object{{"status", true}});
}

// delete-user {password}: the user and everything of theirs (sessions, refresh tokens,
// second factor, consents) go; the cookie is cleared.
boost::asio::awaitable<http_response> delete_self(idp_state& st, const ts::server_request& req,
                                                  const ts::session_use_result& s, const json::object& body) {
    auto password = string_field(body, "password").value_or("");
    if (password.empty()) co_return api_error(400, "VALIDATION_ERROR", "password is missing");
    if (auto refused = co_await check_own_password(st, req, s.user, std::move(password))) co_return std::move(*refused);
    std::string name = s.user.username;
    if (auto ec = co_await st.store.delete_user(std::move(name))) co_return api_failure(ec);
    note_event(st, &req, {.event = "user_delete", .user_id = s.user.id, .username = s.user.username});
    co_return with_cookie(api_json(200, json::object{{"success", true}, {"message", "User deleted"}}),
                          fs::session_clear_cookie(st.cookies));
}

}  // namespace

bool is_account_path(std::string_view path) {
    return path == "/change-password" || path == "/update-user" || path == "/revoke-sessions" ||
           path == "/revoke-other-sessions" || path == "/delete-user";
}

boost::asio::awaitable<http_response> account_api(idp_state& st, const ts::server_request& req,
                                                  std::string_view path, const json::object& body) {
    auto s = co_await current_session(st, req);
    if (!s) co_return api_failure(s.error());
    if (!s->found) co_return api_error(401, "UNAUTHORIZED", "Unauthorized");
    const ts::session_use_result& me = *s->found;
    http_response answer;
    if (path == "/change-password") {
        answer = co_await change_password(st, req, me, body);
    } else if (path == "/update-user") {
        answer = co_await update_self(st, req, me, body);
    } else if (path == "/delete-user") {
        answer = co_await delete_self(st, req, me, body);
    } else {
        const bool all = path == "/revoke-sessions";
        std::string keep = me.session.token_hash, owner = me.user.id;
        // Every session: one statement; all but this one: each of the others.
        error_code ec;
        if (all)
            ec = co_await st.store.delete_user_sessions(std::move(owner));
        else
            ec = co_await end_sessions(st, me.user, std::move(keep));
        if (ec) co_return api_failure(ec);
        note_event(st, &req, {.event = all ? "sessions_revoke" : "other_sessions_revoke", .user_id = me.user.id,
                              .username = me.user.username});
        answer = api_json(200, json::object{{"status", true}});
        if (all) co_return with_cookie(std::move(answer), fs::session_clear_cookie(st.cookies));
    }
    co_return with_cookie(std::move(answer), std::move(s->set_cookie));
}

}  // namespace latchkey::idp
